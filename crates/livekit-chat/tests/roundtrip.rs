//! Round trips for everything we send, over seeded random texts (multi-byte characters across
//! chunk boundaries, quotes, control characters, empty and long texts), through our own
//! decoders: the legacy JSON object, text-stream packets (new, edited, deleted; chunks in any
//! order), protobuf chat, and whole conversations between two chat managers in every send mode
//! (sends, edits, deletes).
//!
//! Deterministic (a fixed-seed xorshift). The wire bytes themselves are checked against the
//! other SDKs by the fixtures (`tests/replay.rs`) and `cargo xtask interop`.

use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, Event, IdStyle, InMemoryRoom, ProtoChatMessage,
    SendMode, StreamOperation, TextStreamInfo, TransportEvent, proto,
};

use chat_replay::rng::Rng;

/// Awkward texts and lengths for the round trips.
trait Text {
    fn text(&mut self, len: usize) -> String;
    fn len(&mut self) -> usize;
}

impl Text for Rng {
    /// A text of about `len` bytes from awkward pieces (1- to 4-byte characters, JSON
    /// specials, controls, a ZWJ sequence).
    fn text(&mut self, len: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            " ",
            "\"",
            "\\",
            "{",
            "}",
            "\n",
            "\u{0}",
            "é",
            "가",
            "👋",
            "🏳️‍🌈",
            "\u{feff}",
            "x",
        ];
        let mut s = String::new();
        while s.len() < len {
            s.push_str(PIECES[self.below(PIECES.len())]);
        }
        s
    }
    /// A length: mostly short, sometimes around the 15,000-byte chunk size or a few chunks.
    fn len(&mut self) -> usize {
        match self.below(6) {
            0 => proto::CHUNK_SIZE - 3 + self.below(7),
            1 => self.below(3 * proto::CHUNK_SIZE),
            _ => self.below(80),
        }
    }
}

const ROUNDS: usize = 200;

/// `packets` stamped with `from`, through a fresh assembler; the events that came out.
fn assemble(
    packets: &[livekit_chat::livekit_protocol::DataPacket],
    from: &str,
) -> Vec<TransportEvent> {
    let mut a = proto::Assembler::default();
    packets
        .iter()
        .filter_map(|p| {
            let mut p = p.clone();
            from.clone_into(&mut p.participant_identity);
            a.push(&proto::encode(&p))
        })
        .collect()
}

#[test]
fn legacy_json_round_trips() {
    let mut rng = Rng(0x5EED_1EE7_0000_0002);
    for _ in 0..ROUNDS {
        let len = rng.below(200);
        let mut m = ChatMessage::new(rng.text(len), IdStyle::Base62);
        m.deleted = rng.below(4) == 0;
        for topic in [proto::CHAT_TOPIC, proto::CHAT_UPDATE_TOPIC] {
            let payload = serde_json::to_vec(&m.to_jsondict()).unwrap();
            let packet = proto::user_packet(payload, topic, true, &[]);
            let events = assemble(&[packet], "alice");
            let [
                TransportEvent::Data {
                    payload,
                    topic: t,
                    from,
                },
            ] = events.as_slice()
            else {
                panic!("one data event")
            };
            assert_eq!(
                (t.as_deref(), from.as_deref()),
                (Some(topic), Some("alice"))
            );
            let back =
                ChatMessage::from_jsondict(&serde_json::from_slice(payload).unwrap()).unwrap();
            assert_eq!(
                (&back.id, &back.message, back.timestamp, back.deleted),
                (&m.id, &m.message, m.timestamp, m.deleted)
            );
        }
    }
}

