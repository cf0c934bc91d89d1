//! What the hostile-input tests have in common: each crate's `tests/mutations.rs` and the
//! bodies of the fuzz targets (`fuzz/`).
//!
//! - Inputs: the fixtures' own payloads ([`fixture_lines`], [`payload_text`]) and how many
//!   mutations to make ([`count`]).
//! - Byte mutations: [`flip_bit`], [`cut`], [`insert_byte`], [`repeat_run`].
//! - JSON mutations: [`replace_node`] puts a value where a node was, [`hostile_value`] draws
//!   one of the values that break decoders written for the happy path.
//! - The property every decoder shares: an error keeps the very value it could not decode
//!   ([`assert_kept`], built on [`holds`] and [`without_nulls`]), and says why ([`why`]).
//!
//! Every draw comes from a seeded [`Rng`], so a seed names a reproducible case. The draws each
//! function makes, and their order, are part of its contract: changing them changes the cases
//! of every test that uses it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::rng::Rng;

/// How many mutations a test makes (per input, or in all, as the test says): the number in
/// the `MUTATIONS` environment variable, else `default`.
pub fn count(default: usize) -> usize {
    std::env::var("MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Every line of the `*.jsonl` files in `dir` that is JSON, files in name order (the
/// directory is not searched recursively).
///
/// # Panics
/// When `dir` or one of its fixtures cannot be read: a test without its inputs proves
/// nothing.
pub fn fixture_lines(dir: impl AsRef<Path>) -> Vec<Value> {
    let dir = dir.as_ref();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// The payload of a fixture step (a WebSocket frame, or an HTTP step's `response`) as text:
/// its `json`, serialised, or its `text`. `None` when it has neither (a `b64` payload, or no
/// payload). Placeholders stay as they are: to a decoder they are just more strings.
pub fn payload_text(step: &Value) -> Option<String> {
    match (&step["json"], &step["text"]) {
        (Value::Null, Value::String(t)) => Some(t.clone()),
        (Value::Null, _) => None,
        (j, _) => Some(j.to_string()),
    }
}

/// Every byte value, in order: [`insert_byte`] draws from it to insert any byte at all.
pub const ANY_BYTE: [u8; 256] = {
    let mut all = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation)] // i < 256
        {
            all[i] = i as u8;
        }
        i += 1;
    }
    all
};

/// Flips one bit of one byte (two draws: the byte, then the bit). Does nothing to an empty
/// input.
pub fn flip_bit(bytes: &mut [u8], rng: &mut Rng) {
    if bytes.is_empty() {
        return;
    }
    let i = rng.below(bytes.len());
    bytes[i] ^= 1 << rng.below(8);
}

/// Cuts the input short at a random length below its own (one draw).
pub fn cut(bytes: &mut Vec<u8>, rng: &mut Rng) {
    bytes.truncate(rng.below(bytes.len()));
}

/// Inserts one byte drawn from `from` at a random place (two draws: the place, then the
/// byte). [`ANY_BYTE`] inserts any byte; a short list of structural characters
/// (`b"{}[]\",:"`) breaks JSON more often.
///
/// # Panics
/// When `from` is empty.
pub fn insert_byte(bytes: &mut Vec<u8>, from: &[u8], rng: &mut Rng) {
    let i = rng.below(bytes.len());
    bytes.insert(i, from[rng.below(from.len())]);
}

/// Repeats a random run of the input in place: `abcd` may become `abcbcd` (two draws, the
/// run's ends).
pub fn repeat_run(bytes: &mut Vec<u8>, rng: &mut Rng) {
    let (a, b) = (rng.below(bytes.len()), rng.below(bytes.len()));
    let (a, b) = (a.min(b), a.max(b));
    let run = bytes[a..b].to_vec();
    bytes.splice(a..a, run);
}

/// `depth` arrays nested around `1`: `[[[...1...]]]` (`serde_json` refuses to parse more
/// than 128 levels, so anything deeper than a decoder expects but below that is fair).
pub fn deep_nesting(depth: usize) -> Value {
    (0..depth).fold(json!(1), |v, _| Value::Array(vec![v]))
}

