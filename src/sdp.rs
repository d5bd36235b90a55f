//! The Session Description Protocol (RFC 8866) as MSRP sessions use it (RFC 4975
//! §8, RFC 7977 §6): the offer and answer of an INVITE that sets up a chat session
//! or a large message (OMA IM).
//!
//! ```text
//! v=0
//! o=- 2890844526 2890844526 IN IP4 alice.invalid
//! s=-
//! c=IN IP4 alice.invalid
//! t=0 0
//! m=message 9 TCP/WSS/MSRP *
//! a=accept-types:text/plain message/cpim
//! a=accept-wrapped-types:*
//! a=max-size:1048576
//! a=path:msrps://alice.invalid:2855/kjhd37s2s20w2a;ws
//! a=setup:active
//! ```
//!
//! [`SessionDescription::parse`] reads any well-formed description (every line kept,
//! in order, so that [`SessionDescription::encode`] writes it back), refusing what
//! RFC 8866 §5 forbids with a typed [`SdpError`]; [`SessionDescription::msrp`] reads
//! the MSRP media of it ([`MsrpMedia`]); [`MsrpMedia::description`] writes an offer
//! or an answer. Limits ([`MAX_SDP_BYTES`], [`MAX_LINES`]) bound what a peer can make
//! us hold.

use core::fmt;

/// The largest description read (bytes).
pub const MAX_SDP_BYTES: usize = 16 * 1024;
/// The most lines read.
pub const MAX_LINES: usize = 256;
/// The media type of a session description.
pub const SDP_CONTENT_TYPE: &str = "application/sdp";
/// The `m=` protocol of MSRP over WebSocket with TLS (RFC 7977 §6); `TCP/WS/MSRP`
/// without TLS.
pub const MSRP_WSS_PROTO: &str = "TCP/WSS/MSRP";

/// Why a description cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// Larger than [`MAX_SDP_BYTES`] or more than [`MAX_LINES`] lines.
    TooLarge,
    /// Not UTF-8 (RFC 8866 §5: the description is UTF-8 text).
    NotUtf8,
    /// A line is not `<type>=<value>` with a single lower-case letter type.
    BadLine {
        /// The line, counted from 1.
        line: usize,
    },
    /// The description does not start with `v=0`.
    BadVersion,
    /// A required session line (`o=`, `s=`, `t=`) is missing.
    Missing(&'static str),
    /// An `o=`, `c=`, `m=` or `t=` line does not have its fields.
    BadField {
        /// The line type: `o`, `c`, `m` or `t`.
        kind: char,
        /// The line, counted from 1.
        line: usize,
    },
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::TooLarge => write!(
                f,
                "session description over {MAX_SDP_BYTES} bytes or {MAX_LINES} lines"
            ),
            SdpError::NotUtf8 => f.write_str("session description is not UTF-8"),
            SdpError::BadLine { line } => {
                write!(f, "SDP line {line} is not <letter>=<value>")
            }
            SdpError::BadVersion => f.write_str("session description does not start with v=0"),
            SdpError::Missing(what) => write!(f, "session description without its {what}= line"),
            SdpError::BadField { kind, line } => {
                write!(f, "SDP {kind}= line {line} lacks its fields")
            }
        }
    }
}

impl std::error::Error for SdpError {}

/// One `<type>=<value>` line, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The type letter (`v`, `o`, `a`, ...).
    pub kind: char,
    /// Everything after `=`.
    pub value: String,
}

/// A media section: its `m=` line and the lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `message`, `audio`, ...
    pub media: String,
    /// The port (9, the discard port, for MSRP: RFC 4975 §8.1).
    pub port: u16,
    /// The protocol, `TCP/MSRP`, `TCP/TLS/MSRP`, `TCP/WSS/MSRP`, ...
    pub proto: String,
    /// The formats (`*` for MSRP).
    pub formats: Vec<String>,
    /// The lines of the section after `m=`, in order.
    pub lines: Vec<Line>,
}

