//! Decode speed: Chzzk server frames into typed events through the client's own path
//! ([`chzzk_chat::proto::decode_frame`]), next to the floor of any JSON decoder: the same bytes parsed
//! into `serde_json::Value`, the JSON documents nested in strings (`profile`, `extras`, ...)
//! included, as our decoder must parse them too. Prints one JSON object; `cargo xtask bench`
//! writes the frames (every text server frame of `fixtures/chzzk`) and renders the table.
//!
//! ```text
//! FRAMES=target/bench/chzzk-frames.json cargo bench -p chzzk-chat --bench decode
//! FRAMES=... SECONDS=5 cargo bench -p chzzk-chat --bench decode
//! ```
//!
//! `FRAMES` is `{"frames": [{"text", "channel_id", "chat_channel_id"}, ...]}`. The two sides
//! run in alternating rounds (so a busy machine slows both alike) until `SECONDS` (2.5 by
//! default) have passed; each rate is from the median round. `ONLY=ours` (or `floor`) runs
//! one side alone, to profile it (`perf record`); the report then has that side only.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chzzk_chat::proto::{DecodedFrame, decode_frame};
use serde_json::Value;

/// One server frame as the client would receive it.
struct Frame {
    text: String,
    channel_id: String,
    chat_channel_id: String,
}

fn load(path: &str) -> Vec<Frame> {
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("FRAMES={path}: {e}"));
    let doc: Value = serde_json::from_str(&doc).unwrap_or_else(|e| panic!("FRAMES={path}: {e}"));
    let field = |f: &Value, k: &str| f[k].as_str().unwrap_or_default().to_owned();
    doc["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("FRAMES={path}: no \"frames\" array"))
        .iter()
        .map(|f| Frame {
            text: field(f, "text"),
            channel_id: field(f, "channel_id"),
            chat_channel_id: field(f, "chat_channel_id"),
        })
        .collect()
}

/// A side of the comparison: one frame decoded, with a count of what came out.
type Decoder = fn(&Frame) -> usize;

/// Ours: one frame into typed events, as the client decodes it. Returns how many events (and
/// undecodable lines) it gave, so nothing is optimised away.
fn ours(f: &Frame) -> usize {
    match decode_frame(&f.channel_id, &f.chat_channel_id, &f.text) {
        Ok(DecodedFrame::Events(events)) => black_box(events).len(),
        Ok(DecodedFrame::RecentChat {
            chat, bad_lines, ..
        }) => chat.map_or(0, |c| black_box(c).messages.len()) + black_box(bad_lines).len(),
        Ok(other) => {
            black_box(other);
            1
        }
        Err(e) => {
            black_box(e);
            0
        }
    }
}

/// The floor: the frame into a `Value`, then every string holding a JSON object or array
/// (the documents the server nests in strings) into a `Value` too, recursively.
fn floor(f: &Frame) -> usize {
    match serde_json::from_str::<Value>(&f.text) {
        Ok(mut v) => {
            let n = expand(&mut v);
            black_box(v);
            n
        }
        Err(e) => {
            black_box(e);
            0
        }
    }
}

/// Replaces each string that parses as a JSON object or array by that document; returns how
/// many it replaced.
fn expand(v: &mut Value) -> usize {
    match v {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            match serde_json::from_str::<Value>(s) {
                Ok(mut inner @ (Value::Object(_) | Value::Array(_))) => {
                    let n = 1 + expand(&mut inner);
                    *v = inner;
                    n
                }
                _ => 0,
            }
        }
        Value::Array(a) => a.iter_mut().map(expand).sum(),
        Value::Object(o) => o.values_mut().map(expand).sum(),
        _ => 0,
    }
}

/// Times `passes` passes of `f` over every frame.
fn round(frames: &[Frame], passes: usize, f: Decoder) -> Duration {
    let start = Instant::now();
    for _ in 0..passes {
        for frame in frames {
            black_box(f(black_box(frame)));
        }
    }
    start.elapsed()
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort_unstable();
    d[d.len() / 2]
}

#[allow(clippy::cast_precision_loss)]
fn rates(frames: usize, bytes: usize, passes: usize, d: Duration) -> Value {
    let s = d.as_secs_f64();
    serde_json::json!({
        "frames_per_s": (frames * passes) as f64 / s,
        "mb_per_s": (bytes * passes) as f64 / s / 1e6,
    })
}

fn main() {
    let path = std::env::var("FRAMES").expect("FRAMES: the path of the frames JSON file");
    let seconds: f64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.5);
    let frames = load(&path);
    assert!(!frames.is_empty(), "FRAMES={path}: no frames");
    let bytes: usize = frames.iter().map(|f| f.text.len()).sum();

    // Warm up, and size a round to about 20 ms of our decoding.
    let once = round(&frames, 3, ours) / 3;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let passes = (0.02 / once.as_secs_f64().max(1e-9)).ceil().max(1.0) as usize;
    round(&frames, passes, floor);

    let events: usize = frames.iter().map(ours).sum();
    let nested: usize = frames.iter().map(floor).sum();
    let only = std::env::var("ONLY").unwrap_or_default();
    let sides: &[(&str, Decoder)] = match only.as_str() {
        "" => &[("ours", ours), ("floor", floor)],
        "ours" => &[("ours", ours)],
        "floor" => &[("floor", floor)],
        other => panic!("ONLY={other}: ours or floor"),
    };
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    let start = Instant::now();
    while times[0].len() < 5 || start.elapsed().as_secs_f64() < seconds {
        for ((_, side), t) in sides.iter().zip(&mut times) {
            t.push(round(&frames, passes, *side));
        }
    }
    let rounds = times[0].len();
    eprintln!(
        "{} frames ({bytes} bytes, {events} events, {nested} nested documents), {rounds} rounds \
         of {passes} passes",
        frames.len(),
    );
    let mut report = serde_json::json!({
        "frames": frames.len(),
        "bytes": bytes,
        "rounds": rounds,
        "passes_per_round": passes,
    });
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    for ((name, _), d) in sides.iter().zip(&medians) {
        report[*name] = rates(frames.len(), bytes, passes, *d);
    }
    if let [o, f] = medians[..] {
        report["cost_ratio_vs_floor"] = (o.as_secs_f64() / f.as_secs_f64()).into();
    }
    println!("{report}");
}
