//! LiveKit chat with faults, through the in-memory room (LiveKit's data channel has no socket
//! of ours to break; the room is where its faults happen): duplicated and reordered packets,
//! garbage and truncated packets from a hostile participant, long messages split over many
//! chunks, a slow consumer, and on servers older than 1.8.2 a lost packet (Compatible mode
//! sends every message that fits a legacy copy twice there, so one copy must still get
//! through).
//!
//! The "session" here is a plan of sends and faults (JSON Lines, one step each), so a failing
//! round is saved and replays from its seed like the socket crates' sessions.

use std::collections::HashMap;

use livekit_chat::{
    ChatManager, ChatOptions, Event, IdStyle, InMemoryRoom, RoomOptions, SendMode, proto,
};
use serde_json::{Value, json};

use super::{Outcome, Rng, Session, line};

/// Generates one plan.
pub(super) fn session(rng: &mut Rng) -> Session {
    let old_server = rng.chance(0.3);
    let sender_mode = if old_server {
        "compatible"
    } else {
        *rng.pick(&["compatible", "legacy_only", "streams_only"])
    };
    let slow_consumer = rng.chance(0.2);
    let mut out = line(
        &json!({"server_version": if old_server { "1.8.0" } else { "1.9.0" },
        "sender": sender_mode, "slow_consumer": slow_consumer}),
    );
    let mut faults = Vec::new();
    let mut posted = Vec::new();
    let count = rng.range(3, 12);
    for n in 0..count {
        let mut step = json!({"send": n});
        // Legacy JSON carries at most 15 KB: a long message needs streams.
        let long = sender_mode != "legacy_only" && rng.chance(0.15);
        if long {
            // Longer than one 15 KB chunk: a stream of several chunks.
            step["long"] = json!(rng.range(16_000, 60_000));
            faults.push("long message".to_owned());
        }
        match rng.range(0, 9) {
            0 => {
                step["duplicate"] = json!(rng.range(1, 4));
                faults.push("duplicated packets".into());
            }
            // Held back until the next packet: never the last message.
            1 if sender_mode == "legacy_only" && n + 1 < count => {
                step["reorder"] = json!(1);
                faults.push("reordered packets".into());
            }
            2 => {
                step["garbage"] = json!(rng.range(0, 3));
                faults.push("garbage packet".into());
            }
            3 => {
                step["truncated"] = json!(rng.range(1, 40));
                faults.push("truncated packet".into());
            }
            // Only a message short enough for its legacy copy travels twice.
            4 if old_server && !long => {
                step["drop"] = json!(1);
                faults.push("lost packet (old server)".into());
            }
            _ => {}
        }
        posted.push(format!("m{n}"));
        out.push_str(&line(&step));
    }
    if slow_consumer {
        faults.push("slow consumer".into());
    }
    Session {
        fixture: out,
        posted,
        faults,
        slow_consumer,
    }
}

fn mode(name: &str) -> SendMode {
    match name {
        "legacy_only" => SendMode::LegacyOnly,
        "streams_only" => SendMode::StreamsOnly,
        _ => SendMode::Compatible,
    }
}

/// Plays a plan: alice sends, bob receives through the faulty room.
pub(super) async fn play(session: &Session, seed: u64) -> Outcome {
    let mut outcome = Outcome::default();
    let mut lines = session.fixture.lines().map(serde_json::from_str::<Value>);
    let Some(Ok(head)) = lines.next() else {
        outcome.failures.push("empty plan".into());
        return outcome;
    };
    let room = InMemoryRoom::new(
        RoomOptions::default().server_version(head["server_version"].as_str().unwrap_or("").into()),
    );
    let alice = ChatManager::new(
        room.join("alice"),
        ChatOptions::default().mode(mode(head["sender"].as_str().unwrap_or(""))),
    );
    let bob = ChatManager::new(room.join("bob"), ChatOptions::default());
    let mut events = bob.subscribe();
    // Which text each message carries, to check what arrived is what was sent.
    let mut texts: HashMap<String, (String, String)> = HashMap::new();
    let mut rng = Rng::new(seed);
    for step in lines {
        let Ok(step) = step else {
            outcome.failures.push("a plan line is not JSON".into());
            return outcome;
        };
        let n = step["send"].as_u64().unwrap_or(0);
        if let Some(k) = step["duplicate"].as_u64() {
            room.duplicate_next(u32::try_from(k).unwrap_or(1));
        }
        if let Some(k) = step["reorder"].as_u64() {
            room.reorder_next(u32::try_from(k).unwrap_or(1));
        }
        if let Some(k) = step["drop"].as_u64() {
            room.drop_next(u32::try_from(k).unwrap_or(1));
        }
        if let Some(kind) = step["garbage"].as_u64() {
            let bytes: Vec<u8> = match kind {
                0 => b"\x00\xff garbage \xfe".to_vec(),
                1 => b"{\"id\": 5, \"message\": [".to_vec(),
                _ => (0..rng.range(1, 300))
                    .map(|_| u8::try_from(rng.next_u64() & 0xff).unwrap_or(0))
                    .collect(),
            };
            room.inject_bytes(&bytes, None);
        }
        if let Some(cut) = step["truncated"].as_u64() {
            let m = livekit_chat::ChatMessage::new("cut short", IdStyle::Uuid);
            let packet = proto::user_packet(
                serde_json::to_vec(&m.to_jsondict()).unwrap_or_default(),
                proto::CHAT_TOPIC,
                true,
                &[],
            );
            let bytes = proto::encode(&packet);
            let cut = usize::try_from(cut).unwrap_or(1).min(bytes.len() - 1);
            room.inject_bytes(&bytes[..bytes.len() - cut], None);
        }
        let text = match step["long"].as_u64() {
            Some(len) => "장".repeat(usize::try_from(len / 3).unwrap_or(1)) + &format!(" {n}"),
            None => format!("message {n} 👋"),
        };
        match alice.send_message(&text).await {
            Ok(m) => {
                texts.insert(m.id.clone(), (format!("m{n}"), text));
            }
            Err(e) => outcome.failures.push(format!("send {n} failed: {e}")),
        }
        if session.slow_consumer {
            // The consumer falls behind: nothing is read until the room is quiet.
            continue;
        }
        room.settled().await;
        drain(&mut events, &texts, &mut outcome);
    }
    room.settled().await;
    drain(&mut events, &texts, &mut outcome);
    alice.close();
    bob.close();
    outcome
}

fn drain(
    events: &mut livekit_chat::Events,
    texts: &HashMap<String, (String, String)>,
    o: &mut Outcome,
) {
    while let Some(item) = events.try_next() {
        match item {
            Ok(Event::Received(m)) => match texts.get(&m.id) {
                Some((key, text)) if m.message.as_deref() == Some(text.as_str()) => {
                    o.delivered.push(key.clone());
                }
                Some((key, _)) => o.failures.push(format!("{key} arrived with other text")),
                // A truncated packet that still parses carries its (shortened) message.
                None if m.participant.is_none() => {}
                None => o
                    .failures
                    .push(format!("a message nobody sent arrived: {}", m.id)),
            },
            Ok(other) => o
                .failures
                .push(format!("unexpected {} event", other.kind())),
            Err(_) => o.errors += 1,
        }
    }
}
