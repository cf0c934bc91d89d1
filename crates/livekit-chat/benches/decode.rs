//! Decode speed of the two chat formats a LiveKit room delivers, each next to its floor:
//!
//! - legacy JSON (`lk-chat-topic`): the payload parsed and read by
//!   [`ChatMessage::from_jsondict`], against `serde_json::from_slice::<Value>` alone;
//! - text streams (`lk.chat`): the `DataPacket` bytes of whole messages (header, chunks,
//!   trailer) through [`proto::Assembler::push`], the client's path, against [`proto::decode`]
//!   (the protobuf decode) of the same packets alone.
//!
//! Each at three sizes: a short chat line, a 1 KB message, and a 40 KB one (three chunks as a
//! stream). Inputs are made here, deterministically. Prints one JSON object; `cargo xtask bench`
//! renders the table.
//!
//! ```text
//! cargo bench -p livekit-chat --bench decode
//! SECONDS=6 PAYLOADS_OUT=target/bench/livekit-legacy.json cargo bench -p livekit-chat --bench decode
//! ```
//!
//! `SECONDS` (3 by default) is shared by the six cases. In each, the two sides run in
//! alternating rounds (so a busy machine slows both alike); each rate is from the median round.
//! `PAYLOADS_OUT`, when set, is where the legacy payloads are written as
//! `{"legacy": {"short": [text, ...], "1k": [...], "40k": [...]}}` (for
//! `interop/bench_livekit_python.py`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use livekit_chat::proto::{self, Assembler, STREAM_TOPIC};
use livekit_chat::{ChatMessage, TextStreamInfo, TransportEvent};
use serde_json::{Value, json};

/// The sizes: a name and the message text's length in bytes (about).
const SIZES: [(&str, usize); 3] = [("short", 24), ("1k", 1_000), ("40k", 40_000)];

/// Distinct legacy payloads per size (decoding them keeps no state; a few defeat nothing but
/// make the input less of a single hot string).
const LEGACY_MESSAGES: usize = 64;

/// Distinct text streams per size: more than the assembler remembers (512), so every header
/// opens a new stream as in a real room instead of being dropped as a resend.
const STREAM_MESSAGES: usize = 640;

const WORDS: [&str; 12] = [
    "hello",
    "world",
    "안녕하세요",
    "chat",
    "\"quoted\"",
    "stream",
    "héllo",
    "🙂",
    "livekit",
    "message",
    "ok",
    "tab\there",
];

