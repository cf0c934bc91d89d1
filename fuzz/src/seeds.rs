//! The seed corpora, made from `fixtures/` at run time (nothing binary is committed): the
//! frames the fixtures' servers send, the packets the fixtures' peers publish, and the texts
//! they chat, in each target's input format.

use std::path::{Path, PathBuf};

use chat_replay::mutate;
use livekit_chat::{ChatMessage, IdStyle, ProtoChatMessage, TextStreamInfo, proto};
use serde_json::Value;

use crate::op;

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every JSON line of `fixtures/<platform>/*.jsonl`, files in name order.
fn lines(platform: &str) -> Vec<Value> {
    mutate::fixture_lines(fixtures_dir().join(platform))
}

/// A step's `json` (serialised) or `text` payload.
fn payload(step: &Value) -> Option<Vec<u8>> {
    mutate::payload_text(step).map(String::into_bytes)
}

/// The server's WebSocket frames of `platform`'s fixtures.
fn server_frames(platform: &str) -> Vec<Vec<u8>> {
    lines(platform)
        .iter()
        .filter(|v| v["dir"] == "s2c")
        .filter_map(payload)
        .collect()
}

/// The response bodies of the HTTP steps of `platform`'s fixtures whose path passes `path`.
fn http_bodies(platform: &str, path: impl Fn(&str) -> bool) -> Vec<Vec<u8>> {
    lines(platform)
        .iter()
        .filter(|v| path(v["http"]["path"].as_str().unwrap_or_default()))
        .filter_map(|v| payload(&v["response"]))
        .collect()
}

/// Every chat text of the livekit fixtures: what peers send and edit, and the messages the
/// fixtures expect.
fn livekit_texts() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if let (true, Value::String(s)) = (k == "text" || k == "message", x) {
                        out.push(s.clone());
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for v in lines("livekit") {
        walk(&v, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// The packets of the livekit fixtures: injected payloads as user packets (or raw bytes),
/// and every chat text in each format a peer sends it (legacy JSON on both topics, text-stream
/// header, chunks and trailer, protobuf chat).
fn livekit_packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let stamp = |mut p: livekit_chat::livekit_protocol::DataPacket, from: &str| {
        from.clone_into(&mut p.participant_identity);
        proto::encode(&p)
    };
    for v in lines("livekit") {
        let args = &v["args"];
        match v["action"].as_str() {
            Some("inject_json" | "inject_text") => {
                if let Some(body) = payload(args) {
                    let topic = args["topic"].as_str().unwrap_or(proto::CHAT_TOPIC);
                    let from = args["from"].as_str().unwrap_or("evil");
                    out.push(stamp(proto::user_packet(body, topic, true, &[]), from));
                }
            }
            Some("inject_bytes") => out.extend(payload(args)),
            _ => {}
        }
    }
    for (i, text) in livekit_texts().iter().enumerate() {
        let mut m = ChatMessage::new(text.as_str(), IdStyle::Uuid);
        m.timestamp = 1_700_000_000_000 + i64::try_from(i).unwrap_or(0);
        let legacy = serde_json::to_vec(&m.to_jsondict()).unwrap_or_default();
        out.push(stamp(
            proto::user_packet(legacy.clone(), proto::CHAT_TOPIC, true, &[]),
            "alice",
        ));
        out.push(stamp(
            proto::user_packet(legacy, proto::CHAT_UPDATE_TOPIC, true, &[]),
            "alice",
        ));
        let info = TextStreamInfo::new(m.id.clone(), proto::STREAM_TOPIC, m.timestamp);
        for p in proto::text_stream_packets(text, &info) {
            out.push(stamp(p, "alice"));
        }
        let chat = ProtoChatMessage::new(m.id.clone(), text.as_str(), m.timestamp);
        out.push(stamp(proto::chat_packet(&chat, &[]), "bob"));
    }
    out
}

/// The [`crate::livekit_assembler`] program that sends `text` as one stream: header, chunks
/// (at most 4 of 255 bytes), trailer.
fn stream_program(out: &mut Vec<u8>, sender: u8, stream: u8, text: &str, operation: u8) {
    let mut end = text.len().min(4 * 255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &text.as_bytes()[..end];
    let len = u8::try_from(bytes.len()).ok();
    let flags = operation | if len.is_some() { 4 } else { 0 };
    out.extend([
        op::HEADER,
        sender,
        stream,
        flags,
        operation,
        len.unwrap_or(0),
    ]);
    for (i, piece) in bytes.chunks(255).enumerate() {
        let n = u8::try_from(piece.len()).unwrap_or(u8::MAX);
        out.extend([op::CHUNK, sender, stream, u8::try_from(i).unwrap_or(0), n]);
        out.extend_from_slice(piece);
    }
    out.extend([op::TRAILER, sender, stream, 0]);
}

/// Stream programs from the livekit fixtures' texts: each text as a new message, then edited,
/// then deleted, from two senders over the same stream ids; and one program that interleaves
/// two streams with a departure and a stray packet.
fn assembler_programs() -> Vec<Vec<u8>> {
    let texts = livekit_texts();
    let mut out = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let sender = u8::try_from(i % 2).unwrap_or(0);
        let stream = u8::try_from(i % 3).unwrap_or(0);
        let mut p = Vec::new();
        stream_program(&mut p, sender, stream, text, 0);
        stream_program(&mut p, sender, stream, &format!("{text} (edited)"), 1);
        stream_program(&mut p, sender, stream, "", 2);
        out.push(p);
    }
    let mut mixed = Vec::new();
    let long = texts
        .iter()
        .max_by_key(|t| t.len())
        .cloned()
        .unwrap_or_default();
    stream_program(&mut mixed, 0, 0, &long, 0);
    let mut other = Vec::new();
    stream_program(&mut other, 1, 1, "interleaved", 0);
    // Interleave: the first header, the other whole stream, then the rest of the first.
    mixed.splice(6..6, other);
    mixed.extend([op::FORGET, 0, op::CHAT, 1, 5]);
    mixed.extend_from_slice(b"hello");
    mixed.extend([op::RAW, 0, 4, 0xff, 0x00, 0x12, 0x34]);
    out.push(mixed);
    out
}

/// MaiBot config notations: valid ones for every platform the workspace speaks, and the
/// shapes that fail.
fn stream_keys() -> Vec<Vec<u8>> {
    let mut out: Vec<String> = ["chzzk", "stackexchange", "livekit", "qq"]
        .iter()
        .flat_map(|p| {
            [
                format!("{p}:941657197:group"),
                format!("{p}:10001:private"),
                format!("{p}:a:b:c"),
            ]
        })
        .collect();
    out.extend(
        [
            "qq:12345",
            "qq::group",
            ":1:group",
            "",
            "::",
            "qq:가나:group",
        ]
        .map(String::from),
    );
    out.into_iter().map(String::into_bytes).collect()
}

/// The seeds of target `name` (empty for an unknown name).
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    match name {
        "chzzk_frame" => server_frames("chzzk"),
        "sechat_frame" => {
            let mut out = server_frames("sechat");
            out.extend(http_bodies("sechat", |p| p == "/events"));
            out
        }
        "sechat_room_events" => http_bodies("sechat", |p| {
            p.starts_with("/chats/") && p.ends_with("/events")
        }),
        "livekit_packet" => livekit_packets(),
        "livekit_assembler" => assembler_programs(),
        "chat_streams_key" => stream_keys(),
        _ => Vec::new(),
    }
}
