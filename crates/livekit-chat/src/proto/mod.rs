//! Wire-accurate `DataPacket` bytes (through the `livekit-protocol` crate): user packets,
//! protobuf chat messages, and text streams (header, 15,000-byte chunks split on UTF-8
//! boundaries, trailer) with their reassembly.
//!
//! Public only with the off-by-default `unstable-proto` feature, for benchmarks, fuzzing and
//! `cargo xtask interop`: no semver promise, it follows the reverse-engineered wire.
// Without `unstable-proto` the module is private and its tool-facing items go unused.
#![cfg_attr(not(feature = "unstable-proto"), allow(unreachable_pub, dead_code))]

use std::collections::{BTreeMap, HashMap, VecDeque};

use livekit_protocol as lk;
use livekit_protocol::data_packet::Value as PacketValue;
use livekit_protocol::data_stream;
use prost::Message as _;

use crate::transport::{ProtoChatMessage, StreamOperation, TextStreamInfo, TransportEvent};

/// The legacy chat topic.
pub const CHAT_TOPIC: &str = "lk-chat-topic";
/// The legacy update/delete topic (Python `ChatManager`).
pub const CHAT_UPDATE_TOPIC: &str = "lk-chat-update-topic";
/// The text-stream chat topic.
pub const STREAM_TOPIC: &str = "lk.chat";
/// Text-stream chunk size (the SDKs' `STREAM_CHUNK_SIZE_BYTES`).
pub const CHUNK_SIZE: usize = 15_000;

/// Encodes a packet to its wire bytes.
pub fn encode(packet: &lk::DataPacket) -> Vec<u8> {
    packet.encode_to_vec()
}

/// Decodes wire bytes.
///
/// # Errors
/// The protobuf decoder's message.
pub fn decode(bytes: &[u8]) -> Result<lk::DataPacket, String> {
    lk::DataPacket::decode(bytes).map_err(|e| e.to_string())
}

// `kind` is deprecated in the protocol, but the SDKs still set it and older servers read it.
#[allow(deprecated)]
fn envelope(value: PacketValue, destinations: &[String]) -> lk::DataPacket {
    lk::DataPacket {
        kind: lk::data_packet::Kind::Reliable as i32,
        destination_identities: destinations.to_vec(),
        value: Some(value),
        ..lk::DataPacket::default()
    }
}

/// A user packet on `topic`.
#[allow(deprecated)]
pub fn user_packet(
    payload: Vec<u8>,
    topic: &str,
    reliable: bool,
    destinations: &[String],
) -> lk::DataPacket {
    let mut p = envelope(
        PacketValue::User(lk::UserPacket {
            payload,
            topic: Some(topic.to_owned()),
            ..lk::UserPacket::default()
        }),
        destinations,
    );
    if !reliable {
        p.kind = lk::data_packet::Kind::Lossy as i32;
    }
    p
}

/// A protobuf chat packet.
pub fn chat_packet(m: &ProtoChatMessage, destinations: &[String]) -> lk::DataPacket {
    envelope(
        PacketValue::ChatMessage(lk::ChatMessage {
            id: m.id.clone(),
            timestamp: m.timestamp,
            edit_timestamp: m.edit_timestamp,
            message: m.message.clone(),
            deleted: m.deleted,
            generated: m.generated,
        }),
        destinations,
    )
}