/// A value that breaks decoders written for the happy path (one draw): null, a boolean, a
/// negative number, a huge float, `u64::MAX`, the empty string, `tricky`, 300 Hangul
/// syllables, an empty array, an empty object, 120 nested arrays, or one of `extras`, in
/// that order.
///
/// `tricky` is a string aimed at the decoder's own parsing of strings (a nested JSON
/// document cut short, HTML entities); `extras` are the crate's own, such as a valid
/// frame where a field should be.
pub fn hostile_value(rng: &mut Rng, tricky: &str, extras: &[Value]) -> Value {
    match rng.below(11 + extras.len()) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!(tricky),
        7 => json!("가".repeat(300)),
        8 => json!([]),
        9 => json!({}),
        10 => deep_nesting(120),
        i => extras[i - 11].clone(),
    }
}

/// Whether [`replace_node`] also counts, and replaces, the nodes of JSON documents nested in
/// strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NestedJson {
    /// A string is one node, whatever it holds.
    Opaque,
    /// A string starting with `{` that parses is its document's nodes (chzzk nests its
    /// profile and extras this way); the replacement is written back as a string.
    Descend,
}

/// Replaces the `index`th node of `v` (in preorder: `v` itself is node 0) by
/// `replacement(rng)`. Returns whether `v` had that many nodes; when it had not, nothing
/// changes and nothing is drawn.
pub fn replace_node(
    v: &mut Value,
    index: usize,
    nested: NestedJson,
    replacement: fn(&mut Rng) -> Value,
    rng: &mut Rng,
) -> bool {
    let mut left = index;
    replace_at(v, &mut left, nested, replacement, rng)
}

fn replace_at(
    v: &mut Value,
    left: &mut usize,
    nested: NestedJson,
    replacement: fn(&mut Rng) -> Value,
    rng: &mut Rng,
) -> bool {
    if *left == 0 {
        *v = replacement(rng);
        return true;
    }
    *left -= 1;
    match v {
        Value::Array(a) => a
            .iter_mut()
            .any(|x| replace_at(x, left, nested, replacement, rng)),
        Value::Object(m) => m
            .values_mut()
            .any(|x| replace_at(x, left, nested, replacement, rng)),
        Value::String(s) if nested == NestedJson::Descend && s.starts_with('{') => {
            let Ok(mut inner) = serde_json::from_str::<Value>(s) else {
                return false;
            };
            let hit = replace_at(&mut inner, left, nested, replacement, rng);
            *s = inner.to_string();
            hit
        }
        _ => false,
    }
}

/// `v` without object members whose value is null, recursively (a decoder that moves a
/// member out and back may drop an explicit `null`, which says nothing).
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Whether `needle` is `hay` or a node of it, looking inside strings that hold JSON
/// documents too (their nulls removed, as by [`without_nulls`]).
pub fn holds(hay: &Value, needle: &Value) -> bool {
    if hay == needle {
        return true;
    }
    match hay {
        Value::Array(a) => a.iter().any(|x| holds(x, needle)),
        Value::Object(m) => m.values().any(|x| holds(x, needle)),
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            serde_json::from_str::<Value>(s)
                .is_ok_and(|inner| holds(&without_nulls(&inner), needle))
        }
        _ => false,
    }
}

/// What a decode error says about why: the text of its source (empty when it has none, which
/// the tests treat as a failure: an error must say why).
pub fn why(error: &dyn std::error::Error) -> String {
    error.source().map(ToString::to_string).unwrap_or_default()
}

