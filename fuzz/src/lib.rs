//! The bodies of the cargo-fuzz targets, one per decoder: each takes arbitrary bytes, runs the
//! decoder the client runs on server (or peer) input, and checks its properties, panicking when
//! one fails (libFuzzer reports a panic as a crash). The properties, for every decoder:
//!
//! - it never panics;
//! - it gives an event, or a typed error that says why and keeps the raw payload (an excerpt of
//!   the frame, or the very JSON value or bytes that could not be decoded);
//! - what it decoded survives our own encoder where we have one (livekit packets and legacy
//!   chat messages; chat-streams keys).
//!
//! `tests/seeds.rs` runs every body over the seed corpus (made from `fixtures/` by
//! [`seeds`]), so the bodies build and hold in normal CI without a fuzzer. See
//! `docs/fuzzing.md`.

pub mod seeds;

use chat_replay::mutate::{assert_kept, why};
use serde_json::Value;

/// A fuzz target: its name (the `fuzz_targets/<name>.rs` binary) and its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The target's name.
    pub name: &'static str,
    /// What the target runs on each input.
    pub body: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "chzzk_frame",
        body: chzzk_frame,
    },
    Target {
        name: "sechat_frame",
        body: sechat_frame,
    },
    Target {
        name: "sechat_room_events",
        body: sechat_room_events,
    },
    Target {
        name: "livekit_packet",
        body: livekit_packet,
    },
    Target {
        name: "livekit_assembler",
        body: livekit_assembler,
    },
    Target {
        name: "chat_streams_key",
        body: chat_streams_key,
    },
];

/// The excerpt length the crates keep in `Error::Decode { raw }`.
const RAW_EXCERPT: usize = 4096;

/// chzzk: one chat-socket frame through `chzzk_chat::proto::decode_frame` (what the client runs on
/// every text or binary frame). A frame error says why (the client keeps the frame beside
/// it); a line that cannot be decoded comes back as that very line of the input.
pub fn chzzk_frame(data: &[u8]) {
    use chzzk_chat::proto::DecodedFrame;
    let text = String::from_utf8_lossy(data);
    match chzzk_chat::proto::decode_frame("5f1e2d3c", "N2xQ7a", &text) {
        Err(chzzk_chat::Error::Decode(d)) => {
            let why = why(&d);
            let raw = d.raw();
            assert!(!why.is_empty(), "a frame error says why");
            assert!(
                text.starts_with(raw.trim_end_matches('…')),
                "a frame error keeps the frame"
            );
        }
        Err(other) => panic!("a bad frame is a Decode error, not {other:?}"),
        Ok(DecodedFrame::Events(items)) => {
            for item in items {
                if let Err((line, why)) = item {
                    assert!(!why.is_empty(), "a line error says why");
                    assert_kept(&line, &text);
                }
            }
        }
        Ok(DecodedFrame::RecentChat { bad_lines, .. }) => {
            for (line, why) in bad_lines {
                assert!(!why.is_empty(), "a line error says why");
                assert_kept(&line, &text);
            }
        }
        Ok(_) => {}
    }
}

/// The room the sechat targets decode for (the fixtures' room).
const SECHAT_ROOM: u64 = 12345;