/// Splits `text` into pieces of at most `max` bytes, never inside a UTF-8 character.
pub fn split_utf8(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max.max(4));
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// The packets of a text stream: a header, chunks of at most [`CHUNK_SIZE`] bytes, a trailer.
pub fn text_stream_packets(text: &str, info: &TextStreamInfo) -> Vec<lk::DataPacket> {
    let header = data_stream::Header {
        stream_id: info.id.clone(),
        timestamp: info.timestamp,
        topic: info.topic.clone(),
        mime_type: "text/plain".into(),
        total_length: Some(text.len() as u64),
        attributes: info
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        content_header: Some(data_stream::header::ContentHeader::TextHeader(
            data_stream::TextHeader {
                operation_type: info.operation.as_i32(),
                version: info.version,
                reply_to_stream_id: info.reply_to.clone().unwrap_or_default(),
                attached_stream_ids: Vec::new(),
                generated: info.generated,
            },
        )),
        ..data_stream::Header::default()
    };
    let mut packets = vec![envelope(
        PacketValue::StreamHeader(header),
        &info.destinations,
    )];
    for (i, piece) in split_utf8(text, CHUNK_SIZE).into_iter().enumerate() {
        packets.push(envelope(
            PacketValue::StreamChunk(data_stream::Chunk {
                stream_id: info.id.clone(),
                chunk_index: i as u64,
                content: piece.as_bytes().to_vec(),
                version: info.version,
                ..data_stream::Chunk::default()
            }),
            &info.destinations,
        ));
    }
    packets.push(envelope(
        PacketValue::StreamTrailer(data_stream::Trailer {
            stream_id: info.id.clone(),
            reason: String::new(),
            attributes: HashMap::new(),
        }),
        &info.destinations,
    ));
    packets
}

fn info_of(h: &data_stream::Header) -> TextStreamInfo {
    let text = match &h.content_header {
        Some(data_stream::header::ContentHeader::TextHeader(t)) => Some(t.clone()),
        _ => None,
    };
    TextStreamInfo {
        id: h.stream_id.clone(),
        topic: h.topic.clone(),
        timestamp: h.timestamp,
        attributes: h
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        operation: StreamOperation::from_i32(text.as_ref().map_or(0, |t| t.operation_type)),
        version: text.as_ref().map_or(0, |t| t.version),
        reply_to: text
            .as_ref()
            .map(|t| t.reply_to_stream_id.clone())
            .filter(|s| !s.is_empty()),
        total_length: h.total_length,
        destinations: Vec::new(),
        generated: text.is_some_and(|t| t.generated),
    }
}

struct Partial {
    info: TextStreamInfo,
    chunks: BTreeMap<u64, Vec<u8>>,
    /// The sum of the chunks' lengths.
    bytes: usize,
}

/// Reassembles text streams from their packets, per sender; turns every packet into the
/// transport event a LiveKit SDK would surface.
#[derive(Default)]
pub struct Assembler {
    open: HashMap<(String, String), Partial>,
    /// Recently completed streams, oldest first: a resent packet of one of them is a duplicate
    /// to drop silently, not an error.
    /// An update reuses its message's stream id with a new header, so the header is kept too.
    done: HashMap<(String, String), TextStreamInfo>,
    /// The keys of `done`, oldest first, for forgetting the oldest.
    done_order: VecDeque<(String, String)>,
}

/// How many completed streams [`Assembler`] remembers for duplicate detection.
const REMEMBERED_STREAMS: usize = 512;

/// Text streams one sender may have open at once; a header beyond it is refused (a hostile or
/// broken peer then only loses its own messages, and memory stays bounded).
pub const MAX_OPEN_STREAMS_PER_SENDER: usize = 32;

/// The most text one stream may accumulate (the chunks received so far); a stream that grows
/// past it is dropped with an error.
pub const MAX_STREAM_BYTES: usize = 8 << 20;

impl std::fmt::Debug for Assembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembler")
            .field("open_streams", &self.open.len())
            .field("remembered_streams", &self.done.len())
            .finish_non_exhaustive()
    }
}

