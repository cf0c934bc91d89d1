//! Hostile input: every event frame of the fixtures (WebSocket frames, `/events` poll answers,
//! `/chats/{room}/events` answers), mutated thousands of ways (bytes flipped, inserted and cut;
//! JSON nodes replaced by other types, huge numbers, deep nesting, HTML and entity soup in
//! `content`), plus arbitrary bytes, through the client's own decoders. Nothing may panic; a
//! frame that is not JSON is an error keeping the frame, and every event is either an event
//! or an error keeping that event's JSON.
//!
//! Deterministic (a fixed-seed xorshift), so a failure names a reproducible case. `MUTATIONS`
//! sets the mutations per frame (default 200).

use std::panic::{AssertUnwindSafe, catch_unwind};

use sechat::Error;
use sechat::chatwire_core::excerpt;
use sechat::proto::{DecodedFrame, decode_frame, decode_room_events};
use serde_json::{Value, json};

/// The room the fixtures join.
const ROOM: u64 = 12345;

use chat_replay::mutate::{self, NestedJson};
use chat_replay::rng::Rng;

/// Which decoder a payload goes through.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A WebSocket frame or an `/events` poll answer: [`decode_frame`].
    Frame,
    /// A `/chats/{room}/events` answer: [`decode_room_events`].
    RoomEvents,
}

/// Every event frame of `fixtures/sechat`, as text, with its decoder.
fn frames() -> Vec<(Kind, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sechat");
    let mut out = Vec::new();
    for v in mutate::fixture_lines(dir) {
        if v["dir"] == "s2c" {
            out.extend(mutate::payload_text(&v).map(|t| (Kind::Frame, t)));
        }
        let path = v["http"]["path"].as_str().unwrap_or_default();
        if path == "/events" {
            out.extend(mutate::payload_text(&v["response"]).map(|t| (Kind::Frame, t)));
        } else if path.starts_with("/chats/") && path.ends_with("/events") {
            out.extend(mutate::payload_text(&v["response"]).map(|t| (Kind::RoomEvents, t)));
        }
    }
    for kind in [Kind::Frame, Kind::RoomEvents] {
        let n = out.iter().filter(|(k, _)| *k == kind).count();
        assert!(n >= 10, "the fixtures hold {kind:?} payloads ({n})");
    }
    out
}

/// The common hostile values, HTML entity soup, lone `<` and `&`, and an event where a field
/// should be.
fn replacement(rng: &mut Rng) -> Value {
    mutate::hostile_value(
        rng,
        "&aaaaaaaaaa가; &#x110000; &#99999999999; &#x; <br <b>",
        &[
            json!("<"),
            json!("&"),
            json!({"event_type": 1, "content": "<a href=\"x\">&amp;", "id": "7"}),
        ],
    )
}

fn mutated(frame: &str, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = frame.as_bytes().to_vec();
    if bytes.is_empty() {
        bytes.push(b' '); // an empty frame (a keep-alive): something to mutate
    }
    match rng.below(7) {
        0 => mutate::flip_bit(&mut bytes, rng),
        1 => mutate::cut(&mut bytes, rng),
        2 => mutate::insert_byte(&mut bytes, b"{}[]\",:\\0x\xff&;<>", rng),
        3 => mutate::repeat_run(&mut bytes, rng),
        4 => {
            // Arbitrary bytes.
            let n = rng.below(64);
            bytes = (0..n)
                .map(|_| u8::try_from(rng.below(256)).unwrap_or(0))
                .collect();
        }
        _ => {
            let Ok(mut v) = serde_json::from_str::<Value>(frame) else {
                return bytes;
            };
            let node = rng.below(64);
            mutate::replace_node(&mut v, node, NestedJson::Opaque, replacement, rng);
            return v.to_string().into_bytes();
        }
    }
    bytes
}

