//! `cargo run --release --example parse -- FILE`
//!
//! Reads one SIP message (raw bytes) and prints one JSON object describing it on
//! stdout. An invalid message prints the typed error on stderr and exits with
//! status 2. Every typed header that is present is read, so a malformed header
//! is reported even when this output does not show it.

use imsip::message::{Contacts, Message, NameAddr, StartLine};
use serde_json::{json, Map, Value};
use std::process::ExitCode;

fn name_addr(n: &NameAddr) -> Value {
    json!({ "uri": n.uri.as_str(), "tag": n.tag(), "display": n.display })
}

fn describe(msg: &Message) -> Result<Value, imsip::message::ParseError> {
    msg.validate()?;
    let mut o = Map::new();
    match msg.start_line() {
        StartLine::Request { method, uri } => {
            o.insert("kind".into(), json!("request"));
            o.insert("method".into(), json!(method.as_str()));
            o.insert("uri".into(), json!(uri.as_str()));
        }
        StartLine::Response { status, reason } => {
            o.insert("kind".into(), json!("response"));
            o.insert("status".into(), json!(status));
            o.insert("reason".into(), json!(reason));
        }
    }
    o.insert("call_id".into(), json!(msg.call_id()?));
    let cseq = msg.cseq()?;
    o.insert(
        "cseq".into(),
        json!({ "seq": cseq.seq, "method": cseq.method.as_str() }),
    );
    o.insert("from".into(), name_addr(&msg.from()?));
    o.insert("to".into(), name_addr(&msg.to()?));
    let via: Vec<Value> = msg
        .via()?
        .iter()
        .map(|v| {
            let rport = match v.rport() {
                None => Value::Null,
                Some(None) => json!(true),
                Some(Some(p)) => json!(p),
            };
            json!({
                "transport": v.transport,
                "host": v.host.to_string(),
                "port": v.port,
                "branch": v.branch(),
                "received": v.received(),
                "rport": rport,
            })
        })
        .collect();
    o.insert("via".into(), Value::Array(via));
    match msg.contacts()? {
        None => {}
        Some(Contacts::Star) => {
            o.insert("contact".into(), json!("*"));
        }
        Some(Contacts::List(list)) => {
            let c: Vec<Value> = list
                .iter()
                .map(|c| {
                    let params: Map<String, Value> = c
                        .params
                        .iter()
                        .map(|p| {
                            (
                                p.name.clone(),
                                p.value.clone().map_or(json!(true), Value::String),
                            )
                        })
                        .collect();
                    json!({ "uri": c.uri.as_str(), "display": c.display, "params": params })
                })
                .collect();
            o.insert("contact".into(), Value::Array(c));
        }
    }
    o.insert("headers".into(), json!(msg.header_count()));
    if let Some(ct) = msg.content_type()? {
        o.insert("content_type".into(), json!(ct.to_string()));
    }
    o.insert("body_bytes".into(), json!(msg.body().len()));
    Ok(Value::Object(o))
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse FILE");
        return ExitCode::from(64);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.to_string_lossy());
            return ExitCode::from(66);
        }
    };
    match Message::parse(&bytes).and_then(|m| describe(&m)) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