impl Assembler {
    /// Feeds one received packet (already stamped with its sender by the server).
    pub fn push(&mut self, bytes: &[u8]) -> Option<TransportEvent> {
        let packet = match decode(bytes) {
            Ok(p) => p,
            Err(why) => {
                return Some(TransportEvent::Malformed {
                    why: format!("not a DataPacket: {why}"),
                    raw: bytes.to_vec(),
                    from: None,
                });
            }
        };
        let from = Some(packet.participant_identity.clone()).filter(|s| !s.is_empty());
        let key = |id: &str| (from.clone().unwrap_or_default(), id.to_owned());
        match packet.value {
            Some(PacketValue::User(u)) => Some(TransportEvent::Data {
                payload: u.payload,
                topic: u.topic,
                from,
            }),
            Some(PacketValue::ChatMessage(m)) => Some(TransportEvent::Chat {
                message: ProtoChatMessage {
                    id: m.id,
                    timestamp: m.timestamp,
                    edit_timestamp: m.edit_timestamp,
                    message: m.message,
                    deleted: m.deleted,
                    generated: m.generated,
                },
                from,
            }),
            Some(PacketValue::StreamHeader(h)) => {
                if !matches!(
                    h.content_header,
                    Some(data_stream::header::ContentHeader::TextHeader(_)) | None
                ) {
                    return None; // byte streams (attachments) are not chat text
                }
                let info = info_of(&h);
                if let Some(inline) = h.inline_content {
                    if h.compression != 0 {
                        return Some(TransportEvent::Malformed {
                            why: "compressed inline content is not supported (this client does not advertise deflate)".into(),
                            raw: bytes.to_vec(),
                            from,
                        });
                    }
                    return Some(match String::from_utf8(inline) {
                        Ok(text) => TransportEvent::TextStream { info, text, from },
                        Err(e) => TransportEvent::Malformed {
                            why: format!("inline text is not UTF-8: {e}"),
                            raw: bytes.to_vec(),
                            from,
                        },
                    });
                }
                let k = key(&info.id);
                if self.done.get(&k).is_some_and(|i| *i == info) {
                    return None; // a resent header of a stream already delivered
                }
                if self.open.get(&k).is_some_and(|p| p.info == info) {
                    return None; // a resent header of a stream in flight
                }
                if self.open.contains_key(&k) {
                    return Some(TransportEvent::Malformed {
                        why: format!("stream {} is already open", info.id),
                        raw: bytes.to_vec(),
                        from,
                    });
                }
                if self.open.keys().filter(|(who, _)| *who == k.0).count()
                    >= MAX_OPEN_STREAMS_PER_SENDER
                {
                    return Some(TransportEvent::Malformed {
                        why: format!(
                            "stream {} refused: the sender already has {MAX_OPEN_STREAMS_PER_SENDER} open streams",
                            info.id
                        ),
                        raw: bytes.to_vec(),
                        from,
                    });
                }
                self.open.insert(
                    k,
                    Partial {
                        info,
                        chunks: BTreeMap::new(),
                        bytes: 0,
                    },
                );
                None
            }
            Some(PacketValue::StreamChunk(c)) => {
                let k = key(&c.stream_id);
                match self.open.get_mut(&k) {
                    Some(p) if p.bytes + c.content.len() > MAX_STREAM_BYTES => {
                        // Remembered as done, so its later chunks and trailer are dropped quietly.
                        if let Some(p) = self.open.remove(&k) {
                            self.remember(k, p.info);
                        }
                        Some(TransportEvent::Malformed {
                            why: format!(
                                "stream {} dropped: longer than {MAX_STREAM_BYTES} bytes",
                                c.stream_id
                            ),
                            raw: Vec::new(),
                            from,
                        })
                    }
                    // A repeated index (a resend) keeps the first copy.
                    Some(p) => {
                        if let std::collections::btree_map::Entry::Vacant(e) =
                            p.chunks.entry(c.chunk_index)
                        {
                            p.bytes += c.content.len();
                            e.insert(c.content);
                        }
                        None
                    }
                    None if self.done.contains_key(&k) => None,
                    None => Some(TransportEvent::Malformed {
                        why: format!("chunk for unknown stream {}", c.stream_id),
                        raw: bytes.to_vec(),
                        from,
                    }),
                }
            }
            Some(PacketValue::StreamTrailer(t)) => {
                let k = key(&t.stream_id);
                let Some(p) = self.open.remove(&k) else {
                    if self.done.contains_key(&k) {
                        return None;
                    }
                    return Some(TransportEvent::Malformed {
                        why: format!("trailer for unknown stream {}", t.stream_id),
                        raw: bytes.to_vec(),
                        from,
                    });
                };
                self.remember(k, p.info.clone());
                if !t.reason.is_empty() {
                    return Some(TransportEvent::Malformed {
                        why: format!("stream {} aborted: {}", t.stream_id, t.reason),
                        raw: Vec::new(),
                        from,
                    });
                }
                let expected = p.chunks.len() as u64;
                if p.chunks.keys().copied().ne(0..expected) {
                    return Some(TransportEvent::Malformed {
                        why: format!("stream {} has missing chunks", t.stream_id),
                        raw: Vec::new(),
                        from,
                    });
                }
                let mut bytes = Vec::with_capacity(p.chunks.values().map(Vec::len).sum());
                for chunk in p.chunks.into_values() {
                    bytes.extend_from_slice(&chunk);
                }
                if p.info.total_length.is_some_and(|n| n != bytes.len() as u64) {
                    return Some(TransportEvent::Malformed {
                        why: format!("stream {} is shorter than announced", t.stream_id),
                        raw: Vec::new(),
                        from,
                    });
                }
                let mut info = p.info;
                for (k, v) in t.attributes {
                    info.attributes.insert(k, v);
                }
                Some(match String::from_utf8(bytes) {
                    Ok(text) => TransportEvent::TextStream { info, text, from },
                    Err(e) => TransportEvent::Malformed {
                        why: format!("stream text is not UTF-8: {e}"),
                        raw: Vec::new(),
                        from,
                    },
                })
            }
            // Other packet kinds (RPC, transcription, metrics, ...) are not chat.
            _ => None,
        }
    }

