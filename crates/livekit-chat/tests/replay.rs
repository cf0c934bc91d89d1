//! Runs every fixture whose platform is `livekit` through the in-memory room (the LiveKit
//! stand-in: real `DataPacket` bytes, server-like stamping and routing).
//!
//! Header `config`: `room` (`server_version`, `max_packet_size`), `participants` (`identity`,
//! `mode`: `compatible` | `legacy_only` | `streams_only`, `hidden`, `send_proto`, `echo`).
//! Actions (after each one the room settles, then every participant's new events are
//! recorded): `send {from, text, to?, label?}`, `edit {from, label, text}`,
//! `delete {from, label}`, `inject_json {from?, topic, json}`, `inject_text {from?, topic,
//! text}`, `inject_stream {from?, id, text, operation?, version?, timestamp?}`,
//! `inject_proto {from?, id, text, timestamp, edit_timestamp?, deleted?}`, `inject_bytes
//! {b64}`, `fault {drop?, duplicate?, reorder?}`, `leave {identity}`, `history {of}`.
//!
//! Random ids become `id#1`, `id#2`... in order of appearance; times from this run become
//! `"now"`.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;

use chat_replay::ReplayServer;
use livekit_chat::livekit_protocol as lk;
use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, Events, InMemoryRoom, Participant, ProtoChatMessage,
    RoomOptions, SendMode, StreamOperation, TextStreamInfo, proto,
};
use serde_json::{Value, json};

fn main() -> ExitCode {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    chat_replay::harness::Harness::new("livekit", dir).run(run)
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 36
        && b[..36].iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        })
}

struct Normalizer {
    ids: HashMap<String, String>,
    start_ms: i64,
}

impl Normalizer {
    /// Replaces random UUIDs inside free text (error messages name stream ids) by their
    /// placeholders, so the text is the same on every run.
    fn text(&mut self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| is_uuid_v4(&rest[i..]))
        {
            out.push_str(&rest[..at]);
            let id = &rest[at..at + 36];
            let n = self.ids.len() + 1;
            out.push_str(
                self.ids
                    .entry(id.to_owned())
                    .or_insert_with(|| format!("id#{n}")),
            );
            rest = &rest[at + 36..];
        }
        out.push_str(rest);
        out
    }

    fn value(&mut self, v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), &v) {
                            ("id" | "message_id", Value::String(s)) => {
                                let n = self.ids.len() + 1;
                                let is_random = s.len() == 12 || (s.len() == 36 && is_uuid_v4(s));
                                if is_random {
                                    json!(
                                        self.ids
                                            .entry(s.clone())
                                            .or_insert_with(|| format!("id#{n}"))
                                            .clone()
                                    )
                                } else {
                                    v
                                }
                            }
                            ("message" | "error", Value::String(s)) => json!(self.text(s)),
                            ("timestamp" | "edit_timestamp", Value::Number(n))
                                if n.as_i64().is_some_and(|t| t >= self.start_ms) =>
                            {
                                json!("now")
                            }
                            // The normalised form's RFC 3339 time of a message sent in this run.
                            ("timestamp", Value::String(s))
                                if time::OffsetDateTime::parse(
                                    s,
                                    &time::format_description::well_known::Rfc3339,
                                )
                                .is_ok_and(|t| {
                                    t.unix_timestamp_nanos() / 1_000_000
                                        >= i128::from(self.start_ms)
                                }) =>
                            {
                                json!("now")
                            }
                            _ => self.value(v),
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| self.value(v)).collect()),
            other => other,
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

struct Member {
    identity: String,
    chat: ChatManager<Participant>,
    events: Events,
}