/// The values a sechat event error may keep: the entries of the events array, or the value
/// found where the array should be.
fn sechat_event_candidates(events: &Value) -> Vec<Value> {
    match events {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn check_sechat_events(frame: sechat::proto::DecodedFrame, events_of: impl Fn() -> Value) {
    let mut candidates = None;
    for item in frame.events {
        match item {
            Ok(_) => {}
            Err(sechat::Error::Decode(d)) => {
                let why = why(&d);
                let raw = d.raw();
                assert!(!why.is_empty(), "an event error says why");
                let kept = candidates
                    .get_or_insert_with(|| sechat_event_candidates(&events_of()))
                    .iter()
                    .any(|e| sechat::chatwire_core::excerpt(&e.to_string(), RAW_EXCERPT) == raw);
                assert!(kept, "an event error keeps its event: {raw:?}");
            }
            Err(e) => panic!("an event error is a decode error, got {e}"),
        }
    }
}

/// sechat: one WebSocket text frame (or anonymous `/events` poll answer) through
/// `sechat::proto::decode_frame`. A frame error keeps the frame; an event error keeps its event.
pub fn sechat_frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match sechat::proto::decode_frame(SECHAT_ROOM, &text) {
        Ok(Some(frame)) => check_sechat_events(frame, || {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            v[format!("r{SECHAT_ROOM}")]["e"].clone()
        }),
        Ok(None) => {}
        Err(sechat::Error::Decode(d)) => {
            let why = why(&d);
            let raw = d.raw();
            assert!(!why.is_empty(), "a frame error says why");
            assert_eq!(
                raw,
                sechat::chatwire_core::excerpt(&text, RAW_EXCERPT),
                "a frame error keeps the frame"
            );
        }
        Err(e) => panic!("a frame error is a decode error, got {e}"),
    }
}

/// sechat: one `POST /chats/{room}/events` answer body through `sechat::proto::decode_room_events`.
pub fn sechat_room_events(data: &[u8]) {
    match sechat::proto::decode_room_events(data) {
        Ok(frame) => check_sechat_events(frame, || {
            let v: Value = serde_json::from_slice(data).unwrap_or_default();
            v["events"].clone()
        }),
        Err(sechat::Error::Decode(d)) => {
            let why = why(&d);
            let raw = d.raw();
            assert!(!why.is_empty(), "a body error says why");
            assert_eq!(
                raw,
                sechat::chatwire_core::excerpt(&String::from_utf8_lossy(data), RAW_EXCERPT),
                "a body error keeps the body"
            );
        }
        Err(e) => panic!("a body error is a decode error, got {e}"),
    }
}

/// Checks one assembler output for the bytes pushed: a malformed packet keeps its bytes, or
/// (when a whole stream fails, not one packet) names the stream.
fn check_assembled(event: Option<&livekit_chat::TransportEvent>, pushed: &[u8]) {
    use livekit_chat::TransportEvent;
    match event {
        Some(TransportEvent::Malformed { why, raw, .. }) => {
            assert!(!why.is_empty(), "a malformed packet says why");
            assert!(
                raw == pushed || (raw.is_empty() && why.contains("stream ")),
                "a malformed packet keeps its bytes, or names its stream: {why}"
            );
        }
        Some(TransportEvent::TextStream { text, .. }) => {
            assert!(text.len() <= livekit_chat::proto::MAX_STREAM_BYTES);
        }
        _ => {}
    }
}

/// livekit: one `DataPacket` from the room. The protobuf decoder, our encoder after it
/// (decode → encode → decode is the same packet), the legacy JSON chat decoder on user
/// packets (an error keeps the JSON; a message survives `to_jsondict`), and a fresh
/// assembler on the bytes (a malformed packet keeps its bytes).
pub fn livekit_packet(data: &[u8]) {
    use livekit_chat::livekit_protocol::data_packet::Value as PacketValue;
    use livekit_chat::{ChatMessage, Error, proto};
    match proto::decode(data) {
        Err(why) => assert!(!why.is_empty(), "a decode error says why"),
        Ok(packet) => {
            let again = proto::decode(&proto::encode(&packet)).expect("our encoding decodes");
            // Float fields (speaker levels, metrics) may be NaN, which is never equal.
            assert!(
                again == packet || format!("{packet:?}").contains("NaN"),
                "decode → encode → decode changed the packet"
            );
            if let Some(PacketValue::User(u)) = &packet.value
                && let Ok(v) = serde_json::from_slice::<Value>(&u.payload)
            {
                match ChatMessage::from_jsondict(&v) {
                    Ok(m) => {
                        let back = ChatMessage::from_jsondict(&m.to_jsondict())
                            .expect("our legacy JSON decodes");
                        assert_eq!(
                            (&back.id, &back.message, back.timestamp, back.deleted),
                            (&m.id, &m.message, m.timestamp, m.deleted),
                            "a legacy message survives to_jsondict"
                        );
                    }
                    Err(Error::Decode(d)) => {
                        let why = why(&d);
                        let raw = d.raw();
                        assert!(!why.is_empty());
                        assert_eq!(
                            raw,
                            livekit_chat::chatwire_core::excerpt(&v.to_string(), RAW_EXCERPT),
                            "a legacy decode error keeps the JSON"
                        );
                    }
                    Err(e) => panic!("a legacy message error is a decode error, got {e}"),
                }
            }
        }
    }
    let mut assembler = livekit_chat::proto::Assembler::default();
    check_assembled(assembler.push(data).as_ref(), data);
}

/// Reads fuzz bytes as a little program; missing bytes read as 0.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
}