#[test]
fn text_streams_round_trip_in_any_chunk_order() {
    let mut rng = Rng(0x5EED_1EE7_0000_0003);
    for round in 0..ROUNDS {
        let len = rng.len();
        let text = rng.text(len);
        let mut info = TextStreamInfo::new(
            livekit_chat::new_id(IdStyle::Uuid),
            proto::STREAM_TOPIC,
            1_700_000_000_000 + i64::try_from(round).unwrap_or(0),
        );
        info.operation = [
            StreamOperation::Create,
            StreamOperation::Update,
            StreamOperation::Delete,
        ][rng.below(3)];
        info.version = i32::try_from(rng.below(5)).unwrap_or(0);
        if rng.below(2) == 0 {
            info.attributes.insert(rng.text(3), rng.text(5));
        }
        info.reply_to = (rng.below(3) == 0).then(|| livekit_chat::new_id(IdStyle::Uuid));
        info.generated = rng.below(5) == 0;
        let mut packets = proto::text_stream_packets(&text, &info);
        // Chunks may arrive in any order between header and trailer.
        let chunks = packets.len() - 1;
        for i in (2..chunks).rev() {
            packets.swap(i, 1 + rng.below(i));
        }
        let events = assemble(&packets, "alice");
        let [
            TransportEvent::TextStream {
                info: got,
                text: t,
                from,
            },
        ] = events.as_slice()
        else {
            panic!("one whole stream: {events:?}")
        };
        assert_eq!((t, from.as_deref()), (&text, Some("alice")));
        assert_eq!(
            (&got.id, &got.topic, got.timestamp, &got.attributes),
            (&info.id, &info.topic, info.timestamp, &info.attributes)
        );
        assert_eq!(
            (got.operation, got.version, &got.reply_to, got.generated),
            (info.operation, info.version, &info.reply_to, info.generated)
        );
        assert_eq!(got.total_length, Some(text.len() as u64));
    }
}

#[test]
fn protobuf_chat_round_trips() {
    let mut rng = Rng(0x5EED_1EE7_0000_0004);
    for round in 0..ROUNDS {
        let len = rng.len().min(2000);
        let mut m = ProtoChatMessage::new(
            livekit_chat::new_id(IdStyle::Uuid),
            rng.text(len),
            1_700_000_000_000 + i64::try_from(round).unwrap_or(0),
        );
        m.edit_timestamp = (rng.below(2) == 0).then_some(m.timestamp + 5);
        m.deleted = rng.below(4) == 0;
        m.generated = rng.below(4) == 0;
        let events = assemble(&[proto::chat_packet(&m, &[])], "bob");
        assert_eq!(
            events,
            [TransportEvent::Chat {
                message: m.clone(),
                from: Some("bob".into())
            }]
        );
    }
}

#[tokio::test]
async fn conversations_round_trip_in_every_send_mode() {
    let mut rng = Rng(0x5EED_1EE7_0000_0005);
    for mode in [
        SendMode::Compatible,
        SendMode::StreamsOnly,
        SendMode::LegacyOnly,
    ] {
        let room = InMemoryRoom::default();
        let alice = ChatManager::new(room.join("alice"), ChatOptions::default().mode(mode));
        let bob = ChatManager::new(room.join("bob"), ChatOptions::default().mode(mode));
        let mut events = bob.subscribe();
        for _ in 0..20 {
            // Legacy JSON must fit one packet (escapes may grow a text sixfold).
            let max = if mode == SendMode::LegacyOnly {
                2000
            } else {
                usize::MAX
            };
            let len = rng.len().min(max);
            let text = rng.text(len.max(1));
            let sent = alice.send_message(&text).await.unwrap();
            let len = rng.len().min(max);
            let mut edit = sent.clone();
            edit.message = Some(format!("{} {}", rng.text(len), "(edited)"));
            let edited = alice.update_message(&edit).await.unwrap();
            let deleted = (rng.below(2) == 0).then_some(edited.clone());
            if let Some(d) = &deleted {
                alice.delete_message(d).await.unwrap();
            }
            room.settled().await;

            let mut got = Vec::new();
            while let Some(item) = events.try_next() {
                got.push(item.unwrap_or_else(|e| panic!("{mode:?}: no decode errors: {e}")));
            }
            let [Event::Received(r), Event::Edited(e), rest @ ..] = got.as_slice() else {
                panic!("{mode:?}: received then edited: {got:?}")
            };
            assert_eq!(
                (&r.id, r.text(), r.timestamp),
                (&sent.id, text.as_str(), sent.timestamp),
                "{mode:?}"
            );
            assert_eq!(
                (&e.id, e.text(), e.timestamp),
                (&sent.id, edited.text(), sent.timestamp),
                "{mode:?}"
            );
            assert_eq!(r.participant.as_deref(), Some("alice"));
            match (deleted, rest) {
                (None, []) => {}
                (Some(_), [Event::Deleted(d)]) => {
                    assert!(d.deleted && d.id == sent.id, "{mode:?}: {d:?}");
                }
                (d, rest) => panic!("{mode:?}: deleted {}, then {rest:?}", d.is_some()),
            }
        }
    }
}
