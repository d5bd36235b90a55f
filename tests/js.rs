//! The JavaScript binding (src/js) under wasm-bindgen-test, in Node and in headless
//! Chromium (js/test.sh runs both and checks the counts):
//!
//! ```sh
//! wasm-pack test --node              # this file, in Node (it has no `run_in_browser`)
//! wasm-pack test --headless --chrome # tests/js_browser.rs: this file as a module, in Chromium
//! ```
//!
//! One suite, two test targets: wasm-bindgen-test picks the environment per test binary
//! (`wasm_bindgen_test_configure!(run_in_browser)` or not), and each command skips the
//! other environment's binary with a notice. Both commands build every test target for
//! wasm32; the native-only ones compile to nothing there (`#![cfg(not(target_arch =
//! "wasm32"))]`).
//!
//! `ImClientCore` is driven through a fake WebSocket (JS, injected with the
//! `webSocket` option) wired to the in-memory fake core of `tests/common`. Natively
//! this file is empty.
#![cfg(target_arch = "wasm32")]

#[path = "common/mod.rs"]
mod common;

use common::{FakeCore, ALICE};
use imsip::js::{
    decode_service_settings, encode_service_settings, parse_index, parse_side, version,
    wasm_memory, ImClientCore,
};
use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(inline_js = r#"
export class FakeSocket {
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    this.readyState = 0;
    this.closed = false;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    FakeSocket.all.push(this);
  }
  send(data) {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(data);
  }
  close() { this.closed = true; this.readyState = 3; }
  open() { this.readyState = 1; if (this.onopen) this.onopen({ type: 'open', target: this }); }
  receive(data) { if (this.onmessage) this.onmessage({ type: 'message', data, target: this }); }
  drop() { this.readyState = 3; if (this.onerror) this.onerror({ type: 'error', target: this }); if (this.onclose) this.onclose({ type: 'close', target: this }); }
  takeSent() { const s = this.sent; this.sent = []; return s; }
  static last() { return FakeSocket.all[FakeSocket.all.length - 1]; }
  static count() { return FakeSocket.all.length; }
}
FakeSocket.all = [];
export function fakeSocketClass() { return FakeSocket; }
export function recorder() {
  const events = [];
  return { events, emit: (type, detail) => events.push({ type, detail }) };
}
export function jsonOf(v) { return JSON.stringify(v); }
"#)]
extern "C" {
    type FakeSocket;
    #[wasm_bindgen(static_method_of = FakeSocket)]
    fn last() -> FakeSocket;
    #[wasm_bindgen(static_method_of = FakeSocket)]
    fn count() -> u32;
    #[wasm_bindgen(method)]
    fn open(this: &FakeSocket);
    #[wasm_bindgen(method)]
    fn receive(this: &FakeSocket, data: &str);
    #[wasm_bindgen(method, js_name = drop)]
    fn lose(this: &FakeSocket);
    #[wasm_bindgen(method, js_name = takeSent)]
    fn take_sent(this: &FakeSocket) -> Array;
    #[wasm_bindgen(method, getter)]
    fn closed(this: &FakeSocket) -> bool;
    #[wasm_bindgen(method, getter)]
    fn protocols(this: &FakeSocket) -> JsValue;
    #[wasm_bindgen(js_name = fakeSocketClass)]
    fn fake_socket_class() -> JsValue;
    fn recorder() -> JsValue;
    #[wasm_bindgen(js_name = jsonOf)]
    fn json_of(v: &JsValue) -> String;
}

// ───────────────────────────── helpers ─────────────────────────────

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| {
        Reflect::get(&v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    })
}

fn s(v: &JsValue, path: &str) -> String {
    get(v, path)
        .as_string()
        .unwrap_or_else(|| panic!("{path} is not a string in {}", json_of(v)))
}

fn n(v: &JsValue, path: &str) -> f64 {
    get(v, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {}", json_of(v)))
}

fn obj(json: &str) -> JsValue {
    JSON::parse(json).expect("test JSON")
}

/// Options for alice against the fake core, with `extra` fields merged in.
fn options(extra: &str) -> JsValue {
    let o = obj(&format!(
        r#"{{"server":"wss://core.imsip.test/sip","aor":"{ALICE}","password":"alice-secret","publishPolicy":"never"{}{extra}}}"#,
        if extra.is_empty() { "" } else { "," }
    ));
    Reflect::set(&o, &"webSocket".into(), &fake_socket_class()).unwrap();
    o
}

struct Client {
    core: ImClientCore,
    rec: JsValue,
}

impl Client {
    fn new(opts: &JsValue) -> Client {
        let rec = recorder();
        let emit: Function = get(&rec, "emit").into();
        let core = ImClientCore::new(opts.clone(), emit).expect("valid options");
        Client { core, rec }
    }

    /// Details of the events of one type, in order.
    fn events(&self, kind: &str) -> Vec<JsValue> {
        Array::from(&get(&self.rec, "events"))
            .iter()
            .filter(|e| s(e, "type") == kind)
            .map(|e| get(&e, "detail"))
            .collect()
    }
}

/// Moves frames between the fake socket and the fake core until both are quiet.
fn pump(sock: &FakeSocket, core: &mut FakeCore) {
    for _ in 0..100 {
        let sent: Vec<String> = sock
            .take_sent()
            .iter()
            .filter_map(|f| f.as_string())
            .collect();
        if sent.is_empty() && core.outbox.is_empty() {
            return;
        }
        for f in sent {
            core.receive(&f);
        }
        for f in std::mem::take(&mut core.outbox) {
            sock.receive(&f);
        }
    }
    panic!("the fake core and the client did not settle");
}

async fn resolved(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap_or_else(|e| {
        panic!(
            "rejected: {}",
            get(&e, "message").as_string().unwrap_or_default()
        )
    })
}

async fn rejected(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("resolved with {}", json_of(&v)),
        Err(e) => e,
    }
}

