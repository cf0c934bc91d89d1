//! Hostile input: real-shaped packets of every format (legacy JSON on both topics, text-stream
//! header/chunk/trailer, protobuf chat), mutated thousands of ways (bytes flipped, inserted and
//! cut; JSON nodes replaced by other types), delivered through the in-memory room to a chat
//! manager. Nothing may panic or stop the chat: after every batch of mutated packets a valid
//! message still arrives, and everything that came out is an event or a decode error that
//! keeps the payload.
//!
//! Deterministic (a fixed-seed xorshift). `MUTATIONS` sets the rounds (default 400).

use livekit_chat::livekit_protocol as lk;
use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, Error, Event, IdStyle, InMemoryRoom, ProtoChatMessage,
    TextStreamInfo, proto,
};
use serde_json::{Value, json};

use chat_replay::mutate;
use chat_replay::rng::Rng;

/// Packets of every format, as a sender would publish them (the room stamps the sender).
fn seeds() -> Vec<lk::DataPacket> {
    let mut out = Vec::new();
    let mut m = ChatMessage::new("héllo 👋 seed", IdStyle::Base62);
    for topic in [proto::CHAT_TOPIC, proto::CHAT_UPDATE_TOPIC] {
        let payload = serde_json::to_vec(&m.to_jsondict()).unwrap();
        out.push(proto::user_packet(payload, topic, true, &[]));
        m.edit_timestamp = Some(m.timestamp + 5);
    }
    let js = json!({"id": "3f2b9a6e-1c4d-4b8e-9f00-5a6b7c8d9e01", "timestamp": 1_700_000_000_000_i64,
        "message": "components copy", "ignoreLegacy": false});
    out.push(proto::user_packet(
        js.to_string().into_bytes(),
        proto::CHAT_TOPIC,
        true,
        &[],
    ));
    let info = TextStreamInfo::new(
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        proto::STREAM_TOPIC,
        1_700_000_000_500,
    );
    out.extend(proto::text_stream_packets(&"가나다".repeat(6000), &info));
    let p = ProtoChatMessage::new(
        "c0ffee00-1111-4222-8333-444455556666",
        "protobuf chat",
        1_700_000_000_400,
    );
    out.push(proto::chat_packet(&p, &[]));
    out
}

fn replacement(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => Value::Null,
        1 => json!(1e308),
        2 => json!("not a number"),
        3 => json!(-1),
        4 => json!([1, [2, [3]]]),
        5 => json!({"message": {"nested": true}}),
        6 => json!(u64::MAX),
        _ => json!(""),
    }
}

fn mutate_json(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(bytes) else {
        return bytes.to_vec();
    };
    let keys: Vec<String> = m.keys().cloned().collect();
    match rng.below(3) {
        0 if !keys.is_empty() => {
            m.remove(&keys[rng.below(keys.len())]);
        }
        1 if !keys.is_empty() => {
            m.insert(keys[rng.below(keys.len())].clone(), replacement(rng));
        }
        _ => {
            m.insert("unknownKey".into(), replacement(rng));
        }
    }
    Value::Object(m).to_string().into_bytes()
}

fn mutate_bytes(mut bytes: Vec<u8>, rng: &mut Rng) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![0xff];
    }
    match rng.below(4) {
        0 => mutate::flip_bit(&mut bytes, rng),
        1 => mutate::cut(&mut bytes, rng),
        2 => mutate::insert_byte(&mut bytes, &mutate::ANY_BYTE, rng),
        _ => {
            let i = rng.below(bytes.len());
            bytes[i..].reverse();
        }
    }
    bytes
}

#[tokio::test]
async fn mutated_packets_never_stop_the_chat() {
    let rounds = mutate::count(400);
    let room = InMemoryRoom::default();
    let reader = ChatManager::new(room.join("reader"), ChatOptions::default());
    let writer = ChatManager::new(room.join("writer"), ChatOptions::default());
    let mut events = reader.subscribe();
    let seeds = seeds();
    let mut rng = Rng(0x5EED_1EE7_0000_0001);
    let (mut received, mut errors) = (0_usize, 0_usize);
    for round in 0..rounds {
        for _ in 0..8 {
            let mut packet = seeds[rng.below(seeds.len())].clone();
            packet.participant_identity = "mallory".into();
            if rng.below(2) == 0
                && let Some(lk::data_packet::Value::User(u)) = packet.value.as_mut()
            {
                u.payload = mutate_json(&u.payload, &mut rng);
                room.inject(Some("mallory"), &packet, None);
            } else {
                room.inject_bytes(&mutate_bytes(proto::encode(&packet), &mut rng), None);
            }
        }
        let canary = writer
            .send_message(&format!("canary {round}"))
            .await
            .unwrap();
        room.settled().await;
        let mut canary_seen = false;
        while let Some(item) = events.try_next() {
            match item {
                Ok(Event::Received(m)) if m.id == canary.id => canary_seen = true,
                Ok(_) => received += 1,
                Err(Error::Decode(d)) => {
                    let what = d.what();
                    let why = mutate::why(&d);
                    let raw = d.raw();
                    // The payload is kept: a packet's bytes, a legacy packet's JSON. Only a
                    // whole stream failing (its parts consumed) names the stream instead, and
                    // an empty legacy payload is kept as the empty string it was.
                    assert!(!why.is_empty(), "{what}: an error says why");
                    assert!(
                        !raw.is_empty() || why.contains("stream ") || why.contains("EOF"),
                        "{what}: {why}: the error keeps no payload"
                    );
                    errors += 1;
                }
                Err(e) => panic!("only decode errors are expected, got {e}"),
            }
        }
        assert!(
            canary_seen,
            "round {round}: the chat stopped after mutated packets"
        );
    }
    assert!(
        received > 0 && errors > 0,
        "the mutations reach both outcomes: {received} {errors}"
    );
    eprintln!("{rounds} rounds of 8 mutated packets: {received} events, {errors} decode errors");
}
