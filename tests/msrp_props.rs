//! Properties of the MSRP codec (imsip::msrp): generated frames (random transaction
//! ids, paths, header sets, byte ranges, binary bodies built to hold end-line-like
//! sequences) round trip through builder → bytes → parser; the encoded bytes of several
//! frames cut at arbitrary points and fed in pieces give the same frames; arbitrary
//! and mutated bytes never panic. The property `check` below is the one
//! `fuzz/fuzz_targets/msrp.rs` runs.
#![cfg(not(target_arch = "wasm32"))]

use imsip::msrp::{
    parse_frame, ByteRange, ContinuationFlag, Decoder, FailureReport, Frame, Method, MsrpError,
    MsrpUri, Parsed, RequestBuilder, ResponseBuilder, Status, SuccessReport, TransactionId,
};
use proptest::prelude::*;
use proptest::sample::select;

// ───────────────────────── the fuzz invariant ─────────────────────────

// The invariant lives in fuzz/src/msrp_check.rs, shared with the fuzz target.
#[path = "../fuzz/src/msrp_check.rs"]
mod msrp_check;
use msrp_check::check_msrp as check;

#[test]
fn the_fuzz_seeds_parse_and_hold_the_invariant() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/msrp");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/seeds/msrp")
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "{seeds:?}");
    for path in seeds {
        let data = std::fs::read(&path).unwrap();
        match parse_frame(&data) {
            Ok(Parsed::Complete { .. }) => {}
            other => panic!("{path:?}: {other:?}"),
        }
        check(&data);
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ───────────────────────── generators ─────────────────────────

fn tid() -> impl Strategy<Value = TransactionId> {
    "[a-zA-Z0-9][a-zA-Z0-9.+%=-]{3,31}".prop_map(|s| TransactionId::new(s).unwrap())
}

fn uri() -> impl Strategy<Value = MsrpUri> {
    (
        select(vec!["msrp", "msrps", "MSRP"]),
        proptest::option::of("[a-z0-9:!$&'()*+,;=._~-]{1,8}|[a-z]{1,3}%[0-9A-F]{2}"),
        select(vec![
            "atlanta.example.com",
            "Biloxi.Example.COM",
            "df7jal23ls0d.invalid",
            "192.0.2.7",
            "[2001:db8::1]",
            "[::ffff:192.0.2.1]",
            "relay",
        ]),
        proptest::option::of(any::<u16>()),
        proptest::option::of("[a-zA-Z0-9+=/._~-]{1,16}"),
        select(vec!["tcp", "ws", "wss", "TCP", "Ws", "sctp", "x9"]),
        proptest::collection::vec(
            (
                "[a-z][a-z0-9-]{0,4}",
                proptest::option::of("[a-zA-Z0-9.]{1,5}"),
            ),
            0..3,
        ),
    )
        .prop_map(|(scheme, user, host, port, session, transport, params)| {
            let mut s = format!("{scheme}://");
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            if let Some(id) = session {
                s.push('/');
                s.push_str(&id);
            }
            s.push(';');
            s.push_str(transport);
            for (n, v) in params {
                s.push(';');
                s.push_str(&n);
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            MsrpUri::parse(&s).unwrap_or_else(|e| panic!("{s}: {e}"))
        })
}

fn path() -> impl Strategy<Value = Vec<MsrpUri>> {
    proptest::collection::vec(uri(), 1..4)
}

fn byte_range() -> impl Strategy<Value = ByteRange> {
    (
        1u64..5000,
        proptest::option::of(0u64..5000),
        proptest::option::of(0u64..10_000),
    )
        .prop_map(|(start, len, extra)| {
            let end = len.map(|l| start - 1 + l);
            let total = extra.map(|x| end.unwrap_or(start) + x);
            ByteRange::new(start, end, total).unwrap()
        })
}

#[derive(Debug, Clone)]
enum Field {
    MessageId(String),
    Range(ByteRange),
    Success(SuccessReport),
    Failure(FailureReport),
    Status(Status),
    Expires(u32),
    Other(String, String),
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        "[a-zA-Z0-9][a-zA-Z0-9.+%=-]{3,31}".prop_map(Field::MessageId),
        byte_range().prop_map(Field::Range),
        select(vec![SuccessReport::Yes, SuccessReport::No]).prop_map(Field::Success),
        select(vec![
            FailureReport::Yes,
            FailureReport::No,
            FailureReport::Partial
        ])
        .prop_map(Field::Failure),
        (
            0u16..1000,
            0u16..1000,
            proptest::option::of("[ -~é€]{0,12}[!-~]")
        )
            .prop_map(|(ns, code, comment)| Field::Status(Status {
                namespace: ns,
                code,
                comment: comment
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            })),
        any::<u32>().prop_map(Field::Expires),
        (
            select(vec![
                "X-Custom",
                "Content-ID",
                "Content-Description",
                "Content-Disposition",
                "Use-Path",
                "Authorization",
                "a"
            ]),
            "[ -~\t é€]{0,30}"
        )
            .prop_map(|(n, v)| Field::Other(n.into(), v)),
    ]
}

/// Bodies made of pieces that look like end-lines, so that collisions and near misses
/// occur: the frame's own id, dashes, flags, CRLFs, random bytes.
fn body(tid: TransactionId) -> impl Strategy<Value = Vec<u8>> {
    let id = tid.as_str().to_owned();
    proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            select(vec![
                "\r\n".to_string(),
                "-------".to_string(),
                "\r\n-------".to_string(),
                "$\r\n".to_string(),
                "+".to_string(),
                "\r".to_string(),
                "\n".to_string(),
                id.clone(),
                id.get(..id.len() - 1).unwrap_or_default().to_string(),
            ])
            .prop_map(String::into_bytes),
        ],
        0..12,
    )
    .prop_map(|pieces| pieces.concat())
}

