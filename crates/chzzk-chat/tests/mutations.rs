//! Hostile input: every server frame of the fixtures, mutated thousands of ways (bytes
//! flipped, inserted and cut; JSON nodes replaced by other types, huge numbers, deep nesting,
//! garbage nested strings), through the client's own frame decoder. Nothing may panic; a
//! frame that is not JSON is an error (the client keeps the frame beside it, see
//! `Error::Decode`), and every line of a chat batch or recent-chat answer is either an event or
//! an error that keeps the line: checked to be that very line of the frame.
//!
//! Deterministic (a fixed-seed xorshift), so a failure names a reproducible case. `MUTATIONS`
//! sets the mutations per frame (default 60).

use std::panic::{AssertUnwindSafe, catch_unwind};

use chzzk_chat::proto::{DecodedFrame, decode_frame};
use serde_json::{Value, json};

use chat_replay::rng::Rng;

/// Every server→client WebSocket frame of `fixtures/chzzk`, as text (placeholders stay as
/// they are: they are just more strings to the decoder).
fn frames() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/chzzk");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
    {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if v["dir"] == "s2c" {
                match (&v["json"], &v["text"]) {
                    (Value::Null, Value::String(t)) => out.push(t.clone()),
                    (j, _) if !j.is_null() => out.push(j.to_string()),
                    _ => {}
                }
            }
        }
    }
    assert!(
        out.len() > 100,
        "the fixtures hold the frames ({})",
        out.len()
    );
    out
}

fn replacement(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!("{\"not\": \"closed\""),
        7 => json!("가".repeat(300)),
        8 => json!([]),
        9 => json!({}),
        10 => serde_json::from_str(&format!("{}1{}", "[".repeat(120), "]".repeat(120))).unwrap(),
        _ => json!({"cmd": "93101", "bdy": "[]", "profile": 7}),
    }
}

/// Replaces the `target`th node (preorder) by a random value; returns how many nodes it saw.
fn replace_node(v: &mut Value, target: &mut usize, rng: &mut Rng) -> bool {
    if *target == 0 {
        *v = replacement(rng);
        return true;
    }
    *target -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|x| replace_node(x, target, rng)),
        Value::Object(m) => m.values_mut().any(|x| replace_node(x, target, rng)),
        Value::String(s) if s.starts_with('{') => {
            // A nested JSON string (profile, extras): mutate inside it.
            let Ok(mut inner) = serde_json::from_str::<Value>(s) else {
                return false;
            };
            let hit = replace_node(&mut inner, target, rng);
            *s = inner.to_string();
            hit
        }
        _ => false,
    }
}

fn mutate(frame: &str, rng: &mut Rng) -> String {
    let mut bytes = frame.as_bytes().to_vec();
    match rng.below(6) {
        0 => {
            let i = rng.below(bytes.len());
            bytes[i] ^= 1 << rng.below(8);
        }
        1 => bytes.truncate(rng.below(bytes.len())),
        2 => {
            let i = rng.below(bytes.len());
            let junk = b"{}[]\",:\\0x\xff";
            bytes.insert(i, junk[rng.below(junk.len())]);
        }
        3 => {
            let (a, b) = (rng.below(bytes.len()), rng.below(bytes.len()));
            let (a, b) = (a.min(b), a.max(b));
            let slice = bytes[a..b].to_vec();
            bytes.splice(a..a, slice);
        }
        _ => {
            let Ok(mut v) = serde_json::from_str::<Value>(frame) else {
                return frame.into();
            };
            let mut target = rng.below(64);
            replace_node(&mut v, &mut target, rng);
            return v.to_string();
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `v` without object members whose value is null, recursively (the decoder moves `bdy` out
/// and back, which drops an explicit `"bdy": null`; that says nothing).
fn without_nulls(v: &Value) -> Value {
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

/// Whether `needle` is `hay` or a node of it, looking inside nested JSON strings too.
fn holds(hay: &Value, needle: &Value) -> bool {
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

/// An undecodable line comes back as that very line of the input (or the whole frame).
fn assert_kept(line: &Value, input: &str) {
    let frame: Value = serde_json::from_str(input).expect("a frame that decoded is JSON");
    assert!(
        holds(&without_nulls(&frame), &without_nulls(line)),
        "the error keeps a value that is not in the frame: {line} (frame {input:?})"
    );
}

#[test]
fn mutated_frames_never_panic_and_keep_what_they_cannot_decode() {
    let per_frame: usize = std::env::var("MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut rng = Rng(0x5EED_0FC0_FFEE_0001);
    let (mut total, mut events, mut line_errors, mut frame_errors) = (0, 0, 0, 0);
    for frame in frames() {
        for _ in 0..per_frame {
            let input = mutate(&frame, &mut rng);
            total += 1;
            let decoded = catch_unwind(AssertUnwindSafe(|| {
                decode_frame("5f1e2d3c", "N2xQ7a", &input)
            }))
            .unwrap_or_else(|_| panic!("decode_frame panicked on {input:?}"));
            match decoded {
                Err(chzzk_chat::Error::Decode(d)) => {
                    let why = std::error::Error::source(&d)
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    let raw = d.raw();
                    assert!(!why.is_empty());
                    assert!(
                        input.starts_with(raw.trim_end_matches('…')),
                        "the error keeps the frame: {raw:?}"
                    );
                    frame_errors += 1;
                }
                Err(other) => panic!("a bad frame is a Decode error, not {other:?}"),
                Ok(DecodedFrame::Events(items)) => {
                    for item in items {
                        match item {
                            Ok(_) => events += 1,
                            Err((line, why)) => {
                                assert!(!why.is_empty(), "an error says why");
                                assert_kept(&line, &input);
                                line_errors += 1;
                            }
                        }
                    }
                }
                Ok(DecodedFrame::RecentChat { bad_lines, .. }) => {
                    events += 1;
                    for (line, why) in bad_lines {
                        assert!(!why.is_empty(), "an error says why");
                        assert_kept(&line, &input);
                        line_errors += 1;
                    }
                }
                Ok(_) => events += 1,
            }
        }
    }
    // The mutations reach every outcome, or the test proves little.
    assert!(
        events > 0 && line_errors > 0 && frame_errors > 0,
        "{events} {line_errors} {frame_errors}"
    );
    eprintln!(
        "{total} mutated frames: {events} events, {line_errors} bad lines kept, {frame_errors} bad frames"
    );
}