impl Media {
    /// The value of the first `a=name:value` (or `Some("")` for a flag `a=name`).
    pub fn attribute<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.attributes(name).next()
    }

    /// Every value of `a=name`.
    pub fn attributes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.lines
            .iter()
            .filter(|l| l.kind == 'a')
            .filter_map(move |l| {
                let (n, v) = l.value.split_once(':').unwrap_or((l.value.as_str(), ""));
                n.eq_ignore_ascii_case(name).then_some(v.trim())
            })
    }

    /// Whether this is MSRP media (`m=message` with a protocol ending in `/MSRP`).
    pub fn is_msrp(&self) -> bool {
        self.media.eq_ignore_ascii_case("message")
            && self.proto.to_ascii_uppercase().ends_with("/MSRP")
    }
}

/// A session description: the session lines and the media sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The lines before the first `m=`, in order (`v=` first).
    pub session: Vec<Line>,
    /// The media sections.
    pub media: Vec<Media>,
}

fn split_line(raw: &str, line: usize) -> Result<Line, SdpError> {
    let mut chars = raw.chars();
    match (chars.next(), chars.next()) {
        (Some(kind), Some('=')) if kind.is_ascii_lowercase() => Ok(Line {
            kind,
            value: chars.as_str().to_owned(),
        }),
        _ => Err(SdpError::BadLine { line }),
    }
}