/// The opcodes of [`livekit_assembler`]'s input: a sequence of `opcode sender args...`
/// (`sender` indexes alice, bob and the empty identity of a server API).
pub mod op {
    /// `HEADER sender stream flags version total_length [n inline...]`: a text-stream header.
    /// `flags`: bits 0–1 the operation, 2 `total_length` present, 3 inline content, 4
    /// deflate, 5 a byte-stream header instead of a text one.
    pub const HEADER: u8 = 0;
    /// `CHUNK sender stream index n bytes...`: a chunk.
    pub const CHUNK: u8 = 1;
    /// `TRAILER sender stream flags`: bit 0 an abort reason, bit 1 an attribute.
    pub const TRAILER: u8 = 2;
    /// `RAW _ n bytes...`: arbitrary bytes.
    pub const RAW: u8 = 3;
    /// `FORGET sender`: the sender left.
    pub const FORGET: u8 = 4;
    /// `CHAT sender n bytes...`: a user packet, or a protobuf chat message when `n` is odd.
    pub const CHAT: u8 = 5;
    /// How many opcodes there are (a byte is taken modulo this).
    pub const COUNT: u8 = 6;
}

const SENDERS: [&str; 3] = ["alice", "bob", ""];
const STREAMS: [&str; 4] = [
    "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "s",
    "",
];

