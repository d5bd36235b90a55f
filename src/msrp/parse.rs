//! Reading frames out of a byte stream (RFC 4975 §9 framing).
//!
//! MSRP frames are not length-prefixed: the header section ends with a blank line
//! (a body follows) or with the end-line itself (no body), and a body ends at the
//! first `CRLF -------<tid><flag> CRLF` of its own transaction id. Over WebSocket
//! (RFC 7977) a message normally carries one whole frame, but nothing here assumes
//! it: [`parse_frame`] takes whatever bytes have arrived and answers with a frame and
//! how many bytes it used, or [`Parsed::NeedMore`]; [`Decoder`] keeps the bytes
//! between calls.

use super::frame::{ContinuationFlag, Frame, Method, StartLine};
use super::headers::{Header, CONTENT_TYPE, FROM_PATH, TO_PATH};
use super::ident::{is_token, is_utf8text, trim_wsp, END_PREFIX};
use super::uri::parse_path;
use super::{MsrpError, MsrpUri, TransactionId, MAX_BODY_BYTES, MAX_HEADERS, MAX_HEADER_BYTES};

/// What [`parse_frame`] found at the start of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole frame, which took the first `consumed` bytes of the buffer.
    Complete {
        /// The frame.
        frame: Frame,
        /// How many bytes of the buffer it took (more frames may follow).
        consumed: usize,
    },
    /// The buffer holds the beginning of a frame (or nothing): wait for more bytes.
    NeedMore,
}

/// Reads the frame at the start of `buf`, which may hold part of a frame, exactly one,
/// or one followed by more bytes.
///
/// Errors are final for the stream: MSRP has no way to find the next frame after a
/// malformed one, so the connection should be closed (RFC 4975 §7.3's 400 needs a
/// readable transaction id). A prefix of a valid frame always gives
/// [`Parsed::NeedMore`], never an error.
pub fn parse_frame(buf: &[u8]) -> Result<Parsed, MsrpError> {
    Ok(match parse_at(buf, 0)? {
        Step::Done { frame, consumed } => Parsed::Complete { frame, consumed },
        Step::NeedMore { .. } => Parsed::NeedMore,
    })
}

impl Frame {
    /// Reads a buffer that holds exactly one frame (one WebSocket message, say).
    /// Errors: those of [`parse_frame`], [`MsrpError::MissingEndLine`] when the bytes
    /// stop before the end of the frame, [`MsrpError::TrailingData`] when more follow.
    pub fn parse(bytes: &[u8]) -> Result<Frame, MsrpError> {
        match parse_frame(bytes)? {
            Parsed::Complete { frame, consumed } if consumed == bytes.len() => Ok(frame),
            Parsed::Complete { consumed, .. } => Err(MsrpError::TrailingData {
                extra: bytes.len() - consumed,
            }),
            Parsed::NeedMore => Err(MsrpError::MissingEndLine),
        }
    }
}

