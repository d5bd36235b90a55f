//! Plain JS objects in and out, through serde-wasm-bindgen with derived
//! (de)serializers.
//!
//! Out: [`write`] turns a `#[derive(Serialize)]` detail into a plain object; optional
//! fields are `#[serde(skip_serializing_if = "Option::is_none")]`, so an absent value
//! is an absent key and TypeScript's `field?: T` holds.
//!
//! In: [`read`] deserializes an options-like object into a `#[derive(Deserialize)]`
//! struct whose leaf fields are [`Val`]s and whose object fields are [`Sub`]s. Every
//! refusal is a `bad_input` error naming the field by its path (`aka.k`,
//! `reconnect.minDelay`): unknown keys (checked against the field list the derived
//! code declares), wrong types ([`field`]), values out of range ([`check`]). A type
//! or range error never includes the value, and no error includes a secret (password,
//! HA1, AKA keys); a malformed URL or media type may be quoted.

use crate::ua::UaError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wasm_bindgen::{JsCast, JsValue};

/// Reads `value` (the argument called `path` in errors; `""` for the top-level
/// options) into `T`. `undefined` and `null` read as an empty object, so a `T` whose
/// fields are all optional takes them.
// Only the derived deserializer is generic: the checks and the error text are one
// copy ([`object`], [`refused`]) shared by every `T`.
pub(crate) fn read<T: DeserializeOwned>(value: &JsValue, path: &str) -> Result<T, UaError> {
    let value = object(value, path, fields_of::<T>())?;
    // Leaf fields are `Val`s and object fields `Sub`s: neither fails here.
    serde_wasm_bindgen::from_value(value).map_err(|e| refused(&e, path))
}

/// `value` as an object to deserialize, `undefined` and `null` as an empty one; the
/// refusal of a non-object or of a key not in `known`.
fn object(value: &JsValue, path: &str, known: &[&str]) -> Result<JsValue, UaError> {
    let what = if path.is_empty() { "options" } else { path };
    let value = if value.is_undefined() || value.is_null() {
        js_sys::Object::new().into()
    } else if !value.is_object() || js_sys::Array::is_array(value) || value.is_function() {
        return Err(UaError::BadInput(format!("{what}: must be an object")));
    } else {
        value.clone()
    };
    // serde-wasm-bindgen reads a struct by looking up its fields, so it never sees
    // another key (`deny_unknown_fields` cannot fire): the keys are checked here,
    // against the field list the derived code itself declares.
    let object: &js_sys::Object = value.unchecked_ref();
    for key in js_sys::Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(UaError::BadInput(unknown(path, &key, known)));
        }
    }
    Ok(value)
}

/// serde-wasm-bindgen's error, the text naming the field from `path` down.
fn refused(e: &serde_wasm_bindgen::Error, path: &str) -> UaError {
    // serde-wasm-bindgen's error is a JS `Error`: its text is "Error: ...".
    let text = e.to_string();
    UaError::BadInput(format!(
        "{path}: {}",
        text.strip_prefix("Error: ").unwrap_or(&text)
    ))
}

/// An object field (`aka`, `reconnect`, `serviceSettings.history`): kept as it
/// came and read with [`Sub::read`], which knows its path, like the options
/// themselves; or a value to write.
pub(crate) enum Sub<T> {
    Raw(JsValue),
    Value(T),
}

impl<T: DeserializeOwned> Sub<T> {
    /// The object, read as the field at `path`.
    pub(crate) fn read(self, path: &str) -> Result<T, UaError> {
        match self {
            Sub::Raw(value) => read(&value, path),
            Sub::Value(v) => Ok(v),
        }
    }
}

impl<'de, T> Deserialize<'de> for Sub<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Js::deserialize(d).map(|Js(value)| Sub::Raw(value))
    }
}

impl<T: Serialize> Serialize for Sub<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Sub::Raw(value) => serde_wasm_bindgen::preserve::serialize(value, s),
            Sub::Value(v) => v.serialize(s),
        }
    }
}

/// The field names `T`'s derived `Deserialize` asks a struct for (none when `T` is
/// not a struct).
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe(&'static [&'static str]);
    impl<'de> Deserializer<'de> for &mut Probe {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom(""))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(serde::de::Error::custom(""))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }
    let mut probe = Probe(&[]);
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// The refusal of key `key` of the object at `path`, with a "did you mean".
fn unknown(path: &str, key: &str, known: &[&str]) -> String {
    let mut at = path.to_owned();
    push_key(&mut at, key);
    let parent = &at[..at.len() - key.len()];
    let hint = known
        .iter()
        .map(|k| (distance(key, k), *k))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, k)| format!(" (did you mean {parent}{k}?)"))
        .unwrap_or_default();
    let what = if parent.is_empty() { "option" } else { "field" };
    format!(
        "{at}: unknown {what}{hint}; expected one of {}",
        known.join(", ")
    )
}

