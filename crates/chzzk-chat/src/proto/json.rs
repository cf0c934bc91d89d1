//! Tolerant readers over `serde_json::Value`: the server mixes key spellings, sends numbers as
//! strings, and nests JSON documents inside strings.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// A view of a JSON object that reads the first present key among spellings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'a>(pub(crate) &'a Map<String, Value>);

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Obj<'a> {
    /// The object behind `v`, or an empty one.
    pub(crate) fn of(v: &'a Value) -> Self {
        Self(v.as_object().unwrap_or(&EMPTY))
    }

    /// The first key among `keys` that is present and not null.
    pub(crate) fn get(self, keys: &[&str]) -> Option<&'a Value> {
        keys.iter()
            .find_map(|k| self.0.get(*k).filter(|v| !v.is_null()))
    }

    /// A string; numbers and booleans are rendered as text.
    pub(crate) fn str(self, keys: &[&str]) -> Option<String> {
        match self.get(keys)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// [`str`](Self::str) handed to `f` without a copy (for codes parsed into enums).
    pub(crate) fn map_str<T>(self, keys: &[&str], f: impl FnOnce(&str) -> T) -> Option<T> {
        match self.get(keys)? {
            Value::String(s) => Some(f(s)),
            Value::Number(n) => Some(f(&n.to_string())),
            Value::Bool(b) => Some(f(if *b { "true" } else { "false" })),
            _ => None,
        }
    }

    /// An integer; numeric strings and whole floats are accepted.
    pub(crate) fn i64(self, keys: &[&str]) -> Option<i64> {
        as_i64(self.get(keys)?)
    }

    /// A non-negative integer.
    pub(crate) fn u64(self, keys: &[&str]) -> Option<u64> {
        self.i64(keys).and_then(|n| u64::try_from(n).ok())
    }

    /// A boolean; `"true"`/`"false"` strings and 0/1 are accepted.
    pub(crate) fn bool(self, keys: &[&str]) -> Option<bool> {
        match self.get(keys)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.as_str() {
                "true" | "TRUE" | "True" => Some(true),
                "false" | "FALSE" | "False" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        }
    }

    /// A nested JSON document that may arrive as a string, an object, `"{}"`, null or garbage
    /// (garbage and null give `None`).
    pub(crate) fn nested(self, keys: &[&str]) -> Option<Value> {
        nested(self.get(keys)?)
    }

    /// A sub-object (decoded from a string when needed).
    pub(crate) fn obj(self, keys: &[&str]) -> Option<Value> {
        self.nested(keys).filter(Value::is_object)
    }

    /// An array of values (decoded from a string when needed); empty when absent.
    pub(crate) fn array(self, keys: &[&str]) -> Vec<Value> {
        match self.nested(keys) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        }
    }

    /// [`obj`](Self::obj) without copying a sub-object that is already one (the hot path:
    /// every chat line's profile).
    pub(crate) fn obj_ref(self, keys: &[&str]) -> Option<Cow<'a, Value>> {
        match self.get(keys)? {
            v @ Value::Object(_) => Some(Cow::Borrowed(v)),
            v => nested(v).filter(Value::is_object).map(Cow::Owned),
        }
    }

    /// [`array`](Self::array) without copying an array that is already one.
    pub(crate) fn array_ref(self, keys: &[&str]) -> Cow<'a, [Value]> {
        match self.get(keys) {
            Some(Value::Array(a)) => Cow::Borrowed(a.as_slice()),
            Some(v) => match nested(v) {
                Some(Value::Array(a)) => Cow::Owned(a),
                _ => Cow::Borrowed(&[]),
            },
            None => Cow::Borrowed(&[]),
        }
    }
}

/// Reads an integer from a number or a numeric string.
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            #[allow(clippy::cast_possible_truncation)]
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Decodes a JSON document nested in a string; objects and arrays pass through.
pub(crate) fn nested(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) | Value::Array(_) => Some(v.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spellings_and_coercions() {
        let v = json!({"msg": "hi", "messageTime": "1790000000001", "n": 2.0, "b": "true", "nul": null, "cid": 5});
        let o = Obj::of(&v);
        assert_eq!(o.str(&["content", "msg"]).as_deref(), Some("hi"));
        assert_eq!(o.i64(&["msgTime", "messageTime"]), Some(1_790_000_000_001));
        assert_eq!(o.i64(&["n"]), Some(2));
        assert_eq!(o.bool(&["b"]), Some(true));
        assert_eq!(o.str(&["nul", "cid"]).as_deref(), Some("5"));
        assert_eq!(o.str(&["missing"]), None);
    }

    #[test]
    fn nested_documents() {
        assert_eq!(nested(&json!("{\"a\":1}")), Some(json!({"a": 1})));
        assert_eq!(nested(&json!({"a": 1})), Some(json!({"a": 1})));
        assert_eq!(nested(&json!("{}")), Some(json!({})));
        assert_eq!(nested(&json!("not json")), None);
        assert_eq!(nested(&json!("3")), None);
        assert_eq!(nested(&Value::Null), None);
        assert!(Obj::of(&json!("garbage")).str(&["x"]).is_none());
    }
}