impl SessionDescription {
    /// Reads a description. Lines end in CRLF or LF (RFC 8866 §5 asks for CRLF and
    /// tolerates LF); trailing empty lines are ignored.
    pub fn parse(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
        if bytes.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLarge);
        }
        let text = core::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;
        let mut session = Vec::new();
        let mut media: Vec<Media> = Vec::new();
        let mut count = 0;
        for (i, raw) in text.split('\n').enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.is_empty() {
                continue;
            }
            count += 1;
            if count > MAX_LINES {
                return Err(SdpError::TooLarge);
            }
            let line = split_line(raw, i + 1)?;
            if count == 1 && (line.kind != 'v' || line.value != "0") {
                return Err(SdpError::BadVersion);
            }
            if line.kind == 'm' {
                media.push(Self::media_line(&line.value, i + 1)?);
            } else if let Some(m) = media.last_mut() {
                m.lines.push(line);
            } else {
                // RFC 8866 §5.2, §5.7, §5.9: six, three and two fields.
                let needed = match line.kind {
                    'o' => 6,
                    'c' => 3,
                    't' => 2,
                    _ => 0,
                };
                if line.value.split(' ').filter(|f| !f.is_empty()).count() < needed {
                    return Err(SdpError::BadField {
                        kind: line.kind,
                        line: i + 1,
                    });
                }
                session.push(line);
            }
        }
        if session.is_empty() {
            return Err(SdpError::BadVersion);
        }
        for kind in ["o", "s", "t"] {
            if !session.iter().any(|l| kind.starts_with(l.kind)) {
                return Err(SdpError::Missing(kind));
            }
        }
        Ok(SessionDescription { session, media })
    }

    fn media_line(value: &str, line: usize) -> Result<Media, SdpError> {
        let bad = SdpError::BadField { kind: 'm', line };
        let mut fields = value.split(' ').filter(|f| !f.is_empty());
        let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad);
        };
        // `port/count` is allowed (RFC 8866 §5.14); the count does not matter here.
        let port = port
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or(bad.clone())?;
        let formats: Vec<String> = fields.map(str::to_owned).collect();
        if formats.is_empty() {
            return Err(bad);
        }
        Ok(Media {
            media: media.to_owned(),
            port,
            proto: proto.to_owned(),
            formats,
            lines: Vec::new(),
        })
    }

    /// The description as text, CRLF line ends.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let mut put = |kind: char, value: &str| {
            out.push(kind);
            out.push('=');
            out.push_str(value);
            out.push_str("\r\n");
        };
        for l in &self.session {
            put(l.kind, &l.value);
        }
        for m in &self.media {
            let mut value = format!("{} {} {}", m.media, m.port, m.proto);
            for f in &m.formats {
                value.push(' ');
                value.push_str(f);
            }
            put('m', &value);
            for l in &m.lines {
                put(l.kind, &l.value);
            }
        }
        out
    }

    /// The first MSRP media section that is not rejected (port 0 rejects it, RFC
    /// 3264 §6), read as [`MsrpMedia`]; `None` when there is none or it has no
    /// `a=path`.
    pub fn msrp(&self) -> Option<MsrpMedia> {
        let m = self.media.iter().find(|m| m.is_msrp() && m.port != 0)?;
        let path: Vec<String> = m
            .attribute("path")?
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if path.is_empty() {
            return None;
        }
        let list = |name: &str| -> Vec<String> {
            m.attribute(name)
                .map(|v| {
                    v.split(' ')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(MsrpMedia {
            proto: m.proto.clone(),
            path,
            accept_types: list("accept-types"),
            accept_wrapped_types: list("accept-wrapped-types"),
            max_size: m.attribute("max-size").and_then(|v| v.parse().ok()),
            setup: m.attribute("setup").map(|v| v.to_ascii_lowercase()),
        })
    }
}

/// The MSRP media of an offer or answer (RFC 4975 §8, RFC 6135 `a=setup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsrpMedia {
    /// `TCP/WSS/MSRP`, `TCP/MSRP`, ...
    pub proto: String,
    /// `a=path`: the MSRP URIs to reach the endpoint, the relay's first (RFC 4975
    /// §8.2, RFC 4976).
    pub path: Vec<String>,
    /// `a=accept-types` (`*` accepts any type).
    pub accept_types: Vec<String>,
    /// `a=accept-wrapped-types` (types accepted inside `message/cpim`).
    pub accept_wrapped_types: Vec<String>,
    /// `a=max-size`: the largest message accepted, in bytes.
    pub max_size: Option<u64>,
    /// `a=setup` (RFC 6135): `active`, `passive` or `actpass`, lower-cased.
    pub setup: Option<String>,
}

impl MsrpMedia {
    /// A description carrying this media: the session lines around it, with
    /// `host` (an `.invalid` name for a WebSocket client, RFC 7977 §6) in `o=` and
    /// `c=`, and `session_id` / `version` in `o=` (RFC 8866 §5.2).
    pub fn description(&self, host: &str, session_id: u64, version: u64) -> SessionDescription {
        let line = |kind, value: String| Line { kind, value };
        let session = vec![
            line('v', "0".into()),
            line('o', format!("- {session_id} {version} IN IP4 {host}")),
            line('s', "-".into()),
            line('c', format!("IN IP4 {host}")),
            line('t', "0 0".into()),
        ];
        let mut lines = Vec::new();
        let mut attr = |name: &str, values: &[String]| {
            if !values.is_empty() {
                lines.push(line(
                    'a',
                    format!("{name}:{}", crate::message::text::join(values, " ")),
                ));
            }
        };
        attr("accept-types", &self.accept_types);
        attr("accept-wrapped-types", &self.accept_wrapped_types);
        if let Some(max) = self.max_size {
            attr("max-size", &[max.to_string()]);
        }
        attr("path", &self.path);
        if let Some(setup) = &self.setup {
            attr("setup", std::slice::from_ref(setup));
        }
        SessionDescription {
            session,
            media: vec![Media {
                media: "message".into(),
                // RFC 4975 §8.1: the port is ignored; 9 by convention.
                port: 9,
                proto: self.proto.clone(),
                formats: vec!["*".into()],
                lines,
            }],
        }
    }

    /// Whether `content_type` (`type/subtype`, parameters ignored) is one this
    /// endpoint accepts: listed, `type/*` or `*` (RFC 4975 §8.6).
    pub fn accepts(&self, content_type: &str) -> bool {
        let bare = content_type.split(';').next().unwrap_or("").trim();
        let kind = bare.split('/').next().unwrap_or("");
        self.accept_types.iter().any(|t| {
            t == "*"
                || t.eq_ignore_ascii_case(bare)
                || t.strip_suffix("/*")
                    .is_some_and(|k| k.eq_ignore_ascii_case(kind))
        })
    }
}
