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

use chat_replay::mutate::{self, NestedJson};
use chat_replay::rng::Rng;

/// Every server→client WebSocket frame of `fixtures/chzzk`, as text (placeholders stay as
/// they are: they are just more strings to the decoder).
fn frames() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/chzzk");
    let out: Vec<String> = mutate::fixture_lines(dir)
        .iter()
        .filter(|v| v["dir"] == "s2c")
        .filter_map(mutate::payload_text)
        .collect();
    assert!(
        out.len() > 100,
        "the fixtures hold the frames ({})",
        out.len()
    );
    out
}

/// The common hostile values, a nested JSON document cut short, and a chat command where a
/// field should be.
fn replacement(rng: &mut Rng) -> Value {
    mutate::hostile_value(
        rng,
        "{\"not\": \"closed\"",
        &[json!({"cmd": "93101", "bdy": "[]", "profile": 7})],
    )
}

fn mutated(frame: &str, rng: &mut Rng) -> String {
    let mut bytes = frame.as_bytes().to_vec();
    match rng.below(6) {
        0 => mutate::flip_bit(&mut bytes, rng),
        1 => mutate::cut(&mut bytes, rng),
        2 => mutate::insert_byte(&mut bytes, b"{}[]\",:\\0x\xff", rng),
        3 => mutate::repeat_run(&mut bytes, rng),
        _ => {
            let Ok(mut v) = serde_json::from_str::<Value>(frame) else {
                return frame.into();
            };
            let node = rng.below(64);
            mutate::replace_node(&mut v, node, NestedJson::Descend, replacement, rng);
            return v.to_string();
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_frames_never_panic_and_keep_what_they_cannot_decode() {
    let per_frame = mutate::count(60);
    let mut rng = Rng(0x5EED_0FC0_FFEE_0001);
    let (mut total, mut events, mut line_errors, mut frame_errors) = (0, 0, 0, 0);
    for frame in frames() {
        for _ in 0..per_frame {
            let input = mutated(&frame, &mut rng);
            total += 1;
            let decoded = catch_unwind(AssertUnwindSafe(|| {
                decode_frame("5f1e2d3c", "N2xQ7a", &input)
            }))
            .unwrap_or_else(|_| panic!("decode_frame panicked on {input:?}"));
            match decoded {
                Err(chzzk_chat::Error::Decode(d)) => {
                    let why = mutate::why(&d);
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
                                mutate::assert_kept(&line, &input);
                                line_errors += 1;
                            }
                        }
                    }
                }
                Ok(DecodedFrame::RecentChat { bad_lines, .. }) => {
                    events += 1;
                    for (line, why) in bad_lines {
                        assert!(!why.is_empty(), "an error says why");
                        mutate::assert_kept(&line, &input);
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