/// Asserts that a value an error kept (a line it could not decode, say) is part of the
/// JSON `input` it came from, nulls aside.
///
/// # Panics
/// When it is not, or when `input` is not JSON (only a decoded frame has lines to keep).
pub fn assert_kept(kept: &Value, input: &str) {
    let frame: Value = serde_json::from_str(input).expect("a frame that decoded is JSON");
    assert!(
        holds(&without_nulls(&frame), &without_nulls(kept)),
        "the error keeps a value that is not in the input: {kept} (input {input:?})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_mutations_change_what_they_say() {
        let mut rng = Rng(0x5EED);
        let original = b"{\"a\":[1,2]}".to_vec();
        let mut b = original.clone();
        flip_bit(&mut b, &mut rng);
        assert_eq!(b.len(), original.len());
        let diff: Vec<u8> = b.iter().zip(&original).map(|(x, y)| x ^ y).collect();
        assert_eq!(diff.iter().map(|d| d.count_ones()).sum::<u32>(), 1);
        let mut empty = Vec::new();
        flip_bit(&mut empty, &mut rng);
        assert!(empty.is_empty());

        let mut b = original.clone();
        cut(&mut b, &mut rng);
        assert!(b.len() < original.len() && original.starts_with(&b));

        let mut b = original.clone();
        insert_byte(&mut b, b"#", &mut rng);
        assert_eq!(b.len(), original.len() + 1);
        assert_eq!(b.split(|&c| c == b'#').count(), 2, "one # inserted");
        assert!(
            ANY_BYTE
                .iter()
                .enumerate()
                .all(|(i, &b)| usize::from(b) == i)
        );

        for _ in 0..50 {
            let mut b = original.clone();
            repeat_run(&mut b, &mut rng);
            let extra = b.len() - original.len();
            // The run stands twice: once where it was, once in front of itself.
            assert!((0..=original.len() - extra).any(|a| {
                b[..a + extra] == original[..a + extra]
                    && b[a + extra..a + 2 * extra] == original[a..a + extra]
                    && b[a + 2 * extra..] == original[a + extra..]
            }));
        }
    }

    #[test]
    fn replace_node_counts_in_preorder_and_into_nested_documents() {
        fn marker(_: &mut Rng) -> Value {
            json!("X")
        }
        let mut rng = Rng(1);
        let doc = json!({"a": [1, {"b": 2}], "p": "{\"c\":3}"});
        // Preorder: 0 the object, 1 the array, 2 `1`, 3 `{"b":2}`, 4 `2`, 5 the string.
        let mut v = doc.clone();
        assert!(replace_node(
            &mut v,
            4,
            NestedJson::Opaque,
            marker,
            &mut rng
        ));
        assert_eq!(v, json!({"a": [1, {"b": "X"}], "p": "{\"c\":3}"}));
        let mut v = doc.clone();
        assert!(!replace_node(
            &mut v,
            6,
            NestedJson::Opaque,
            marker,
            &mut rng
        ));
        assert_eq!(v, doc);
        // Descending, the string's document is nodes 6 (its object) and 7 (`3`).
        let mut v = doc.clone();
        assert!(replace_node(
            &mut v,
            7,
            NestedJson::Descend,
            marker,
            &mut rng
        ));
        assert_eq!(v["p"], "{\"c\":\"X\"}");
        assert_eq!(deep_nesting(2), json!([[1]]));
        let deep = serde_json::to_string(&deep_nesting(120)).unwrap();
        assert!(serde_json::from_str::<Value>(&deep).is_ok());
    }

    #[test]
    fn hostile_values_cover_the_list_and_the_extras() {
        let mut rng = Rng(7);
        let extras = [json!("extra")];
        let drawn: Vec<Value> = (0..2000)
            .map(|_| hostile_value(&mut rng, "tricky", &extras))
            .collect();
        for want in [
            Value::Null,
            json!("tricky"),
            json!("extra"),
            deep_nesting(120),
        ] {
            assert!(drawn.contains(&want), "{want} is never drawn");
        }
    }

    #[test]
    fn kept_values_are_found_nulls_and_nesting_aside() {
        let input = r#"{"bdy":[{"msg":"hi","x":null}],"profile":"{\"nick\":\"a\",\"n\":null}"}"#;
        assert_kept(&json!({"msg": "hi"}), input);
        assert_kept(&json!({"nick": "a"}), input);
        assert_kept(&json!({"msg": "hi", "x": null}), input);
        assert!(!holds(
            &serde_json::from_str(input).unwrap(),
            &json!({"msg": "bye"})
        ));
        let missing = std::panic::catch_unwind(|| assert_kept(&json!("elsewhere"), input));
        assert!(missing.is_err(), "a value not in the input fails the check");
    }

    #[test]
    fn why_is_the_source_text() {
        #[derive(Debug)]
        struct Decode(std::num::ParseIntError);
        impl std::fmt::Display for Decode {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("cannot decode")
            }
        }
        impl std::error::Error for Decode {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let inner = "x".parse::<u8>().unwrap_err();
        assert_eq!(why(&Decode(inner.clone())), inner.to_string());
        assert_eq!(why(&inner), "", "no source, nothing said");
    }
}