async fn run(server: Arc<ReplayServer>) -> Result<Vec<Value>, String> {
    let config = server.fixture().header.config.clone();
    let mut room_options = RoomOptions::default();
    if let Some(v) = config["room"]["server_version"].as_str() {
        room_options = room_options.server_version(v.into());
    }
    if let Some(n) = config["room"]["max_packet_size"].as_u64() {
        room_options = room_options.max_packet_size(usize::try_from(n).unwrap());
    }
    let room = InMemoryRoom::new(room_options);
    let mut members: Vec<Member> = Vec::new();
    for p in config["participants"]
        .as_array()
        .ok_or("config.participants is required")?
    {
        let identity = p["identity"]
            .as_str()
            .ok_or("a participant needs an identity")?
            .to_owned();
        let transport = if p["hidden"].as_bool().unwrap_or(false) {
            room.join_hidden(&identity)
        } else {
            room.join(&identity)
        };
        let mode = match p["mode"].as_str().unwrap_or("compatible") {
            "legacy_only" => SendMode::LegacyOnly,
            "streams_only" => SendMode::StreamsOnly,
            _ => SendMode::Compatible,
        };
        let options = ChatOptions::default()
            .mode(mode)
            .echo_local(p["echo"].as_bool().unwrap_or(false))
            .send_proto(p["send_proto"].as_bool().unwrap_or(false));
        let chat = ChatManager::new(transport, options);
        let events = chat.subscribe();
        members.push(Member {
            identity,
            chat,
            events,
        });
    }
    let mut norm = Normalizer {
        ids: HashMap::new(),
        start_ms: now_ms() - 60_000,
    };
    let mut labels: BTreeMap<String, ChatMessage> = BTreeMap::new();
    let mut out = Vec::new();
    let mut actions = server.take_actions().ok_or("actions taken")?;
    while let Some(action) = actions.next().await {
        let a = &action.args;
        let member = |who: &str| {
            members
                .iter()
                .find(|m| m.identity == who)
                .ok_or(format!("no participant {who}"))
        };
        let arg = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
        let from = a["from"].as_str();
        let result: Result<Value, String> = match action.name.as_str() {
            "send" => {
                let m = member(&arg("from"))?;
                let to: Vec<livekit_chat::Identity> = a["to"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(|x| x.as_str().map(Into::into))
                            .collect()
                    })
                    .unwrap_or_default();
                match m.chat.send_to(&arg("text"), to).await {
                    Ok(msg) => {
                        if let Some(l) = a["label"].as_str() {
                            labels.insert(l.to_owned(), msg.clone());
                        }
                        Ok(json!({"id": msg.id, "bytes": msg.text().len()}))
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            "edit" | "delete" => {
                let m = member(&arg("from"))?;
                let original = labels.get(&arg("label")).cloned().ok_or("unknown label")?;
                let r = if action.name == "edit" {
                    let mut edited = original.clone();
                    edited.message = Some(arg("text"));
                    m.chat.update_message(&edited).await
                } else {
                    m.chat.delete_message(&original).await
                };
                r.map(|msg| {
                    labels.insert(arg("label"), msg.clone());
                    json!({"id": msg.id})
                })
                .map_err(|e| e.to_string())
            }
            "inject_json" | "inject_text" => {
                let payload = if action.name == "inject_json" {
                    a["json"].to_string().into_bytes()
                } else {
                    arg("text").into_bytes()
                };
                room.inject(
                    from,
                    &proto::user_packet(payload, &arg("topic"), true, &[]),
                    None,
                );
                Ok(Value::Null)
            }
            "inject_stream" => {
                let mut info = TextStreamInfo::new(
                    arg("id"),
                    a["topic"].as_str().unwrap_or(proto::STREAM_TOPIC),
                    a["timestamp"].as_i64().unwrap_or(1_700_000_000_000),
                );
                info.operation = StreamOperation::from_i32(
                    i32::try_from(a["operation"].as_i64().unwrap_or(0)).unwrap_or(0),
                );
                info.version = i32::try_from(a["version"].as_i64().unwrap_or(0)).unwrap_or(0);
                for p in proto::text_stream_packets(&arg("text"), &info) {
                    room.inject(from, &p, None);
                }
                Ok(Value::Null)
            }
            "inject_proto" => {
                let mut m = ProtoChatMessage::new(
                    arg("id"),
                    arg("text"),
                    a["timestamp"].as_i64().unwrap_or(1_700_000_000_000),
                );
                m.edit_timestamp = a["edit_timestamp"].as_i64();
                m.deleted = a["deleted"].as_bool().unwrap_or(false);
                room.inject(from, &proto::chat_packet(&m, &[]), None);
                Ok(Value::Null)
            }
            "inject_bytes" => {
                room.inject_bytes(arg("text").as_bytes(), None);
                let empty = lk::DataPacket::default();
                room.inject(from, &empty, None);
                Ok(Value::Null)
            }
            "fault" => {
                room.drop_next(u32::try_from(a["drop"].as_u64().unwrap_or(0)).unwrap_or(0));
                room.duplicate_next(
                    u32::try_from(a["duplicate"].as_u64().unwrap_or(0)).unwrap_or(0),
                );
                room.reorder_next(u32::try_from(a["reorder"].as_u64().unwrap_or(0)).unwrap_or(0));
                Ok(Value::Null)
            }
            "leave" => {
                room.leave(&arg("identity"));
                Ok(Value::Null)
            }
            "history" => {
                let m = member(&arg("of"))?;
                Ok(serde_json::to_value(m.chat.history()).unwrap())
            }
            other => Err(format!("the livekit runner has no action {other:?}")),
        };
        out.push(norm.value(match result {
            Ok(v) => json!({"type": "action", "action": action.name, "ok": v}),
            Err(e) => json!({"type": "action", "action": action.name, "error": e}),
        }));
        room.settled().await;
        for m in &mut members {
            while let Some(item) = m.events.try_next() {
                let v = match item {
                    Ok(e) => {
                        let mut v = serde_json::to_value(&e).unwrap();
                        v["at"] = json!(m.identity);
                        // The normalised form beside it (the runner's rooms keep the default
                        // room name), so every fixture tests the mapping too.
                        v["core"] = serde_json::to_value(e.to_core("room")).unwrap();
                        v
                    }
                    Err(e) => {
                        json!({"type": "error", "at": m.identity, "kind": e.kind().as_str(), "message": e.to_string()})
                    }
                };
                out.push(norm.value(v));
            }
        }
    }
    Ok(out)
}