/// livekit: a sequence of packets (headers, chunks, trailers, raw bytes, departures, other
/// packets) from a few senders over a few stream ids, through one `Assembler`, as the room
/// would deliver them. Every output is checked as in [`livekit_packet`]; packets that are not
/// stream parts come out as their own event.
pub fn livekit_assembler(data: &[u8]) {
    use livekit_chat::livekit_protocol as lk;
    use livekit_chat::livekit_protocol::data_packet::Value as PacketValue;
    use livekit_chat::livekit_protocol::data_stream;
    use livekit_chat::{ProtoChatMessage, TransportEvent, proto};

    let mut assembler = proto::Assembler::default();
    let mut input = Cursor(data);
    let mut steps = 0;
    while !input.0.is_empty() && steps < 4096 {
        steps += 1;
        let opcode = input.byte() % op::COUNT;
        let sender = SENDERS[usize::from(input.byte()) % SENDERS.len()];
        let packet = |value: PacketValue| lk::DataPacket {
            participant_identity: sender.to_owned(),
            value: Some(value),
            ..lk::DataPacket::default()
        };
        let bytes = match opcode {
            op::HEADER => {
                let stream = STREAMS[usize::from(input.byte()) % STREAMS.len()];
                let flags = input.byte();
                let version = i32::from(input.byte() % 4);
                let total = u64::from(input.byte());
                let inline = if flags & 8 != 0 {
                    let n = usize::from(input.byte() % 64);
                    Some(input.take(n))
                } else {
                    None
                };
                let content = if flags & 32 != 0 {
                    data_stream::header::ContentHeader::ByteHeader(data_stream::ByteHeader {
                        name: "file".into(),
                    })
                } else {
                    data_stream::header::ContentHeader::TextHeader(data_stream::TextHeader {
                        operation_type: i32::from(flags & 3),
                        version,
                        ..data_stream::TextHeader::default()
                    })
                };
                proto::encode(&packet(PacketValue::StreamHeader(data_stream::Header {
                    stream_id: stream.to_owned(),
                    timestamp: 1_700_000_000_000,
                    topic: proto::STREAM_TOPIC.to_owned(),
                    mime_type: "text/plain".into(),
                    total_length: (flags & 4 != 0).then_some(total),
                    inline_content: inline,
                    compression: i32::from(flags & 16 != 0),
                    content_header: Some(content),
                    ..data_stream::Header::default()
                })))
            }
            op::CHUNK => {
                let stream = STREAMS[usize::from(input.byte()) % STREAMS.len()];
                let index = u64::from(input.byte() % 4);
                let n = usize::from(input.byte());
                proto::encode(&packet(PacketValue::StreamChunk(data_stream::Chunk {
                    stream_id: stream.to_owned(),
                    chunk_index: index,
                    content: input.take(n),
                    ..data_stream::Chunk::default()
                })))
            }
            op::TRAILER => {
                let stream = STREAMS[usize::from(input.byte()) % STREAMS.len()];
                let flags = input.byte();
                let mut attributes = std::collections::HashMap::new();
                if flags & 2 != 0 {
                    attributes.insert("k".to_owned(), "v".to_owned());
                }
                proto::encode(&packet(PacketValue::StreamTrailer(data_stream::Trailer {
                    stream_id: stream.to_owned(),
                    reason: if flags & 1 != 0 {
                        "aborted".into()
                    } else {
                        String::new()
                    },
                    attributes,
                })))
            }
            op::RAW => {
                let n = usize::from(input.byte());
                input.take(n)
            }
            op::FORGET => {
                assembler.forget(sender);
                continue;
            }
            _ => {
                let n = input.byte();
                let content = input.take(usize::from(n));
                if n % 2 == 1 {
                    let m = ProtoChatMessage::new(
                        "c0ffee00-1111-4222-8333-444455556666",
                        String::from_utf8_lossy(&content),
                        1_700_000_000_000,
                    );
                    let mut p = proto::chat_packet(&m, &[]);
                    sender.clone_into(&mut p.participant_identity);
                    proto::encode(&p)
                } else {
                    let mut p = proto::user_packet(content, proto::CHAT_TOPIC, true, &[]);
                    sender.clone_into(&mut p.participant_identity);
                    proto::encode(&p)
                }
            }
        };
        let event = assembler.push(&bytes);
        check_assembled(event.as_ref(), &bytes);
        if opcode == op::CHAT {
            assert!(
                matches!(
                    event,
                    Some(TransportEvent::Data { .. } | TransportEvent::Chat { .. })
                ),
                "a user or chat packet is its own event: {event:?}"
            );
        }
    }
}

/// chat-streams: MaiBot's config notation `platform:id:type` (user input: config files)
/// through `StreamKey::from_config`. A key has a platform and a target, a 32-hex-digit MaiBot
/// id, and parses back from its parts; an error says why.
pub fn chat_streams_key(data: &[u8]) {
    use chat_streams::StreamKey;
    let text = String::from_utf8_lossy(data);
    match StreamKey::from_config(&text) {
        Ok(key) => {
            assert!(!key.platform.is_empty() && !key.target.is_empty());
            let id = key.maibot_id();
            assert!(
                id.len() == 32
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "a MaiBot id is 32 lower-case hex digits: {id}"
            );
            let again = format!("{}:{}:{}", key.platform, key.target, key.kind);
            assert_eq!(
                StreamKey::from_config(&again).ok().as_ref(),
                Some(&key),
                "a key parses back from its parts"
            );
            assert!(!key.to_string().is_empty());
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error says why"),
    }
}