    /// Records a completed (or dropped) stream, forgetting the oldest beyond
    /// [`REMEMBERED_STREAMS`].
    fn remember(&mut self, k: (String, String), info: TextStreamInfo) {
        if self.done.insert(k.clone(), info).is_none() {
            self.done_order.push_back(k);
            if self.done_order.len() > REMEMBERED_STREAMS
                && let Some(old) = self.done_order.pop_front()
            {
                self.done.remove(&old);
            }
        }
    }

    /// Drops the open streams of a participant that left (their messages are incomplete).
    pub fn forget(&mut self, identity: &str) {
        self.open.retain(|(who, _), _| who != identity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_sender_is_bounded() {
        let mut a = Assembler::default();
        let mut refused = 0;
        for i in 0..(MAX_OPEN_STREAMS_PER_SENDER + 5) {
            let info = TextStreamInfo::new(format!("stream-{i}"), STREAM_TOPIC, 1);
            let mut header = text_stream_packets("x", &info).swap_remove(0);
            header.participant_identity = "mallory".into();
            if let Some(TransportEvent::Malformed { why, .. }) = a.push(&encode(&header)) {
                assert!(why.contains("open streams"), "{why}");
                refused += 1;
            }
        }
        assert_eq!(refused, 5);
        assert_eq!(a.open.len(), MAX_OPEN_STREAMS_PER_SENDER);
        // Another sender is not affected.
        let info = TextStreamInfo::new("fine", STREAM_TOPIC, 1);
        let mut packets = text_stream_packets("hello", &info);
        let mut out = None;
        for p in &mut packets {
            p.participant_identity = "alice".into();
            out = a.push(&encode(p));
        }
        assert!(matches!(out, Some(TransportEvent::TextStream { .. })));
    }

    #[test]
    fn utf8_safe_chunks() {
        let text = "가".repeat(10_001); // 3 bytes each: 30,003 bytes
        let parts = split_utf8(&text, CHUNK_SIZE);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.len() <= CHUNK_SIZE));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn a_stream_round_trips_through_wire_bytes() {
        let text = format!("{}é", "x".repeat(40_000));
        let mut info = TextStreamInfo::new(
            "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            STREAM_TOPIC,
            1_700_000_000_000,
        );
        info.attributes.insert("k".into(), "v".into());
        let packets = text_stream_packets(&text, &info);
        assert_eq!(packets.len(), 1 + 3 + 1);
        let mut a = Assembler::default();
        let mut out = None;
        for mut p in packets {
            p.participant_identity = "alice".into();
            if let Some(e) = a.push(&encode(&p)) {
                out = Some(e);
            }
        }
        let Some(TransportEvent::TextStream {
            info: got,
            text: t,
            from,
        }) = out
        else {
            panic!("a whole stream")
        };
        assert_eq!((t, from.as_deref()), (text, Some("alice")));
        assert_eq!(got.attributes.get("k").map(String::as_str), Some("v"));
        assert!(matches!(
            a.push(b"\xff\x00garbage"),
            Some(TransportEvent::Malformed { .. })
        ));
    }
}
