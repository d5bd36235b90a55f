//! Client transactions (RFC 3261 §17.1.2, non-INVITE; and the INVITE's, §17.1.1,
//! which over a reliable transport differs only in its provisional responses and
//! the ACK of a non-2xx, sent by the Sessions part): request building, response
//! matching, Timer F (as Timer B for an INVITE: the same 64·T1). A transaction
//! carries a small [`Usage`] tag saying which part owns it; the owner keeps its
//! own job data.

use super::api::{OpId, SessionId};
use super::credentials::Carried;
use crate::message::{HeaderName, Method, Uri};

/// Which part of the user agent owns a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Usage {
    /// The Registerer's REGISTER (register, refresh or unregister).
    Register,
    /// The REGISTER telling the network its AKA challenge failed (TS 24.229
    /// §5.1.1.5.2); its answer changes nothing.
    MacFailureNotice,
    /// The Publisher's PUBLISH.
    Publish,
    /// The watch subscription's SUBSCRIBE.
    Watch,
    /// One fetch's SUBSCRIBE (Expires 0).
    Fetch(u64),
    /// A pager-mode MESSAGE of the app.
    Message(OpId),
    /// A MESSAGE the user agent sends on its own behalf: a disposition notification
    /// (with the app's `mark_displayed` op, if any) or a composition indication.
    Notice(Notice, Option<OpId>),
    /// An OPTIONS checking the flow (`check_flow`); any answer proves it alive.
    Probe,
    /// A session's INVITE (the Sessions part keeps the app's op).
    Invite(SessionId),
    /// The CANCEL of a session's INVITE: its answer changes nothing, the INVITE's
    /// final response decides (RFC 3261 §9.1).
    Cancel(SessionId),
    /// A session's BYE.
    Bye(SessionId),
}

impl Usage {
    /// The app's operation waiting on this transaction, if any.
    pub fn op(self) -> Option<OpId> {
        match self {
            Usage::Message(op) | Usage::Notice(_, Some(op)) => Some(op),
            _ => None,
        }
    }
}

/// The kinds of MESSAGE the user agent sends by itself. A peer that refuses one
/// (415, 488, 606) gets no more of that kind for the session (RFC 3994 §3.2, RFC
/// 5438 §7: the app's own messages are never affected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Notice {
    /// A disposition notification (`message/imdn+xml` in CPIM).
    Imdn,
    /// A composition indication (`application/im-iscomposing+xml`).
    Composing,
}

/// A request as its owner wants it sent; sent again after a challenge with a new
/// branch and the next CSeq.
#[derive(Debug, Clone)]
pub(super) struct Req {
    pub method: Method,
    pub ruri: Uri,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: u32,
    pub route: Vec<String>,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<(String, Vec<u8>)>,
}

/// One client transaction in flight.
#[derive(Debug)]
pub(super) struct ClientTx {
    /// Names the transaction's Timer F.
    pub id: u64,
    pub branch: String,
    pub req: Req,
    pub usage: Usage,
    /// The credentials the request carried (for telling a refusal from a new
    /// challenge).
    pub carried: Vec<Carried>,
    /// How many times this request was challenged already: a bound so that a core
    /// that challenges every answer with a fresh nonce cannot loop us.
    pub auth_rounds: u8,
    /// The Authorization / Proxy-Authorization headers the request carried: the
    /// ACK of a 2xx repeats the INVITE's (RFC 3261 §13.2.2.4).
    pub credentials: Vec<(HeaderName, String)>,
}

/// A request is sent again after at most this many challenges.
pub(super) const MAX_AUTH_ROUNDS: u8 = 3;

/// The transactions in flight.
#[derive(Debug, Default)]
pub(super) struct Transactions {
    list: Vec<ClientTx>,
    next_id: u64,
}

impl Transactions {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn push(&mut self, tx: ClientTx) {
        self.list.push(tx);
    }

    /// The transaction a response belongs to: top Via branch and CSeq method
    /// (RFC 3261 §17.1.3).
    pub fn take_matching(&mut self, branch: &str, method: &Method) -> Option<ClientTx> {
        let i = self
            .list
            .iter()
            .position(|t| t.branch == branch && t.req.method == *method)?;
        Some(self.list.swap_remove(i))
    }

    /// The owner of the transaction a response would match.
    pub fn usage_of(&self, branch: &str, method: &Method) -> Option<Usage> {
        self.list
            .iter()
            .find(|t| t.branch == branch && t.req.method == *method)
            .map(|t| t.usage)
    }

    /// The transaction in flight for `usage` (a session's INVITE, to cancel it).
    pub fn find(&self, usage: Usage) -> Option<&ClientTx> {
        self.list.iter().find(|t| t.usage == usage)
    }

    pub fn take(&mut self, id: u64) -> Option<ClientTx> {
        let i = self.list.iter().position(|t| t.id == id)?;
        Some(self.list.swap_remove(i))
    }

    /// Every transaction, oldest first (the flow is gone).
    pub fn drain(&mut self) -> Vec<ClientTx> {
        std::mem::take(&mut self.list)
    }
}