/// A leaf field as read: the value, or what it should have been. A wrong type is
/// kept rather than failed at once so that [`field`] can name the field (serde's
/// own error would not, and quotes the value).
pub(crate) enum Val<T> {
    Ok(T),
    Wrong,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Val<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(T::deserialize(d).map_or(Val::Wrong, Val::Ok))
    }
}

impl<T: Serialize> Serialize for Val<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Ok(v) => v.serialize(s),
            Val::Wrong => s.serialize_unit(),
        }
    }
}

/// What a leaf type is, in the words of an error.
pub(crate) trait Expected {
    const WHAT: &'static str;
}

impl Expected for String {
    const WHAT: &'static str = "a string";
}

impl Expected for f64 {
    const WHAT: &'static str = "a number";
}

impl Expected for bool {
    const WHAT: &'static str = "a boolean";
}

impl Expected for Vec<String> {
    const WHAT: &'static str = "an array of strings";
}

/// The value of the leaf field at `path` (`None`: absent, `undefined` or `null`).
#[inline(never)]
pub(crate) fn field<T: Expected>(value: Option<Val<T>>, path: &str) -> Result<Option<T>, UaError> {
    match value {
        None => Ok(None),
        Some(Val::Ok(v)) => Ok(Some(v)),
        Some(Val::Wrong) => Err(UaError::BadInput(format!("{path}: must be {}", T::WHAT))),
    }
}

/// The value of the required leaf field at `path`.
#[inline(never)]
pub(crate) fn required<T: Expected>(value: Option<Val<T>>, path: &str) -> Result<T, UaError> {
    field(value, path)?
        .ok_or_else(|| UaError::BadInput(format!("{path}: is required ({})", T::WHAT)))
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Levenshtein distance, for "did you mean" on a misspelt key (keys are short; in
/// bytes: every known key is ASCII, so a non-ASCII key is far from all of them anyway).
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            let sub = prev + usize::from(!ca.eq_ignore_ascii_case(cb));
            row[j + 1] = sub.min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `value` as a plain JS object (or array, string, number: whatever it serializes to).
pub(crate) fn write<T: Serialize + ?Sized>(value: &T) -> JsValue {
    // Cannot fail for the details of this binding: no map keys, no number above
    // 2^53 (ids count from 1 and are well below), no unsupported type.
    value
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .unwrap_or(JsValue::UNDEFINED)
}

/// A JS value carried through serde as it is (an `ImError`, a `Date`, a function).
#[derive(Clone)]
pub(crate) struct Js(pub JsValue);

impl Serialize for Js {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Js {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_wasm_bindgen::preserve::deserialize(d).map(Js)
    }
}

/// A message body for JS: a string for `text/*` (UTF-8, lossy), else a `Uint8Array`.
pub(crate) enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

impl Body {
    /// A pager-mode body: a string when it is UTF-8 (text, JSON, XML, ...), else the
    /// bytes (a binary body, which arrived in a binary frame).
    pub(crate) fn utf8_or_bytes(bytes: Vec<u8>) -> Body {
        match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Bytes(e.into_bytes()),
        }
    }

    pub(crate) fn new(content_type: &str, bytes: Vec<u8>) -> Body {
        let bare = content_type.trim_start().as_bytes();
        if bare.len() >= 5 && bare[..5].eq_ignore_ascii_case(b"text/") {
            Body::Text(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            Body::Bytes(bytes)
        }
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Body::Text(t) => s.serialize_str(t),
            // serde-wasm-bindgen: a Uint8Array copied out of wasm memory.
            Body::Bytes(b) => s.serialize_bytes(b),
        }
    }
}

/// Checks of option values the types alone do not make. Texts never quote the value.
pub(crate) mod check {
    use crate::ua::UaError;

    fn bad(path: &str, what: &str) -> UaError {
        UaError::BadInput(format!("{path}: {what}"))
    }

    /// A finite number in `min..=max`; `range` says it in words for the error.
    // Not inlined (nor `integer`, `field`, `required`): called for most options, each
    // copy would bring its error formatting along.
    #[inline(never)]
    pub(crate) fn number(
        path: &str,
        value: Option<f64>,
        min: f64,
        max: f64,
        range: &str,
    ) -> Result<Option<f64>, UaError> {
        match value {
            Some(n) if !(n.is_finite() && n >= min && n <= max) => {
                Err(bad(path, &format!("must be {range}")))
            }
            v => Ok(v),
        }
    }

    /// A whole number in `min..=max`.
    #[inline(never)]
    pub(crate) fn integer(
        path: &str,
        value: Option<f64>,
        min: u32,
        max: u32,
    ) -> Result<Option<u32>, UaError> {
        match value {
            None => Ok(None),
            // In range and integral, so the cast is exact.
            Some(n) if n >= f64::from(min) && n <= f64::from(max) && n.fract() == 0.0 => {
                Ok(Some(n as u32))
            }
            // Integers only: formatting an f64 would pull float printing into the wasm.
            Some(_) => Err(bad(
                path,
                &format!("must be a whole number from {min} to {max}"),
            )),
        }
    }
}
