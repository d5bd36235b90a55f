//! Plain JS objects in and out.
//!
//! Out: [`Obj`] builds an object property by property (`Reflect.set`); absent
//! optional values are left out, so TypeScript's `field?: T` holds.
//!
//! In: [`Fields`] reads an options-like object key by key, refusing unknown keys and
//! values of the wrong type with a `bad_input` error naming the field by its path
//! (`aka.k`, `reconnect.minDelay`). Error texts never include a value: some fields
//! hold secrets.

use crate::ua::UaError;
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A plain object under construction.
pub(crate) struct Obj(Object);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj(Object::new())
    }

    pub(crate) fn set(&self, key: &str, value: &JsValue) -> &Self {
        // Reflect.set on a fresh ordinary object cannot throw.
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), value);
        self
    }

    pub(crate) fn str(&self, key: &str, value: &str) -> &Self {
        self.set(key, &JsValue::from_str(value))
    }

    pub(crate) fn opt_str(&self, key: &str, value: Option<&str>) -> &Self {
        if let Some(v) = value {
            self.str(key, v);
        }
        self
    }

    pub(crate) fn num(&self, key: &str, value: f64) -> &Self {
        self.set(key, &JsValue::from_f64(value))
    }

    pub(crate) fn opt_num(&self, key: &str, value: Option<f64>) -> &Self {
        if let Some(v) = value {
            self.num(key, v);
        }
        self
    }

    pub(crate) fn opt_bool(&self, key: &str, value: Option<bool>) -> &Self {
        if let Some(v) = value {
            self.set(key, &JsValue::from_bool(v));
        }
        self
    }

    pub(crate) fn strings(&self, key: &str, values: &[String]) -> &Self {
        self.set(key, &str_array(values.iter().map(String::as_str)))
    }

    pub(crate) fn done(self) -> JsValue {
        self.0.into()
    }
}

/// A JS array of strings.
pub(crate) fn str_array<'a>(values: impl Iterator<Item = &'a str>) -> JsValue {
    let a = Array::new();
    for v in values {
        a.push(&JsValue::from_str(v));
    }
    a.into()
}

fn bad(path: &str, key: &str, what: &str) -> UaError {
    UaError::BadInput(format!("{}: {what}", join(path, key)))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Levenshtein distance, for "did you mean" on a misspelt key (keys are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
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

/// Reads the fields of one object argument.
pub(crate) struct Fields<'a> {
    obj: Object,
    path: &'a str,
}

impl<'a> Fields<'a> {
    /// `value` must be a plain object whose own enumerable keys are all in `known`.
    /// `path` names the object in errors (`""` for the top-level options).
    pub(crate) fn new(value: &JsValue, path: &'a str, known: &[&str]) -> Result<Self, UaError> {
        let what = if path.is_empty() { "options" } else { path };
        if !value.is_object() || Array::is_array(value) || value.is_function() {
            return Err(UaError::BadInput(format!("{what}: must be an object")));
        }
        let obj: Object = value.clone().unchecked_into();
        for key in Object::keys(&obj).iter() {
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                let hint = known
                    .iter()
                    .map(|k| (distance(&key, k), *k))
                    .min()
                    .filter(|(d, _)| *d <= 2)
                    .map(|(_, k)| format!(" (did you mean {}?)", join(path, k)))
                    .unwrap_or_default();
                let expected = known.join(", ");
                return Err(UaError::BadInput(format!(
                    "{}: unknown {}{hint}; expected one of {expected}",
                    join(path, &key),
                    if path.is_empty() { "option" } else { "field" },
                )));
            }
        }
        Ok(Fields { obj, path })
    }

    /// The value of `key`, `None` when absent or `undefined`.
    pub(crate) fn get(&self, key: &str) -> Option<JsValue> {
        Reflect::get(&self.obj, &JsValue::from_str(key))
            .ok()
            .filter(|v| !v.is_undefined())
    }

    pub(crate) fn path(&self, key: &str) -> String {
        join(self.path, key)
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, UaError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(Some)
                .ok_or_else(|| bad(self.path, key, "must be a string")),
        }
    }

    pub(crate) fn required_string(&self, key: &str) -> Result<String, UaError> {
        self.string(key)?
            .ok_or_else(|| bad(self.path, key, "is required (a string)"))
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, UaError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| bad(self.path, key, "must be a boolean")),
        }
    }

    /// A finite number in `min..=max`; `range` says it in words for the error.
    pub(crate) fn number(
        &self,
        key: &str,
        min: f64,
        max: f64,
        range: &str,
    ) -> Result<Option<f64>, UaError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n >= min && n <= max => Ok(Some(n)),
                Some(_) => Err(bad(self.path, key, &format!("must be {range}"))),
                None => Err(bad(self.path, key, "must be a number")),
            },
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, UaError> {
        // Integers only: formatting an f64 would pull float printing into the wasm.
        let range = format!("a whole number from {min} to {max}");
        match self.number(key, f64::from(min), f64::from(max), &range)? {
            None => Ok(None),
            // In range and integral, so the cast is exact.
            Some(n) if n.fract() == 0.0 => Ok(Some(n as u32)),
            Some(_) => Err(bad(self.path, key, "must be a whole number")),
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&self, key: &str) -> Result<Option<Vec<String>>, UaError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if Array::is_array(&v) => {
                let arr: Array = v.unchecked_into();
                arr.iter()
                    .map(|item| {
                        item.as_string()
                            .ok_or_else(|| bad(self.path, key, "must be an array of strings"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            }
            Some(_) => Err(bad(self.path, key, "must be an array of strings")),
        }
    }

    pub(crate) fn function(&self, key: &str) -> Result<Option<Function>, UaError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .dyn_into::<Function>()
                .map(Some)
                .map_err(|_| bad(self.path, key, "must be a constructor function")),
        }
    }
}