/// The error thrown by the constructor for these options.
fn options_error(opts: &JsValue) -> JsValue {
    let rec = recorder();
    match ImClientCore::new(opts.clone(), get(&rec, "emit").into()) {
        Ok(_) => panic!("options accepted: {}", json_of(opts)),
        Err(e) => e,
    }
}

fn assert_bad_input(opts: &JsValue, field: &str) -> String {
    let e = options_error(opts);
    assert!(e.is_instance_of::<js_sys::Error>(), "an Error object");
    assert_eq!(s(&e, "name"), "ImError");
    assert_eq!(s(&e, "code"), "bad_input");
    let m = s(&e, "message");
    assert!(m.contains(field), "{m:?} names {field}");
    assert!(!m.contains("alice-secret"), "no password in {m:?}");
    m
}

/// A registered client with its socket and fake core.
async fn registered(extra: &str) -> (Client, FakeSocket, FakeCore) {
    let c = Client::new(&options(extra));
    let p = c.core.register();
    let sock = FakeSocket::last();
    sock.open();
    let mut core = FakeCore::with_password("alice-secret");
    pump(&sock, &mut core);
    resolved(p).await;
    (c, sock, core)
}

// ───────────────────────────── options ─────────────────────────────

#[wasm_bindgen_test]
fn options_must_be_an_object() {
    let e = options_error(&JsValue::UNDEFINED);
    assert_eq!(s(&e, "code"), "bad_input");
    assert!(s(&e, "message").contains("options"));
    assert_eq!(s(&options_error(&"wss://x".into()), "code"), "bad_input");
}