/// The JSON values an event error may keep: the entries of the events array (or the array's
/// value itself when it is not an array).
fn event_candidates(kind: Kind, input: &[u8]) -> Vec<Value> {
    let Ok(v) = serde_json::from_slice::<Value>(input) else {
        return Vec::new();
    };
    let events = match kind {
        Kind::Frame => &v[format!("r{ROOM}")]["e"],
        Kind::RoomEvents => &v["events"],
    };
    match events {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Checks one decoded payload; returns (events, event errors).
fn check_events(kind: Kind, input: &[u8], frame: DecodedFrame) -> (usize, usize) {
    let (mut events, mut errors) = (0, 0);
    let mut candidates = None;
    for item in frame.events {
        match item {
            Ok(_) => events += 1,
            Err(Error::Decode(d)) => {
                let why = mutate::why(&d);
                let raw = d.raw();
                assert!(!why.is_empty(), "an error says why");
                let kept = candidates
                    .get_or_insert_with(|| event_candidates(kind, input))
                    .iter()
                    .any(|e| excerpt(&e.to_string(), 4096) == raw);
                assert!(
                    kept,
                    "an event error keeps its event: {raw:?} from {input:?}"
                );
                errors += 1;
            }
            Err(e) => panic!("only decode errors are expected, got {e}"),
        }
    }
    (events, errors)
}

#[test]
fn mutated_frames_never_panic_and_keep_what_they_cannot_decode() {
    let per_frame = mutate::count(200);
    let mut rng = Rng(0x5EED_5EC4_A700_0001);
    let (mut total, mut events, mut event_errors, mut frame_errors, mut ignored) = (0, 0, 0, 0, 0);
    for (kind, frame) in frames() {
        for _ in 0..per_frame {
            let mut input = mutated(&frame, &mut rng);
            if kind == Kind::Frame {
                // WebSocket text frames are UTF-8.
                input = String::from_utf8_lossy(&input).into_owned().into_bytes();
            }
            total += 1;
            let decoded = catch_unwind(AssertUnwindSafe(|| match kind {
                Kind::Frame => decode_frame(ROOM, &String::from_utf8_lossy(&input)),
                Kind::RoomEvents => decode_room_events(&input).map(Some),
            }))
            .unwrap_or_else(|_| {
                panic!(
                    "{kind:?} decoder panicked on {:?}",
                    String::from_utf8_lossy(&input)
                )
            });
            match decoded {
                Ok(Some(f)) => {
                    let (e, x) = check_events(kind, &input, f);
                    events += e;
                    event_errors += x;
                }
                Ok(None) => ignored += 1,
                Err(Error::Decode(d)) => {
                    let why = mutate::why(&d);
                    let raw = d.raw();
                    assert!(!why.is_empty(), "an error says why");
                    let text = String::from_utf8_lossy(&input);
                    assert_eq!(raw, excerpt(&text, 4096), "a frame error keeps the frame");
                    frame_errors += 1;
                }
                Err(e) => panic!("only decode errors are expected, got {e}"),
            }
        }
    }
    // The mutations reach every outcome, or the test proves little.
    assert!(
        events > 0 && event_errors > 0 && frame_errors > 0 && ignored > 0,
        "{events} {event_errors} {frame_errors} {ignored}"
    );
    eprintln!(
        "{total} mutated frames: {events} events, {event_errors} bad events kept, {frame_errors} bad frames kept, {ignored} ignored"
    );
}

#[test]
fn entity_soup_in_content_is_text_not_a_panic() {
    // Regression: an entity-looking run cut inside a multi-byte character (the entity scan
    // looked at the first 12 bytes by slicing the string).
    for content in ["&aaaaaaaaaa가;", "&#x가가가가;", "&가", "&aaaaaaaaaaa가"] {
        let frame = json!({format!("r{ROOM}"): {"e": [{"event_type": 1, "id": 1, "content": content}], "t": 1}});
        let decoded = decode_frame(ROOM, &frame.to_string()).unwrap().unwrap();
        let Ok(event) = &decoded.events[0] else {
            panic!("an event: {:?}", decoded.events)
        };
        assert_eq!(
            event.data().and_then(|d| d.text.as_deref()),
            Some(content),
            "not an entity: the text is the content"
        );
    }
}
