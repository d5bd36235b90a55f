//! App work waiting for the flow, and for a registration in progress (each item
//! with a `WorkWait` deadline in the timer table while it waits).

use super::api::{OpId, SessionId};
use super::transaction::Req;

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
    /// A session's INVITE (`start_session`): built when it goes, with the Contact
    /// and Route of the registration then in force.
    Invite(SessionId, OpId),
    /// A session's BYE (`end_session`).
    Bye(SessionId, OpId),
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
            | Work::DisplayNotice(_, op)
            | Work::Invite(_, op)
            | Work::Bye(_, op) => *op,
        }
    }
}

/// Every job of a part that runs one at a time: the one in flight first, then
/// those waiting (the flow is gone or the client closed).
pub(super) fn take_jobs<J>(in_flight: &mut Option<J>, queued: &mut Vec<J>) -> Vec<J> {
    // No iterator chain: its collect is instantiated per job type.
    let mut jobs = std::mem::take(queued);
    if let Some(job) = in_flight.take() {
        jobs.insert(0, job);
    }
    jobs
}

/// The work waiting, oldest first.
#[derive(Debug, Default)]
pub(super) struct WorkQueue {
    items: Vec<Work>,
}

impl WorkQueue {
    pub fn push(&mut self, work: Work) {
        self.items.push(work);
    }

    pub fn pop_front(&mut self) -> Option<Work> {
        self.items.pop_front()
    }

    /// Takes the work of `op` out of the queue.
    pub fn remove(&mut self, op: OpId) -> Option<Work> {
        let i = self.items.iter().position(|w| w.op() == op)?;
        Some(self.items.remove(i))
    }

    /// Everything waiting (the flow is gone or the client closed).
    pub fn drain(&mut self) -> Vec<Work> {
        std::mem::take(&mut self.items)
    }
}

/// First-in first-out on a vector. The queues of the user agent hold a handful of
/// items, and a vector's code is a fraction of a ring buffer's in the wasm build.
pub(crate) trait Fifo<T> {
    /// Removes and returns the oldest item.
    fn pop_front(&mut self) -> Option<T>;
    /// Puts `item` first.
    fn push_front(&mut self, item: T);
}

impl<T> Fifo<T> for Vec<T> {
    fn pop_front(&mut self) -> Option<T> {
        (!self.is_empty()).then(|| self.remove(0))
    }

    fn push_front(&mut self, item: T) {
        self.insert(0, item);
    }
}