#[wasm_bindgen_test]
fn required_and_malformed_fields_are_named() {
    assert_bad_input(&obj(r#"{"aor":"sip:a@b"}"#), "server");
    assert_bad_input(&obj(r#"{"server":"wss://b/sip"}"#), "aor");
    assert_bad_input(
        &obj(r#"{"server":"https://b/sip","aor":"sip:a@b"}"#),
        "server",
    );
    assert_bad_input(
        &obj(r#"{"server":"wss://b/sip","aor":"mailto:a@b"}"#),
        "aor",
    );
    assert_bad_input(&options(r#""expires":"600""#), "expires");
    assert_bad_input(&options(r#""expires":1.5"#), "expires");
    assert_bad_input(&options(r#""expires":0"#), "expires");
    assert_bad_input(&options(r#""keepAliveInterval":-1"#), "keepAliveInterval");
    assert_bad_input(&options(r#""connectTimeout":0"#), "connectTimeout");
    assert_bad_input(&options(r#""connectTimeout":"10""#), "connectTimeout");
    assert_bad_input(&options(r#""displayName":7"#), "displayName");
    assert_bad_input(&options(r#""publishPolicy":"sometimes""#), "publishPolicy");
    assert_bad_input(
        &options(r#""reconnect":{"minDelay":5,"maxDelay":1}"#),
        "reconnect.minDelay",
    );
    assert_bad_input(
        &options(r#""reconnect":{"minDelay":"1"}"#),
        "reconnect.minDelay",
    );
    assert_bad_input(&options(r#""reconnect":{"min":1}"#), "reconnect.min");
    let o = options("");
    Reflect::set(&o, &"webSocket".into(), &"ws".into()).unwrap();
    assert_bad_input(&o, "webSocket");
    assert_bad_input(
        &options(r#""ha1":"00112233445566778899aabbccddeeff""#),
        "ha1",
    );
    assert_bad_input(
        &options(r#""serviceSettings":{"visibility":"yes"}"#),
        "serviceSettings.visibility",
    );
    assert_bad_input(
        &options(r#""serviceSettings":{"history":{"type":1}}"#),
        "serviceSettings.history.active",
    );
    assert_bad_input(
        &options(r#""serviceSettings":{"extensions":{"xml":"<nope/>"}}"#),
        "serviceSettings.extensions.xml",
    );
}

#[wasm_bindgen_test]
fn unknown_keys_are_refused_with_a_suggestion() {
    let o = options("");
    Reflect::set(&o, &"expire".into(), &600.into()).unwrap();
    let m = assert_bad_input(&o, "expire");
    assert!(m.contains("did you mean expires"), "{m}");
    let m = assert_bad_input(
        &obj(r#"{"server":"wss://b/sip","aor":"sip:a@b","pasword":"alice-secret"}"#),
        "pasword",
    );
    assert!(m.contains("did you mean password"), "{m}");
    assert_bad_input(
        &options(r#""serviceSettings":{"visibilty":true}"#),
        "serviceSettings.visibilty",
    );
}

/// The serde boundary (src/js/obj.rs): serde-wasm-bindgen never sees keys a struct
/// does not name, so the binding checks them; a wrong type names the field without
/// quoting the value; `null` reads as absent; nested objects are named by path.
#[wasm_bindgen_test]
fn derived_readers_name_fields_by_path_and_never_quote_values() {
    let m = assert_bad_input(
        &options(r#""serviceSettings":{"history":{"active":true,"typ":1}}"#),
        "serviceSettings.history.typ",
    );
    assert!(
        m.contains("did you mean serviceSettings.history.type"),
        "{m}"
    );
    let m = assert_bad_input(&options(r#""userAgent":123456789"#), "userAgent");
    assert!(m.contains("must be a string"), "{m}");
    assert!(!m.contains("123456789"), "no value in {m:?}");
    let m = assert_bad_input(&options(r#""accept":"text/plain""#), "accept");
    assert!(m.contains("an array of strings"), "{m}");
    let m = assert_bad_input(&options(r#""accept":["text/plain",7]"#), "accept");
    assert!(m.contains("an array of strings"), "{m}");
    assert_bad_input(&options(r#""aka":"465b5ce8""#), "aka");
    assert_bad_input(&options(r#""reconnect":[1,2]"#), "reconnect");
    assert_bad_input(
        &options(r#""msrpRelay":{"url":"wss://b/msrp","uri":7}"#),
        "msrpRelay.uri",
    );
    assert_bad_input(
        &options(r#""msrpRelay":{"uri":"msrp://b:1/r;tcp"}"#),
        "msrpRelay.url",
    );
    assert_bad_input(
        &options(r#""msrpRelay":{"url":"wss://b/msrp","path":"x"}"#),
        "msrpRelay.path",
    );
    // `null` is "not given", like `undefined`.
    let c = Client::new(&options(
        r#""displayName":null,"reconnect":null,"msrpRelay":null"#,
    ));
    c.core.close();
}

/// Random option objects (every known key and some unknown ones, each given a value
/// of a random JS type, nested objects too) never panic and never leak a secret: the
/// constructor accepts them or throws `ImError` `bad_input` whose message quotes no
/// password, HA1 or AKA key (every string given to one carries a marker that must not
/// appear; other fields may be quoted, e.g. a URL that is not one). Deterministic: a
/// fixed seed, 600 cases.
#[wasm_bindgen_test]
fn random_option_objects_get_bad_input_or_a_client_never_a_panic() {
    const KEYS: &[&str] = &[
        "server",
        "aor",
        "username",
        "password",
        "ha1",
        "aka",
        "displayName",
        "userAgent",
        "expires",
        "instanceId",
        "callId",
        "keepAliveInterval",
        "connectTimeout",
        "reconnect",
        "serviceSettings",
        "publishPolicy",
        "accept",
        "requestTimeout",
        "autoDelivery",
        "composingRefresh",
        "composingIdleTimeout",
        "msrpRelay",
        "largeMessageThreshold",
        "maxLargeMessageSize",
        "k",
        "op",
        "minDelay",
        "history",
        "active",
        "type",
        "url",
        "uri",
        "xml",
        "extensions",
    ];
    // xorshift64*: the same cases on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
    };
    const SECRETS: &[&str] = &["password", "ha1", "k", "op", "opc"];
    fn value(next: &mut dyn FnMut(u64) -> u64, depth: u32, key: &str) -> JsValue {
        match next(if depth > 2 { 7 } else { 9 }) {
            0 => JsValue::UNDEFINED,
            1 => JsValue::NULL,
            2 => JsValue::from_bool(next(2) == 0),
            3 => JsValue::from_f64([0.0, -1.0, 1.5, 600.0, 1e300, f64::NAN][next(6) as usize]),
            4 | 5 => {
                let samples = [
                    "MARK",
                    "wss://core.imsip.test/sip MARK",
                    "sip:alice@imsip.test",
                    "00112233445566778899aabbccddeeMARK",
                    "if-absent",
                    "text/plain",
                    "",
                ];
                let s = samples[next(samples.len() as u64) as usize];
                let mark = if SECRETS.contains(&key) {
                    "SECRETMARK"
                } else {
                    "mark"
                };
                JsValue::from_str(&s.replace("MARK", mark))
            }
            6 => {
                let a = Array::new();
                for _ in 0..next(3) {
                    a.push(&value(next, depth + 1, key));
                }
                a.into()
            }
            _ => {
                let o = Object::new();
                for _ in 0..next(4) {
                    let key = KEYS[next(KEYS.len() as u64) as usize];
                    Reflect::set(&o, &key.into(), &value(next, depth + 1, key)).unwrap();
                }
                o.into()
            }
        }
    }
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..600 {
        let o = options("");
        for _ in 0..next(4) {
            let key = KEYS[next(KEYS.len() as u64) as usize];
            Reflect::set(&o, &key.into(), &value(&mut next, 0, key)).unwrap();
        }
        let rec = recorder();
        match ImClientCore::new(o.clone(), get(&rec, "emit").into()) {
            Ok(core) => {
                accepted += 1;
                core.close();
            }
            Err(e) => {
                refused += 1;
                assert_eq!(s(&e, "name"), "ImError", "{}", json_of(&o));
                assert_eq!(s(&e, "code"), "bad_input", "{}", json_of(&o));
                let m = s(&e, "message");
                assert!(
                    !m.contains("SECRETMARK"),
                    "a value in {m:?} for {}",
                    json_of(&o)
                );
            }
        }
    }
    assert!(
        accepted > 20 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}

/// Event details are derived `Serialize` structs: an absent optional value is an
/// absent key (not a key holding `undefined`), so `'displayName' in detail` is false.
#[wasm_bindgen_test]
async fn absent_optional_detail_fields_are_absent_keys() {
    let (c, _sock, _core) = registered("").await;
    for e in c.events("connection") {
        let keys = Object::keys(e.unchecked_ref::<Object>());
        let keys: Vec<String> = keys.iter().filter_map(|k| k.as_string()).collect();
        if s(&e, "state") == "connected" {
            assert_eq!(keys, ["state", "server"], "no retryIn key when connected");
            assert_eq!(s(&e, "server"), "wss://core.imsip.test/sip");
        }
    }
    let reg = c.events("registration");
    let last = reg.last().unwrap();
    for absent in ["retryIn", "error", "pubGruu"] {
        assert!(
            !Reflect::has(last.unchecked_ref(), &absent.into()).unwrap(),
            "{absent} is not a key of a registered event"
        );
    }
    c.core.close();
}

#[wasm_bindgen_test]
fn secrets_are_checked_without_being_shown() {
    let base = r#""server":"wss://b/sip","aor":"sip:carol@imsip.test""#;
    let m = assert_bad_input(
        &obj(&format!(
            r#"{{{base},"aka":{{"k":"465b5ce8b199b49faa5f0a2ee238a6","op":"cdc202d5123e20f62b6d676ac72cb318"}}}}"#
        )),
        "aka.k",
    );
    assert!(!m.contains("465b5ce8"), "{m}");
    assert_bad_input(
        &obj(&format!(
            r#"{{{base},"aka":{{"k":"465b5ce8b199b49faa5f0a2ee238a6bc"}}}}"#
        )),
        "aka.op",
    );
    assert_bad_input(
        &obj(&format!(
            r#"{{{base},"aka":{{"k":"465b5ce8b199b49faa5f0a2ee238a6bc","op":"cdc202d5123e20f62b6d676ac72cb318","amf":"b9"}}}}"#
        )),
        "aka.amf",
    );
    assert_bad_input(
        &obj(&format!(
            r#"{{{base},"password":"x","ha1":"00112233445566778899aabbccddeeff"}}"#
        )),
        "ha1",
    );
    assert_bad_input(
        &obj(&format!(r#"{{{base},"username":"carol"}}"#)),
        "username",
    );
    // Well-formed AKA options are accepted; the SQN is reported back as hex.
    let aka = obj(&format!(
        r#"{{{base},"aka":{{"k":"465b5ce8b199b49faa5f0a2ee238a6bc","op":"cdc202d5123e20f62b6d676ac72cb318","amf":"b9b9","sqn":"20"}}}}"#
    ));
    Reflect::set(&aka, &"webSocket".into(), &fake_socket_class()).unwrap();
    let c = Client::new(&aka);
    assert_eq!(c.core.aka_sqn().as_deref(), Some("000000000020"));
}

#[wasm_bindgen_test]
fn without_a_global_websocket_the_option_is_required() {
    let o = options("");
    Reflect::delete_property(o.unchecked_ref::<Object>(), &"webSocket".into()).unwrap();
    let global = Reflect::get(&js_sys::global(), &"WebSocket".into()).unwrap();
    if global.is_function() {
        // A page (or Node 22+): the global one is used.
        Client::new(&o).core.close();
    } else {
        let m = assert_bad_input(&o, "webSocket");
        assert!(m.contains("ws"), "{m}");
    }
}

#[wasm_bindgen_test]
fn persisted_identifiers_are_used_and_reported() {
    let c = Client::new(&options(
        r#""instanceId":"urn:uuid:00000000-0000-4000-8000-000000000001","callId":"persisted-call-id""#,
    ));
    assert_eq!(
        c.core.instance_id(),
        "urn:uuid:00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(c.core.call_id(), "persisted-call-id");
    let fresh = Client::new(&options(""));
    assert!(fresh.core.instance_id().starts_with("urn:uuid:"));
    assert_eq!(s(&fresh.core.registration(), "state"), "unregistered");
}

// ───────────────────────────── client, events, errors ─────────────────────────────

#[wasm_bindgen_test]
async fn register_emits_events_and_resolves() {
    let c = Client::new(&options(r#""displayName":"Alice""#));
    let before = FakeSocket::count();
    let p = c.core.register();
    assert_eq!(FakeSocket::count(), before + 1, "one socket opened");
    let sock = FakeSocket::last();
    assert_eq!(
        get(&sock, "url").as_string().as_deref(),
        Some("wss://core.imsip.test/sip")
    );
    assert_eq!(sock.protocols().as_string().as_deref(), Some("sip"));
    assert_eq!(s(&c.events("connection")[0], "state"), "connecting");
    sock.open();
    let mut core = FakeCore::with_password("alice-secret");
    pump(&sock, &mut core);
    let info = resolved(p).await;
    assert!(n(&info, "expires") > 0.0);
    assert_eq!(
        get(&info, "contacts").dyn_into::<Array>().unwrap().length(),
        2
    );
    assert_eq!(s(&info, "serviceRoute.0"), "sip:orig@scscf.imsip.test;lr");
    assert_eq!(
        get(&info, "associatedUris")
            .dyn_into::<Array>()
            .unwrap()
            .length(),
        2
    );

    let conn: Vec<String> = c
        .events("connection")
        .iter()
        .map(|e| s(e, "state"))
        .collect();
    assert_eq!(conn, ["connecting", "connected"]);
    let regs = c.events("registration");
    assert_eq!(s(regs.last().unwrap(), "state"), "registered");
    assert_eq!(s(&c.core.registration(), "state"), "registered");

    // Every frame is traced, in both directions; the password never is.
    let trace = c.events("trace");
    let out: Vec<_> = trace
        .iter()
        .filter(|t| s(t, "direction") == "out")
        .collect();
    let inn: Vec<_> = trace.iter().filter(|t| s(t, "direction") == "in").collect();
    assert_eq!(out.len(), 2, "REGISTER, then REGISTER with credentials");
    assert!(s(out[0], "text").starts_with("REGISTER sip:imsip.test SIP/2.0\r\n"));
    assert!(s(inn[0], "text").starts_with("SIP/2.0 401"));
    assert!(s(inn[1], "text").starts_with("SIP/2.0 200"));
    assert!(n(out[0], "at") > 1.0e12, "epoch milliseconds");
    for t in &trace {
        assert!(!s(t, "text").contains("alice-secret"));
    }
    c.core.close();
    assert!(sock.closed());
}

#[wasm_bindgen_test]
async fn wrong_password_rejects_with_auth_failed() {
    let c = Client::new(&options(""));
    let p = c.core.register();
    let sock = FakeSocket::last();
    sock.open();
    let mut core = FakeCore::with_password("another-secret");
    pump(&sock, &mut core);
    let e = rejected(p).await;
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(s(&e, "code"), "auth_failed");
    assert_eq!(s(&e, "name"), "ImError");
    assert!(!s(&e, "message").contains("alice-secret"));
    let failed = c.events("registration");
    let last = failed.last().unwrap();
    assert_eq!(s(last, "state"), "failed");
    assert_eq!(s(last, "error.code"), "auth_failed");
    c.core.close();
}

#[wasm_bindgen_test]
async fn messages_go_out_and_come_in() {
    let (c, sock, mut core) = registered("").await;
    let p = c.core.send_message(
        "sip:bob@imsip.test".into(),
        "héllo ✓".into(),
        JsValue::UNDEFINED,
    );
    pump(&sock, &mut core);
    let r = resolved(p).await;
    assert_eq!(n(&r, "status"), 200.0);
    assert_eq!(s(&r, "reason"), "OK");
    let m = core
        .requests(imsip::message::Method::Message)
        .pop()
        .unwrap()
        .clone();
    assert_eq!(m.body(), "héllo ✓".as_bytes());

    // A rejection carries status and reason.
    core.behaviour.message_status = Some(404);
    let opts = obj(r#"{"contentType":"text/x-test"}"#);
    let p = c
        .core
        .send_message("sip:nobody@imsip.test".into(), "x".into(), opts);
    pump(&sock, &mut core);
    let e = rejected(p).await;
    assert_eq!(s(&e, "code"), "rejected");
    assert_eq!(n(&e, "status"), 404.0);
    assert_eq!(s(&e, "reason"), "Rejected");

    // Bad arguments reject at once (the completion arrives inside the call).
    let e = rejected(
        c.core
            .send_message("bob".into(), "x".into(), JsValue::UNDEFINED),
    )
    .await;
    assert_eq!(s(&e, "code"), "bad_input");
    assert!(s(&e, "message").contains("to"));
    let e = rejected(c.core.send_message(
        "sip:bob@imsip.test".into(),
        5.into(),
        JsValue::UNDEFINED,
    ))
    .await;
    assert!(s(&e, "message").contains("body"));
    let e = rejected(c.core.send_message(
        "sip:bob@imsip.test".into(),
        "x".into(),
        obj(r#"{"content_type":"text/plain"}"#),
    ))
    .await;
    assert!(s(&e, "message").contains("options.content_type"));

    // An incoming MESSAGE becomes a 'message' event (and is answered).
    let body = "grüße 👋";
    let frame = format!(
        "MESSAGE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WSS core.invalid;branch=z9hG4bKm1\r\n\
         Max-Forwards: 70\r\nFrom: \"Bob\" <sip:bob@imsip.test>;tag=b1\r\nTo: <sip:alice@imsip.test>\r\n\
         Call-ID: in-1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.receive(&frame);
    let got = c.events("message");
    assert_eq!(got.len(), 1);
    assert_eq!(s(&got[0], "from"), "sip:bob@imsip.test");
    assert_eq!(s(&got[0], "displayName"), "Bob");
    assert_eq!(s(&got[0], "body"), body);
    assert!(s(&got[0], "contentType").starts_with("text/plain"));
    let answer = sock.take_sent().get(0).as_string().unwrap();
    assert!(answer.starts_with("SIP/2.0 200"));
    c.core.close();
}

#[wasm_bindgen_test]
async fn receipts_and_typing_cross_the_binding() {
    let (c, sock, mut core) = registered("").await;
    // Asking for receipts: resolves with the message's id.
    let p = c.core.send_message(
        "sip:bob@imsip.test".into(),
        "ticks".into(),
        obj(r#"{"imdn":["delivery","display"]}"#),
    );
    pump(&sock, &mut core);
    let r = resolved(p).await;
    assert!(s(&r, "messageId").len() >= 16);
    let m = core
        .requests(imsip::message::Method::Message)
        .pop()
        .unwrap();
    assert!(String::from_utf8_lossy(m.body())
        .contains("imdn.Disposition-Notification: positive-delivery, negative-delivery, display"));
    let e = rejected(c.core.send_message(
        "sip:bob@imsip.test".into(),
        "x".into(),
        obj(r#"{"imdn":["read"]}"#),
    ))
    .await;
    assert_eq!(s(&e, "code"), "bad_input");
    assert!(s(&e, "message").contains("options.imdn"));

    // Typing: checked arguments, one indication.
    let e = rejected(c.core.set_composing(5.into(), true.into())).await;
    assert!(s(&e, "message").contains("to"));
    let e = rejected(
        c.core
            .set_composing("sip:bob@imsip.test".into(), "yes".into()),
    )
    .await;
    assert!(s(&e, "message").contains("active"));
    resolved(
        c.core
            .set_composing("sip:bob@imsip.test".into(), true.into()),
    )
    .await;
    pump(&sock, &mut core);
    let m = core
        .requests(imsip::message::Method::Message)
        .pop()
        .unwrap();
    assert!(String::from_utf8_lossy(m.body()).contains("<state>active</state>"));

    // An incoming CPIM message asking for delivery: the event carries its id and
    // what was asked; the delivery receipt goes by itself.
    let cpim = "From: <sip:bob@imsip.test>\r\nTo: <sip:alice@imsip.test>\r\nNS: imdn <urn:ietf:params:imdn>\r\n\
                imdn.Message-ID: in-42\r\nDateTime: 2026-11-30T01:00:00Z\r\n\
                imdn.Disposition-Notification: positive-delivery\r\n\r\n\
                Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n\r\nhi";
    let frame = format!(
        "MESSAGE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WSS core.invalid;branch=z9hG4bKc1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b1\r\nTo: <sip:alice@imsip.test>\r\n\
         Call-ID: in-c1\r\nCSeq: 1 MESSAGE\r\nContent-Type: message/cpim\r\n\
         Content-Length: {}\r\n\r\n{cpim}",
        cpim.len()
    );
    sock.receive(&frame);
    let got = c.events("message");
    assert_eq!(got.len(), 1);
    assert_eq!(s(&got[0], "messageId"), "in-42");
    assert_eq!(s(&got[0], "body"), "hi");
    assert_eq!(s(&got[0], "dateTime"), "2026-11-30T01:00:00Z");
    assert_eq!(
        Array::from(&get(&got[0], "imdn"))
            .get(0)
            .as_string()
            .as_deref(),
        Some("delivery")
    );
    pump(&sock, &mut core);
    let receipt = core
        .requests(imsip::message::Method::Message)
        .pop()
        .unwrap();
    assert!(String::from_utf8_lossy(receipt.body()).contains("<delivered/>"));

    // markDisplayed: nothing asked → sent false; a detail without id (its sender
    // named none) → sent false; neither a detail nor an id → bad_input.
    let r = resolved(c.core.mark_displayed(got[0].clone())).await;
    assert_eq!(get(&r, "sent").as_bool(), Some(false));
    let r = resolved(c.core.mark_displayed(obj("{}"))).await;
    assert_eq!(get(&r, "sent").as_bool(), Some(false));
    let e = rejected(c.core.mark_displayed(JsValue::from(7))).await;
    assert_eq!(s(&e, "code"), "bad_input");
    c.core.close();
}

/// An INVITE from bob to alice offering `sdp`.
fn invite(call_id: &str, sdp: &str) -> String {
    format!(
        "INVITE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WSS core.invalid;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b1\r\nTo: <sip:alice@imsip.test>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@b.invalid;transport=ws>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn answers(sock: &FakeSocket) -> Vec<String> {
    sock.take_sent()
        .iter()
        .filter_map(|f| f.as_string())
        .collect()
}

#[wasm_bindgen_test]
async fn chat_invitations_cross_the_binding_and_open_an_msrp_socket() {
    // The MSRP options are checked like the others.
    assert_bad_input(
        &options(r#""msrpRelay":"http://relay.invalid/msrp""#),
        "msrpRelay",
    );
    assert_bad_input(
        &options(r#""largeMessageThreshold":-1"#),
        "largeMessageThreshold",
    );
    assert_bad_input(
        &options(r#""maxLargeMessageSize":0"#),
        "maxLargeMessageSize",
    );
    assert_bad_input(
        &options(r#""msrpRelay":{"url":"wss://r.invalid/msrp","uri":"sip:x"}"#),
        "msrpRelay.uri",
    );

    let (c, sock, _core) = registered("").await;
    // No MSRP media in the offer: 488 at once (RFC 3261 §21.4.26).
    let audio = "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";
    sock.receive(&invite("inv-audio", audio));
    assert!(answers(&sock).iter().any(|a| a.starts_with("SIP/2.0 488")));
    assert!(c.events("invitation").is_empty());

    // An MSRP chat offer: an `invitation` event for the app.
    let sdp = "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\na=accept-types:*\r\na=path:msrps://b.invalid:2855/x;ws\r\n";
    sock.receive(&invite("inv-chat", sdp));
    let got = c.events("invitation");
    assert_eq!(got.len(), 1);
    assert_eq!(s(&got[0], "from"), "sip:bob@imsip.test");
    let chat = get(&got[0], "chat");
    assert!(
        answers(&sock).iter().all(|a| !a.starts_with("SIP/2.0 2")),
        "no answer before accept"
    );

    // Accepting opens the relay's socket (default: the server's origin, /msrp) with
    // subprotocol msrp; once open, AUTH goes as a binary frame (RFC 4976 §5.1).
    let before = FakeSocket::count();
    let accepting = c.core.accept_chat(chat.clone());
    assert_eq!(FakeSocket::count(), before + 1);
    let relay = FakeSocket::last();
    let relay_js: JsValue = relay.clone();
    assert_eq!(s(&relay_js, "url"), "wss://core.imsip.test/msrp");
    assert_eq!(relay.protocols().as_string().as_deref(), Some("msrp"));
    relay.open();
    let sent = relay.take_sent();
    assert_eq!(sent.length(), 1);
    let auth = String::from_utf8(js_sys::Uint8Array::new(&sent.get(0)).to_vec()).unwrap();
    assert!(
        auth.starts_with("MSRP ") && auth.contains(" AUTH\r\n"),
        "{auth}"
    );
    assert!(
        auth.contains("To-Path: msrps://core.imsip.test:443;ws\r\n"),
        "{auth}"
    );

    // Closing while the relay is asked: the invitation is declined 603, the MSRP
    // socket closed, the accept rejected `cancelled`.
    let closing = c.core.close_chat(chat.clone());
    assert!(resolved(closing).await.is_undefined());
    let e = rejected(accepting).await;
    assert_eq!(s(&e, "code"), "cancelled");
    assert!(relay.closed());
    assert!(answers(&sock).iter().any(|a| a.starts_with("SIP/2.0 603")));
    // Not an invitation any more.
    let e = rejected(c.core.reject_chat(chat, JsValue::UNDEFINED)).await;
    assert_eq!(s(&e, "code"), "invalid_state");
    let e = rejected(
        c.core
            .chat_send(JsValue::from(99.0), "x".into(), JsValue::UNDEFINED),
    )
    .await;
    assert_eq!(s(&e, "code"), "invalid_state");
    c.core.close();
}

#[wasm_bindgen_test]
async fn settings_publish_fetch_and_watch() {
    let (c, sock, mut core) = registered("").await;
    let p = c.core.publish_service_settings(
        obj(r#"{"visibility":true,"history":{"active":true,"type":2},"sessionMode":"enabled"}"#),
        obj(r#"{"expires":1800}"#),
    );
    pump(&sock, &mut core);
    let r = resolved(p).await;
    assert_eq!(s(&r, "etag"), "e1");
    assert_eq!(n(&r, "expires"), 1800.0);

    let p = c.core.fetch_service_settings();
    pump(&sock, &mut core);
    let got = resolved(p).await;
    assert_eq!(s(&got, "entity"), ALICE);
    assert_eq!(get(&got, "visibility"), JsValue::TRUE);
    assert_eq!(n(&got, "history.type"), 2.0);
    assert!(get(&got, "incomingSessionBarring").is_undefined());
    assert!(s(&got, "extensions.xml").contains("<vis-status active=\"true\"/>"));

    let p = c.core.watch_service_settings();
    pump(&sock, &mut core);
    assert_eq!(n(&resolved(p).await, "expires"), 3600.0);
    let notified = c.events("servicesettings");
    assert_eq!(s(notified.last().unwrap(), "source"), "notify");
    assert_eq!(
        s(notified.last().unwrap(), "settings.sessionMode"),
        "enabled"
    );

    let e = rejected(
        c.core
            .publish_service_settings(obj(r#"{"visibility":1}"#), JsValue::UNDEFINED),
    )
    .await;
    assert_eq!(s(&e, "code"), "bad_input");
    assert!(s(&e, "message").contains("settings.visibility"));

    let p = c.core.remove_service_settings();
    pump(&sock, &mut core);
    assert!(resolved(p).await.is_undefined());
    let p = c.core.unregister();
    pump(&sock, &mut core);
    assert!(resolved(p).await.is_undefined());
    c.core.close();
}

#[wasm_bindgen_test]
async fn a_lost_flow_rejects_with_transport_and_close_ends_everything() {
    let c = Client::new(&options(""));
    let p = c.core.register();
    let sock = FakeSocket::last();
    sock.open();
    sock.lose();
    let e = rejected(p).await;
    assert_eq!(s(&e, "code"), "transport");
    let conn = c.events("connection");
    let last = conn.last().unwrap();
    assert_eq!(s(last, "state"), "disconnected");
    assert!(n(last, "retryIn") > 0.0, "reconnect scheduled");

    // close(): the pending command rejects, later ones too, no socket is opened.
    let pending = c.core.fetch_service_settings();
    c.core.close();
    assert_eq!(s(&rejected(pending).await, "code"), "invalid_state");
    let count = FakeSocket::count();
    assert_eq!(
        s(&rejected(c.core.register()).await, "code"),
        "invalid_state"
    );
    assert_eq!(FakeSocket::count(), count);
    c.core.close(); // twice is fine
}

#[wasm_bindgen_test]
async fn a_listener_may_call_back_into_the_client() {
    // The 'registration' listener sends a MESSAGE and the 'message' listener closes
    // the client (from inside the socket's own message handler): the state is not
    // held while JS callbacks run, and closing frees the running handler safely.
    let rec = recorder();
    let slot: std::rc::Rc<std::cell::RefCell<Option<ImClientCore>>> = Default::default();
    let promises = Array::new();
    let (slot2, promises2, rec2) = (slot.clone(), promises.clone(), rec.clone());
    let emit = Closure::<dyn FnMut(String, JsValue)>::new(move |kind: String, detail: JsValue| {
        let _ = get(&rec2, "emit").dyn_into::<Function>().unwrap().call2(
            &JsValue::NULL,
            &kind.clone().into(),
            &detail,
        );
        if kind == "registration" && s(&detail, "state") == "registered" {
            if let Some(core) = slot2.borrow().as_ref() {
                promises2.push(&core.send_message(
                    "sip:bob@imsip.test".into(),
                    "from a listener".into(),
                    JsValue::UNDEFINED,
                ));
            }
        }
        if kind == "message" {
            if let Some(core) = slot2.borrow().as_ref() {
                core.close();
            }
        }
    });
    let core = ImClientCore::new(
        options(""),
        emit.as_ref().unchecked_ref::<Function>().clone(),
    )
    .unwrap();
    let p = core.register();
    *slot.borrow_mut() = Some(core);
    let sock = FakeSocket::last();
    sock.open();
    let mut fake = FakeCore::with_password("alice-secret");
    pump(&sock, &mut fake);
    resolved(p).await;
    assert_eq!(promises.length(), 1);
    let r = resolved(promises.get(0).into()).await;
    assert_eq!(n(&r, "status"), 200.0);

    let frame = "MESSAGE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WSS core.invalid;branch=z9hG4bKm2\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b2\r\nTo: <sip:alice@imsip.test>\r\n\
         Call-ID: in-2\r\nCSeq: 1 MESSAGE\r\nContent-Length: 3\r\n\r\nbye";
    sock.receive(frame);
    assert!(sock.closed(), "closed from the listener");
    let pending = slot.borrow().as_ref().map(|c| c.register()).unwrap();
    assert_eq!(s(&rejected(pending).await, "code"), "invalid_state");
    // The old handlers are detached: a late event is ignored.
    sock.receive(frame);
    sock.lose();
}

// ───────────────────────────── codecs ─────────────────────────────

// parseMessage's fields are read by the JS shim from the index (js/test/parse.test.mjs
// checks them through the package); here: the export itself.

#[wasm_bindgen_test]
fn parse_index_leaves_an_index_in_memory() {
    let frame = "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
        To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 17 MESSAGE\r\n\r\n";
    let at = parse_index(frame).unwrap();
    let memory: js_sys::WebAssembly::Memory = wasm_memory().unchecked_into();
    let words = js_sys::Uint32Array::new(&memory.buffer());
    let word = |i: usize| words.get_index((at / 4 + i) as u32);
    assert!(word(0) > 30, "index length");
    assert_eq!(word(1) & 1, 0, "a response");
    assert_eq!(word(2), 200);
    assert_eq!(word(3), 17);
    // Call-ID span: the "x" after "Call-ID: ".
    let (s, e) = (word(10) as usize, word(11) as usize);
    assert_eq!(&frame[s..e], "x");
    assert_eq!(parse_side(), "");
}

#[wasm_bindgen_test]
fn parse_index_refuses_what_it_cannot_use() {
    for bad in [
        "",
        "hello",
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\r\n",
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: nope\r\n\r\n",
        "SIP/2.0 200 OK\r\nContent-Length: 99\r\n\r\nshort",
    ] {
        let e = parse_index(bad).expect_err(bad);
        assert_eq!(s(&e, "code"), "bad_input", "{bad:?}");
        assert!(s(&e, "message").starts_with("invalid SIP message"));
    }
}

#[wasm_bindgen_test]
fn settings_round_trip_keeps_unknown_content() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<service-settings xmlns="urn:oma:xml:im:service-settings" xmlns:x="urn:example:x" x:root="1">
  <entity id="sip:other@imsip.test"><active>false</active></entity>
  <entity id="sip:alice@imsip.test">
    <isb-settings><incoming-session-barring active="false"/></isb-settings>
    <x:custom level="3">keep me</x:custom>
    <service-id>org.openmobilealliance:IM-session</service-id>
  </entity>
</service-settings>"#;
    let s0 = decode_service_settings(xml, Some(ALICE.into())).unwrap();
    assert_eq!(s(&s0, "entity"), ALICE);
    assert_eq!(get(&s0, "incomingSessionBarring"), JsValue::FALSE);
    assert_eq!(s(&s0, "serviceId"), "org.openmobilealliance:IM-session");
    assert_eq!(s(&s0, "extensions.xml"), xml);
    // Without an AoR: the first entity.
    let first = decode_service_settings(xml, None).unwrap();
    assert_eq!(s(&first, "entity"), "sip:other@imsip.test");

    // Read-modify-write: change one field, drop another, add one.
    Reflect::set(&s0, &"incomingSessionBarring".into(), &JsValue::TRUE).unwrap();
    Reflect::delete_property(&s0.clone().unchecked_into::<Object>(), &"serviceId".into()).unwrap();
    Reflect::set(&s0, &"visibility".into(), &JsValue::FALSE).unwrap();
    let out = encode_service_settings(s0).unwrap();
    assert!(
        out.contains(r#"<incoming-session-barring active="true"/>"#),
        "{out}"
    );
    assert!(out.contains(r#"<vis-status active="false"/>"#), "{out}");
    assert!(!out.contains("service-id"), "{out}");
    assert!(
        out.contains("keep me") && out.contains(r#"level="3""#),
        "{out}"
    );
    assert!(out.contains("sip:other@imsip.test"), "{out}");
    let again = decode_service_settings(&out, Some(ALICE.into())).unwrap();
    assert_eq!(get(&again, "incomingSessionBarring"), JsValue::TRUE);

    // A fresh document from typed fields only.
    let fresh = encode_service_settings(obj(
        r#"{"entity":"sip:bob@imsip.test","offlineDelivery":true,"history":{"active":false},"active":true}"#,
    ))
    .unwrap();
    let back = decode_service_settings(&fresh, None).unwrap();
    assert_eq!(s(&back, "entity"), "sip:bob@imsip.test");
    assert_eq!(get(&back, "offlineDelivery"), JsValue::TRUE);
    assert_eq!(get(&back, "history.active"), JsValue::FALSE);
    assert!(get(&back, "history.type").is_undefined());
    assert_eq!(get(&back, "active"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn settings_codec_errors_are_bad_input() {
    let e = encode_service_settings(obj(r#"{"visibility":true}"#)).unwrap_err();
    assert_eq!(s(&e, "code"), "bad_input");
    assert!(s(&e, "message").contains("settings.entity"));
    let e = encode_service_settings(obj(
        r#"{"entity":"sip:a@b","history":{"active":true,"type":-1}}"#,
    ))
    .unwrap_err();
    assert!(s(&e, "message").contains("settings.history.type"));
    let e = decode_service_settings("<!DOCTYPE x><service-settings/>", None).unwrap_err();
    assert_eq!(s(&e, "code"), "bad_input");
    let e = decode_service_settings("<other xmlns=\"urn:x\"/>", None).unwrap_err();
    assert!(s(&e, "message").contains("service settings"));
}

#[wasm_bindgen_test]
fn version_is_the_crate_version() {
    assert_eq!(version(), env!("CARGO_PKG_VERSION"));
}
