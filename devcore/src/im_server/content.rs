//! What an incoming MESSAGE carries, as far as the IM Server's rules care,
//! read once from its `Content-Type` and, for a `message/cpim` envelope
//! (RFC 3862), from the envelope's own headers. The body itself is never
//! changed: every MESSAGE is relayed, stored and delivered byte for byte.

use imsip::im::cpim::{CpimMessage, CPIM_CONTENT_TYPE};
use imsip::im::imdn::{
    DispositionRequest, CPIM_NS, DISPOSITION_NOTIFICATION_HEADER, MESSAGE_ID_HEADER,
    MESSAGE_IMDN_CONTENT_TYPE,
};
use imsip::im::iscomposing::ISCOMPOSING_CONTENT_TYPE;
use imsip::message::{HeaderName, MediaType, Message};

/// The kind of content, which decides what the IM Server keeps of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentKind {
    /// What a user wrote or sent: text, a file, a CPIM envelope around them,
    /// and anything that cannot be read (an undecodable CPIM body, a
    /// malformed Content-Type): unreadable content is still the user's
    /// content, relayed and kept as such.
    Chat,
    /// A disposition notification (RFC 5438): `message/imdn+xml`, in CPIM as
    /// RFC 5438 asks or bare. Its sender's peer is waiting for it, so it is
    /// relayed and stored like a message; it is not chat text, so it stays
    /// out of the history.
    DispositionNotification,
    /// A composition indication (RFC 3994, `application/im-iscomposing+xml`),
    /// bare or in CPIM. It is stale by the time an offline user comes back
    /// (RFC 3994 §3.3: receivers time the "active" state out), so it is never
    /// stored, and it stays out of the history.
    ComposingIndication,
}

/// A chat message's request for disposition notifications (RFC 5438): the
/// IMDN headers of its CPIM envelope, prefixes resolved through its `NS`
/// headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImdnRequest {
    /// `imdn.Message-ID`: what every notification about it names.
    pub message_id: String,
    /// The envelope's `DateTime` as written, copied into every notification
    /// (RFC 5438 §7.2.1); `None` when absent or not RFC 3339.
    pub date_time: Option<String>,
    /// `imdn.Disposition-Notification`: the notifications asked for.
    pub wants: DispositionRequest,
    /// The envelope's `From` URI: where notifications go (RFC 5438 sends
    /// them to the CPIM sender); `None` when absent or unreadable.
    pub sender: Option<String>,
}

/// An incoming MESSAGE's content as the IM Server's rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageContent {
    /// What it is.
    pub kind: ContentKind,
    /// For a chat message in CPIM that names itself (`imdn.Message-ID`) and
    /// asks for at least one notification: that request.
    pub imdn: Option<ImdnRequest>,
}

impl MessageContent {
    /// The content of `req`, by its `Content-Type` header and body.
    pub fn of(req: &Message) -> MessageContent {
        let content_type = req.header(HeaderName::ContentType).unwrap_or_default();
        MessageContent::classify(content_type, req.body())
    }

    /// The content of a body of `content_type` (as written; empty when the
    /// request had none). Never fails: what cannot be read is chat content.
    pub fn classify(content_type: &str, body: &[u8]) -> MessageContent {
        let chat = MessageContent {
            kind: ContentKind::Chat,
            imdn: None,
        };
        let Ok(outer) = MediaType::parse(content_type, "Content-Type") else {
            return chat;
        };
        if !outer.is(CPIM_CONTENT_TYPE) {
            return MessageContent {
                kind: kind_of(&outer),
                imdn: None,
            };
        }
        let Ok(cpim) = CpimMessage::decode(body) else {
            return chat;
        };
        let kind = cpim
            .media_type()
            .map_or(ContentKind::Chat, |inner| kind_of(&inner));
        // RFC 5438: notifications are never requested for notifications (nor
        // would one be answered for a typing indication).
        let imdn = (kind == ContentKind::Chat)
            .then(|| imdn_request(&cpim))
            .flatten();
        MessageContent { kind, imdn }
    }
}

/// The kind a (non-CPIM) media type names.
fn kind_of(media: &MediaType) -> ContentKind {
    if media.is(MESSAGE_IMDN_CONTENT_TYPE) {
        ContentKind::DispositionNotification
    } else if media.is(ISCOMPOSING_CONTENT_TYPE) {
        ContentKind::ComposingIndication
    } else {
        ContentKind::Chat
    }
}

/// The IMDN request of a CPIM chat message: `None` without a Message-ID (a
/// notification could not name the message) or when nothing is asked for.
fn imdn_request(cpim: &CpimMessage) -> Option<ImdnRequest> {
    let message_id = cpim.header(CPIM_NS, MESSAGE_ID_HEADER)?.trim().to_owned();
    let wants = DispositionRequest::parse(&cpim.header(CPIM_NS, DISPOSITION_NOTIFICATION_HEADER)?);
    if message_id.is_empty() || wants.is_empty() {
        return None;
    }
    Some(ImdnRequest {
        message_id,
        date_time: cpim.date_time_text().map(str::to_owned),
        wants,
        sender: cpim.from().map(|a| a.uri),
    })
}