#[derive(Debug, Clone)]
struct Spec {
    tid: TransactionId,
    to: Vec<MsrpUri>,
    from: Vec<MsrpUri>,
    fields: Vec<Field>,
    response: Option<(u16, Option<String>)>,
    method: Method,
    body: Option<(String, Vec<u8>)>,
    flag: ContinuationFlag,
}

fn spec() -> impl Strategy<Value = Spec> {
    tid().prop_flat_map(|t| {
        (
            Just(t.clone()),
            path(),
            path(),
            proptest::collection::vec(field(), 0..8),
            proptest::option::of((0u16..1000, proptest::option::of("[ -~é]{0,16}"))),
            select(vec![
                Method::Send,
                Method::Report,
                Method::Auth,
                Method::Other("NICKNAME".into()),
            ]),
            proptest::option::of((
                select(vec![
                    "text/plain",
                    "application/octet-stream",
                    "message/cpim",
                    "image/png;x=\"a b\"",
                ]),
                body(t),
            )),
            select(vec![
                ContinuationFlag::Complete,
                ContinuationFlag::Continued,
                ContinuationFlag::Aborted,
            ]),
        )
            .prop_map(
                |(tid, to, from, fields, response, method, body, flag)| Spec {
                    tid,
                    to,
                    from,
                    fields,
                    response,
                    method,
                    body: body.map(|(ct, b)| (ct.to_owned(), b)),
                    flag,
                },
            )
    })
}

fn build(spec: &Spec, tid: TransactionId) -> Result<Frame, MsrpError> {
    match &spec.response {
        Some((code, comment)) => {
            let mut b = ResponseBuilder::new(tid, *code, spec.to.clone(), spec.from.clone());
            if let Some(c) = comment {
                b = b.comment(c.clone());
            }
            for f in &spec.fields {
                b = match f {
                    Field::MessageId(v) => b.message_id(v.clone()),
                    Field::Expires(s) => b.expires(*s),
                    Field::Range(r) => b.header("Byte-Range", r.to_string()),
                    Field::Success(s) => b.header("Success-Report", s.as_str()),
                    Field::Failure(s) => b.header("Failure-Report", s.as_str()),
                    Field::Status(s) => b.header("Status", s.to_string()),
                    Field::Other(n, v) => b.header(n, v.clone()),
                };
            }
            b.build()
        }
        None => {
            let mut b =
                RequestBuilder::new(spec.method.clone(), tid, spec.to.clone(), spec.from.clone());
            for f in &spec.fields {
                b = match f {
                    Field::MessageId(v) => b.message_id(v.clone()),
                    Field::Range(r) => b.byte_range(*r),
                    Field::Success(s) => b.success_report(*s),
                    Field::Failure(s) => b.failure_report(*s),
                    Field::Status(s) => b.status(s),
                    Field::Expires(s) => b.expires(*s),
                    Field::Other(n, v) => b.header(n, v.clone()),
                };
            }
            if let Some((ct, body)) = &spec.body {
                b = b.body(ct, body.clone());
            }
            b.continuation(spec.flag).build()
        }
    }
}

