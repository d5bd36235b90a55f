//! App work waiting for the flow, and for a registration in progress (each item
//! with a `WorkWait` deadline in the timer table while it waits).

use super::api::OpId;
use super::transaction::Req;
use std::collections::VecDeque;

/// App work that waits for the flow (and for a registration in progress).
#[derive(Debug)]
pub(super) enum Work {
    Publish {
        body: String,
        expires: u32,
        op: OpId,
    },
    Remove(OpId),
    Fetch(OpId),
    History(crate::im::history::HistoryQuery, OpId),
    Watch(OpId),
    Unwatch(OpId),
    Message(Box<Req>, OpId),
    /// A display notification the app asked for (`mark_displayed`).
    DisplayNotice(Box<Req>, OpId),
}

impl Work {
    pub fn op(&self) -> OpId {
        match self {
            Work::Publish { op, .. }
            | Work::Remove(op)
            | Work::Fetch(op)
            | Work::History(_, op)
            | Work::Watch(op)
            | Work::Unwatch(op)
            | Work::Message(_, op)
            | Work::DisplayNotice(_, op) => *op,
        }
    }
}

/// Every job of a part that runs one at a time: the one in flight first, then
/// those waiting (the flow is gone or the client closed).
pub(super) fn take_jobs<J>(in_flight: &mut Option<J>, queued: &mut VecDeque<J>) -> Vec<J> {
    in_flight
        .take()
        .into_iter()
        .chain(queued.drain(..))
        .collect()
}

/// The work waiting, oldest first.
#[derive(Debug, Default)]
pub(super) struct WorkQueue {
    items: VecDeque<Work>,
}

impl WorkQueue {
    pub fn push_back(&mut self, work: Work) {
        self.items.push_back(work);
    }

    pub fn pop_front(&mut self) -> Option<Work> {
        self.items.pop_front()
    }

    /// Takes the work of `op` out of the queue.
    pub fn remove(&mut self, op: OpId) -> Option<Work> {
        let i = self.items.iter().position(|w| w.op() == op)?;
        self.items.remove(i)
    }

    /// Everything waiting (the flow is gone or the client closed).
    pub fn drain(&mut self) -> Vec<Work> {
        self.items.drain(..).collect()
    }
}