/// Frames out of a byte stream: [`Decoder::push`] what arrives (a WebSocket message,
/// a TCP read), then call [`Decoder::next_frame`] until it gives `Ok(None)`.
///
/// It keeps only the bytes of frames not yet returned, and remembers how far it has
/// searched a body for its end-line, so a large body arriving in small pieces is
/// scanned once. After an error it gives the same error again: close the connection.
/// Call `next_frame` after each `push`: the limits ([`MAX_HEADER_BYTES`],
/// [`MAX_BODY_BYTES`]) are checked there.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Where the end-line search resumes in `buf` (0: from the body's start).
    resume: usize,
    failed: Option<MsrpError>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Appends bytes received.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when the bytes so far end inside one.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, MsrpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match parse_at(&self.buf, self.resume) {
            Ok(Step::Done { frame, consumed }) => {
                self.buf.drain(..consumed.min(self.buf.len()));
                self.resume = 0;
                Ok(Some(frame))
            }
            Ok(Step::NeedMore { resume }) => {
                self.resume = resume;
                Ok(None)
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// How many bytes are held (the start of a frame not complete yet).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

enum Step {
    Done {
        frame: Frame,
        consumed: usize,
    },
    /// `resume`: every end-line candidate before it has been ruled out.
    NeedMore {
        resume: usize,
    },
}

/// How the header section ended.
enum HeadEnd {
    /// A blank line: the body starts at this offset.
    Body(usize),
    /// The end-line: no body; the frame ends at this offset.
    EndLine(ContinuationFlag, usize),
}

struct Head {
    tid: TransactionId,
    start: StartLine,
    to_path: Vec<MsrpUri>,
    from_path: Vec<MsrpUri>,
    headers: Vec<Header>,
    content_type: Option<String>,
    end: HeadEnd,
}

const MAGIC: &[u8] = b"MSRP ";

/// `resume`: offset before which the body's end-line candidates are known not to
/// match (from an earlier call on a shorter prefix of the same bytes).
fn parse_at(buf: &[u8], resume: usize) -> Result<Step, MsrpError> {
    let Some(head) = parse_head(buf)? else {
        return Ok(Step::NeedMore { resume: 0 });
    };
    let (body, flag, consumed) = match head.end {
        HeadEnd::EndLine(flag, consumed) => (None, flag, consumed),
        HeadEnd::Body(body_start) => match find_end_line(buf, body_start, &head.tid, resume)? {
            Found::Yes {
                body_end,
                flag,
                consumed,
            } => (
                Some(buf.get(body_start..body_end).unwrap_or_default().to_vec()),
                flag,
                consumed,
            ),
            Found::NeedMore { resume } => return Ok(Step::NeedMore { resume }),
        },
    };
    Ok(Step::Done {
        frame: Frame {
            tid: head.tid,
            start: head.start,
            to_path: head.to_path,
            from_path: head.from_path,
            headers: head.headers,
            content_type: head.content_type,
            body,
            flag,
        },
        consumed,
    })
}

/// Reads the start line and headers; `None` when they are not all there yet.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, MsrpError> {
    let seen = buf.len().min(MAGIC.len());
    if buf.get(..seen) != MAGIC.get(..seen) {
        return Err(MsrpError::BadStartLine("does not start with `MSRP `"));
    }
    // The whole header section, its last CRLF included, lies in the first
    // MAX_HEADER_BYTES bytes.
    let window = buf
        .get(..buf.len().min(MAX_HEADER_BYTES))
        .unwrap_or_default();
    let mut lines = Lines {
        window,
        pos: 0,
        number: 0,
    };
    let too_large = buf.len() >= MAX_HEADER_BYTES;
    let need_more = |too_large| {
        if too_large {
            Err(MsrpError::HeadersTooLarge {
                max: MAX_HEADER_BYTES,
            })
        } else {
            Ok(None)
        }
    };

    let Some(first) = lines.next()? else {
        return need_more(too_large);
    };
    let first = core::str::from_utf8(first).map_err(|_| MsrpError::NotUtf8 { line: 1 })?;
    let (tid, start) = parse_start_line(first)?;

    let mut to_path = None;
    let mut from_path = None;
    let mut content_type = None;
    let mut headers = Vec::new();
    let mut count = 0;
    let end = loop {
        let Some(line) = lines.next()? else {
            return need_more(too_large);
        };
        let line_no = lines.number;
        if line.is_empty() {
            break HeadEnd::Body(lines.pos);
        }
        if let Some(rest) = line.strip_prefix(END_PREFIX) {
            // RFC 4975 §9: a header name starts with a letter, so this is an end-line.
            let (id, flag) = rest.split_at(rest.len().saturating_sub(1));
            let flag = flag
                .first()
                .and_then(|&b| ContinuationFlag::from_byte(b))
                .ok_or(MsrpError::BadEndLine)?;
            if id != tid.as_str().as_bytes() {
                let other_tid = core::str::from_utf8(id).is_ok_and(super::is_ident);
                return Err(if other_tid {
                    MsrpError::EndLineMismatch
                } else {
                    MsrpError::BadEndLine
                });
            }
            break HeadEnd::EndLine(flag, lines.pos);
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(MsrpError::TooManyHeaders { max: MAX_HEADERS });
        }
        let line = core::str::from_utf8(line).map_err(|_| MsrpError::NotUtf8 { line: line_no })?;
        let bad_line = MsrpError::BadHeaderLine { line: line_no };
        let (name, value) = line.split_once(':').ok_or(bad_line.clone())?;
        let name = crate::message::text::trim_end(name);
        let value = trim_wsp(value);
        // RFC 4975 §9 `hname = ALPHA *token`, `hval = utf8text`.
        if !is_token(name)
            || !name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            || !is_utf8text(value)
        {
            return Err(bad_line);
        }
        if name.eq_ignore_ascii_case(TO_PATH) {
            set_once(&mut to_path, parse_path(value, TO_PATH)?, TO_PATH)?;
        } else if name.eq_ignore_ascii_case(FROM_PATH) {
            set_once(&mut from_path, parse_path(value, FROM_PATH)?, FROM_PATH)?;
        } else if name.eq_ignore_ascii_case(CONTENT_TYPE) {
            set_once(&mut content_type, value.to_owned(), CONTENT_TYPE)?;
        } else {
            headers.push(Header {
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
    };
    Ok(Some(Head {
        tid,
        start,
        to_path: to_path.ok_or(MsrpError::MissingHeader(TO_PATH))?,
        from_path: from_path.ok_or(MsrpError::MissingHeader(FROM_PATH))?,
        headers,
        content_type,
        end,
    }))
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), MsrpError> {
    if slot.is_some() {
        return Err(MsrpError::DuplicateHeader(name));
    }
    *slot = Some(value);
    Ok(())
}

/// The CRLF-terminated lines of the header section.
struct Lines<'a> {
    window: &'a [u8],
    /// Offset just after the last line returned.
    pos: usize,
    /// Number of the last line returned, from 1.
    number: usize,
}

impl<'a> Lines<'a> {
    /// The next line without its CRLF; `None` when it has not arrived whole. A bare LF
    /// is an error (MSRP lines end with CRLF); a bare CR inside a line is caught as a
    /// control character by the caller.
    fn next(&mut self) -> Result<Option<&'a [u8]>, MsrpError> {
        let rest = self.window.get(self.pos..).unwrap_or_default();
        let Some(lf) = memchr::memchr(b'\n', rest) else {
            return Ok(None);
        };
        self.number += 1;
        let line = rest.get(..lf).unwrap_or_default();
        let Some(line) = line.strip_suffix(b"\r") else {
            return Err(if self.number == 1 {
                MsrpError::BadStartLine("line ends with LF, not CRLF")
            } else {
                MsrpError::BadHeaderLine { line: self.number }
            });
        };
        self.pos += lf + 1;
        Ok(Some(line))
    }
}

/// `MSRP SP transact-id SP method` or `MSRP SP transact-id SP status-code [SP comment]`
/// (RFC 4975 §9 `req-start`, `resp-start`).
fn parse_start_line(line: &str) -> Result<(TransactionId, StartLine), MsrpError> {
    let rest = line.strip_prefix("MSRP ").unwrap_or_default();
    let (tid, after) = rest.split_once(' ').ok_or(MsrpError::BadStartLine(
        "no method or status code after the transaction id",
    ))?;
    let tid = TransactionId::new(tid)?;
    let b = after.as_bytes();
    let is_status = b.len() >= 3
        && b.iter().take(3).all(u8::is_ascii_digit)
        && matches!(b.get(3), None | Some(b' '));
    let start = if is_status {
        let code = after
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or(MsrpError::BadStartLine("status code is not three digits"))?;
        let comment = trim_wsp(after.get(3..).unwrap_or_default());
        if !is_utf8text(comment) {
            return Err(MsrpError::BadStartLine("control character in the comment"));
        }
        StartLine::Response {
            code,
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        }
    } else {
        StartLine::Request(Method::parse(after).ok_or(MsrpError::BadStartLine(
            "method is not upper-case letters, nor a status code three digits",
        ))?)
    };
    Ok((tid, start))
}

enum Found {
    Yes {
        body_end: usize,
        flag: ContinuationFlag,
        consumed: usize,
    },
    NeedMore {
        resume: usize,
    },
}

/// Whether `buf[at..]` holds an end-line (`-------<tid><flag>CRLF`): `Some(Some(flag))`
/// if so, `Some(None)` if it cannot, `None` if the bytes so far could still become one.
fn end_line_at(buf: &[u8], at: usize, tid: &[u8]) -> Option<Option<ContinuationFlag>> {
    let rest = buf.get(at..).unwrap_or_default();
    let dashes = rest.len().min(END_PREFIX.len());
    if rest.get(..dashes) != END_PREFIX.get(..dashes) {
        return Some(None);
    }
    let rest = rest.get(END_PREFIX.len()..)?;
    let n = rest.len().min(tid.len());
    if rest.get(..n) != tid.get(..n) {
        return Some(None);
    }
    let after = rest.get(tid.len()..)?;
    let Some(flag) = ContinuationFlag::from_byte(*after.first()?) else {
        return Some(None);
    };
    match (after.get(1), after.get(2)) {
        (Some(b'\r'), Some(b'\n')) => Some(Some(flag)),
        (Some(b'\r'), None) | (None, _) => None,
        _ => Some(None),
    }
}

/// Finds the end of the body that starts at `body_start`: the first `CRLF` end-line of
/// `tid` at most [`MAX_BODY_BYTES`] after it, or an end-line right at `body_start` (a
/// blank line and no data: some stacks write an empty body so, and the RFC 4975 §9
/// `CRLF` after the data is then missing).
///
/// `resume`: candidates before it were ruled out by an earlier call.
fn find_end_line(
    buf: &[u8],
    body_start: usize,
    tid: &TransactionId,
    resume: usize,
) -> Result<Found, MsrpError> {
    let tid = tid.as_str().as_bytes();
    // `-------<tid><flag>CRLF`.
    let line_len = END_PREFIX.len() + tid.len() + 3;
    if resume <= body_start {
        match end_line_at(buf, body_start, tid) {
            Some(Some(flag)) => {
                return Ok(Found::Yes {
                    body_end: body_start,
                    flag,
                    consumed: body_start + line_len,
                })
            }
            Some(None) => {}
            None => return Ok(Found::NeedMore { resume: body_start }),
        }
    }
    // The CR of the CRLF that ends the data may sit at most MAX_BODY_BYTES after its
    // start: later ones are not looked at.
    let last_cr = body_start.saturating_add(MAX_BODY_BYTES);
    let region = buf.get(..buf.len().min(last_cr + 1)).unwrap_or_default();
    let mut from = resume.max(body_start);
    while let Some(i) = region.get(from..).and_then(|h| memchr::memchr(b'\r', h)) {
        let cr = from + i;
        match buf.get(cr + 1) {
            None => return Ok(Found::NeedMore { resume: cr }),
            Some(b'\n') => match end_line_at(buf, cr + 2, tid) {
                Some(Some(flag)) => {
                    return Ok(Found::Yes {
                        body_end: cr,
                        flag,
                        consumed: cr + 2 + line_len,
                    })
                }
                Some(None) => {}
                None => return Ok(Found::NeedMore { resume: cr }),
            },
            Some(_) => {}
        }
        from = cr + 1;
    }
    if buf.len() > last_cr {
        return Err(MsrpError::BodyTooLarge {
            max: MAX_BODY_BYTES,
        });
    }
    Ok(Found::NeedMore { resume: buf.len() })
}