/// A deterministic text of about `len` bytes, different for each `seed`.
fn text(len: usize, seed: usize) -> String {
    let mut s = format!("#{seed} ");
    let mut i = seed;
    while s.len() < len {
        s.push_str(WORDS[i % WORDS.len()]);
        s.push(' ');
        i = i.wrapping_mul(7).wrapping_add(3);
    }
    let mut end = len.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// A UUID-shaped id, as components-js makes them.
fn uuid(n: usize) -> String {
    format!("f47ac10b-58cc-4372-a567-{n:012x}")
}

/// A legacy payload as components-js sends it beside a stream (with `ignoreLegacy`).
fn legacy(len: usize, seed: usize) -> Vec<u8> {
    let v = json!({
        "id": uuid(seed),
        "message": text(len, seed),
        "timestamp": 1_700_000_000_000_i64 + i64::try_from(seed).unwrap_or(0),
        "ignoreLegacy": false,
    });
    v.to_string().into_bytes()
}

/// The wire packets of one text-stream message, stamped with its sender as the server does.
fn stream(len: usize, seed: usize) -> Vec<Vec<u8>> {
    let info = TextStreamInfo::new(
        uuid(seed),
        STREAM_TOPIC,
        1_700_000_000_000 + i64::try_from(seed).unwrap_or(0),
    );
    proto::text_stream_packets(&text(len, seed), &info)
        .into_iter()
        .map(|mut p| {
            p.participant_identity = "alice".into();
            proto::encode(&p)
        })
        .collect()
}

fn ours_legacy(payloads: &[Vec<u8>]) {
    for p in payloads {
        let v: Value = serde_json::from_slice(black_box(p)).expect("valid JSON");
        let m = ChatMessage::from_jsondict(&v).expect("a chat message");
        black_box(m);
    }
}

fn floor_legacy(payloads: &[Vec<u8>]) {
    for p in payloads {
        let v: Value = serde_json::from_slice(black_box(p)).expect("valid JSON");
        black_box(v);
    }
}

fn ours_stream(assembler: &mut Assembler, messages: &[Vec<Vec<u8>>]) {
    for packets in messages {
        for p in packets {
            black_box(assembler.push(black_box(p)));
        }
    }
}

fn floor_stream(messages: &[Vec<Vec<u8>>]) {
    for packets in messages {
        for p in packets {
            black_box(proto::decode(black_box(p)).expect("a DataPacket"));
        }
    }
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort_unstable();
    d[d.len() / 2]
}

fn timed(f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Runs `ours` and `floor` (each one pass over the case's messages) in alternating rounds for
/// `seconds`, and reports both rates and their cost ratio.
fn compare(
    messages: usize,
    bytes: usize,
    seconds: f64,
    mut ours: impl FnMut(),
    mut floor: impl FnMut(),
) -> Value {
    // Warm up; size a round to about 10 ms of ours.
    let once = timed(&mut ours);
    timed(&mut floor);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let passes = (0.01 / once.as_secs_f64().max(1e-9)).ceil().max(1.0) as usize;
    let (mut o, mut f) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while o.len() < 5 || start.elapsed().as_secs_f64() < seconds {
        o.push(timed(&mut || (0..passes).for_each(|_| ours())));
        f.push(timed(&mut || (0..passes).for_each(|_| floor())));
    }
    let (o, f) = (median(o), median(f));
    #[allow(clippy::cast_precision_loss)]
    let rates = |d: Duration| {
        let s = d.as_secs_f64() / passes as f64;
        json!({"msgs_per_s": messages as f64 / s, "mb_per_s": bytes as f64 / s / 1e6})
    };
    json!({
        "messages": messages,
        "bytes": bytes,
        "ours": rates(o),
        "floor": rates(f),
        "cost_ratio_vs_floor": o.as_secs_f64() / f.as_secs_f64(),
    })
}

fn main() {
    let seconds: f64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let per_case = seconds / 6.0;
    let mut report = json!({"legacy": {}, "stream": {}});
    let mut written = json!({"legacy": {}});

    for (name, len) in SIZES {
        let payloads: Vec<Vec<u8>> = (0..LEGACY_MESSAGES).map(|i| legacy(len, i)).collect();
        let bytes = payloads.iter().map(Vec::len).sum();
        let first: Value = serde_json::from_slice(&payloads[0]).expect("valid JSON");
        let m = ChatMessage::from_jsondict(&first).expect("a chat message");
        assert_eq!(m.text(), text(len, 0));
        report["legacy"][name] = compare(
            payloads.len(),
            bytes,
            per_case,
            || ours_legacy(&payloads),
            || floor_legacy(&payloads),
        );
        written["legacy"][name] = payloads
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
    }

    for (name, len) in SIZES {
        let messages: Vec<Vec<Vec<u8>>> = (0..STREAM_MESSAGES).map(|i| stream(len, i)).collect();
        let bytes = messages.iter().flatten().map(Vec::len).sum();
        let packets = messages[0].len();
        // Every message comes out whole, the first time and after the ids come round again.
        let mut assembler = Assembler::default();
        for round in 0..2 {
            for (i, packets) in messages.iter().enumerate() {
                let events: Vec<TransportEvent> =
                    packets.iter().filter_map(|p| assembler.push(p)).collect();
                assert!(
                    matches!(&events[..], [TransportEvent::TextStream { text: t, .. }] if *t == text(len, i)),
                    "round {round}, message {i}: {events:?}"
                );
            }
        }
        let mut case = compare(
            messages.len(),
            bytes,
            per_case,
            || ours_stream(&mut assembler, &messages),
            || floor_stream(&messages),
        );
        case["packets_per_message"] = packets.into();
        report["stream"][name] = case;
    }

    if let Ok(path) = std::env::var("PAYLOADS_OUT") {
        std::fs::write(&path, written.to_string()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    println!("{report}");
}