/// A frame from a spec; a body holding the end-line of the spec's id gets an id
/// picked for it.
fn frame(spec: &Spec) -> Frame {
    match build(spec, spec.tid.clone()) {
        Ok(f) => f,
        Err(MsrpError::BodyContainsEndLine) => {
            let body = &spec.body.as_ref().unwrap().1;
            assert!(spec.tid.collides_with(body));
            let other = TransactionId::for_body(&mut Fixed, body);
            build(spec, other).unwrap()
        }
        Err(e) => panic!("{e}: {spec:?}"),
    }
}

struct Fixed;

impl imsip::auth::RandomSource for Fixed {
    fn fill(&mut self, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
    }
}

// ───────────────────────── properties ─────────────────────────

proptest! {
    #![proptest_config(config())]

    /// parse(encode(m)) == m for generated frames, and encoding is a fixpoint.
    #[test]
    fn generated_frames_round_trip(spec in spec()) {
        let f = frame(&spec);
        let bytes = f.encode().unwrap();
        prop_assert_eq!(parse_frame(&bytes).unwrap(), Parsed::Complete { frame: f.clone(), consumed: bytes.len() });
        prop_assert_eq!(Frame::parse(&bytes).unwrap().encode().unwrap(), bytes.clone());
        // Typed reads give back what the builder was given.
        for field in &spec.fields {
            if let (Field::Range(r), true) = (field, spec.response.is_none()) {
                prop_assert_eq!(f.byte_range().unwrap(), Some(*r));
                break;
            }
        }
        if spec.response.is_none() {
            prop_assert_eq!(f.body(), spec.body.as_ref().map(|(_, b)| &b[..]));
        }
        check(&bytes);
    }

    /// The encoded bytes of several frames, cut anywhere and fed in pieces, give the
    /// same frames; every prefix of the stream needs more (it is never an error).
    #[test]
    fn streamed_frames_arrive_whole(
        specs in proptest::collection::vec(spec(), 1..5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let frames: Vec<Frame> = specs.iter().map(frame).collect();
        let stream: Vec<u8> = frames.iter().flat_map(|f| f.encode().unwrap()).collect();
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.push(0);
        at.push(stream.len());
        at.sort_unstable();
        let mut decoder = Decoder::new();
        let mut got = Vec::new();
        for w in at.windows(2) {
            decoder.push(&stream[w[0]..w[1]]);
            while let Some(f) = decoder.next_frame().unwrap() {
                got.push(f);
            }
        }
        prop_assert_eq!(&got, &frames);
        prop_assert_eq!(decoder.buffered(), 0);
        for &cut in &at {
            let r = parse_frame(&stream[..cut]).unwrap();
            if let Parsed::Complete { frame, .. } = r {
                prop_assert_eq!(&frame, &frames[0]);
            }
        }
    }

    /// Arbitrary bytes after a plausible start never panic and hold the invariant.
    #[test]
    fn arbitrary_bytes_hold_the_invariant(
        head in select(vec!["", "MSRP ", "MSRP abcd SEND\r\n", "MSRP abcd 200 OK\r\nTo-Path: msrp://a/b;tcp\r\nFrom-Path: msrp://c/d;ws\r\n"]),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut data = head.as_bytes().to_vec();
        data.extend(tail);
        check(&data);
    }

    /// Byte flips, truncations and insertions in valid frame streams never panic and
    /// hold the invariant.
    #[test]
    fn mutated_frames_hold_the_invariant(
        specs in proptest::collection::vec(spec(), 1..3),
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), select(vec![
                &b"\r\n"[..], b"\n", b"\r", b"-------", b" ", b":", b"$", b"+", b"#", b"\xff", b"", b"\r\n\r\n",
            ]), any::<bool>()),
            1..4,
        ),
    ) {
        let mut data: Vec<u8> = specs.iter().flat_map(|s| frame(s).encode().unwrap()).collect();
        for (i, insert, replace) in edits {
            let at = i.index(data.len() + 1);
            if replace && at < data.len() {
                data.remove(at);
            }
            for (k, b) in insert.iter().enumerate() {
                data.insert(at + k, *b);
            }
        }
        check(&data);
    }
}
