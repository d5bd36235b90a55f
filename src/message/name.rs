//! Header field names: case-insensitive, with the compact forms of RFC 3261 §7.3.3
//! and the extensions that registered them.

use core::fmt;

/// Longer than every known header name: a longer name is an extension header.
const MAX_KNOWN_LEN: usize = 24;

/// `s` lower-cased (ASCII), as an array: the known names, at compile time.
const fn ascii_lower<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N && i < b.len() {
        out[i] = b[i].to_ascii_lowercase();
        i += 1;
    }
    out
}

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ; )*) => {
        /// A header field name. Known names are recognised whatever their case or
        /// compact form; any other name is [`HeaderName::Other`] and is kept verbatim.
        #[derive(Debug, Clone, Eq)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canon, "`")]
                $variant,
            )*
            /// A header this crate has no typed read for, spelled as received.
            Other(Box<str>),
        }

        /// The variants without their data, so that a name has a dense index.
        #[derive(Clone, Copy)]
        #[allow(dead_code)] // only the discriminants are used
        enum Kind {
            $( $variant, )*
            Other,
        }

        impl HeaderName {
            /// How many distinct [`HeaderName::index`] values there are.
            pub(crate) const KINDS: usize = Kind::Other as usize + 1;

            /// A dense index in `0..KINDS`: one per known name, one shared by every
            /// [`HeaderName::Other`]. Two known names are equal exactly when their
            /// indexes are.
            pub(crate) fn index(&self) -> usize {
                (match self {
                    $( HeaderName::$variant => Kind::$variant, )*
                    HeaderName::Other(_) => Kind::Other,
                }) as usize
            }

            /// The canonical spelling (`Call-ID`, `WWW-Authenticate`, ...).
            pub fn as_str(&self) -> &str {
                match self {
                    HeaderName::Other(s) => s,
                    _ => self.static_name(),
                }
            }

            /// The canonical spelling of a known name; `"extension-header"` for others.
            pub(crate) fn static_name(&self) -> &'static str {
                // One table indexed by the kind, not a match per accessor (a 1 KB
                // jump table each in the wasm); `Other` is past its end.
                const CANON: &[&str] = &[$( $canon, )*];
                CANON.get(self.index()).copied().unwrap_or("extension-header")
            }

            /// Recognise a name as received on the wire (any case, long or compact form).
            pub fn parse(name: &str) -> HeaderName {
                // Compact forms are one letter (RFC 3261 §7.3.3).
                if name.len() == 1 {
                    #[allow(unused_variables)]
                    let c = name.as_bytes()[0].to_ascii_lowercase();
                    $( $( if c == $compact { return HeaderName::$variant; } )? )*
                    return HeaderName::Other(name.into());
                }
                // Lower-case the name once, then compare bytes with each known name
                // lower-cased at compile time (a per-candidate case-insensitive compare
                // was a tenth of the time spent parsing a message).
                let mut buf = [0u8; MAX_KNOWN_LEN];
                let Some(lower) = buf.get_mut(..name.len()) else {
                    return HeaderName::Other(name.into());
                };
                lower.copy_from_slice(name.as_bytes());
                lower.make_ascii_lowercase();
                let lower = &*lower;
                $( {
                    const LOWER: [u8; $canon.len()] = ascii_lower($canon);
                    if lower == LOWER {
                        return HeaderName::$variant;
                    }
                } )*
                HeaderName::Other(name.into())
            }
        }
    };
}

header_names! {
    Via => "Via", b'v';
    From => "From", b'f';
    To => "To", b't';
    CallId => "Call-ID", b'i';
    CSeq => "CSeq";
    MaxForwards => "Max-Forwards";
    Contact => "Contact", b'm';
    ContentLength => "Content-Length", b'l';
    ContentType => "Content-Type", b'c';
    Expires => "Expires";
    MinExpires => "Min-Expires";
    Event => "Event", b'o';
    SubscriptionState => "Subscription-State";
    SipETag => "SIP-ETag";
    SipIfMatch => "SIP-If-Match";
    Route => "Route";
    RecordRoute => "Record-Route";
    Path => "Path";
    ServiceRoute => "Service-Route";
    PAssociatedUri => "P-Associated-URI";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    AcceptContact => "Accept-Contact", b'a';
    RejectContact => "Reject-Contact", b'j';
    RequestDisposition => "Request-Disposition", b'd';
    Require => "Require";
    ProxyRequire => "Proxy-Require";
    Supported => "Supported", b'k';
    Unsupported => "Unsupported";
    Allow => "Allow";
    AllowEvents => "Allow-Events", b'u';
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    RetryAfter => "Retry-After";
    Date => "Date";
    UserAgent => "User-Agent";
    Server => "Server";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    Authorization => "Authorization";
    ProxyAuthorization => "Proxy-Authorization";
    AuthenticationInfo => "Authentication-Info";
    ContentEncoding => "Content-Encoding", b'e';
    ContentDisposition => "Content-Disposition";
    ContentLanguage => "Content-Language";
    Subject => "Subject", b's';
    ReferTo => "Refer-To", b'r';
    ReferredBy => "Referred-By", b'b';
    SessionExpires => "Session-Expires", b'x';
    Identity => "Identity", b'y';
    IdentityInfo => "Identity-Info", b'n';
    Warning => "Warning";
    Timestamp => "Timestamp";
    Organization => "Organization";
    Priority => "Priority";
    InReplyTo => "In-Reply-To";
    ReplyTo => "Reply-To";
    MimeVersion => "MIME-Version";
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    fn from(s: &str) -> Self {
        HeaderName::parse(s)
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // Extension header names compare case-insensitively (RFC 3261 §7.3.1).
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => core::mem::discriminant(a) == core::mem::discriminant(b),
        }
    }
}

impl core::hash::Hash for HeaderName {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        core::mem::discriminant(self).hash(state);
        if let HeaderName::Other(s) = self {
            for b in s.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}
