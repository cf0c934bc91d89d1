//! The LiveKit oracles: the Python SDK's `ChatManager` (livekit 0.21.3, the last release with
//! it) and components-js's `setupChat` on a real livekit-client `Room`, with
//! `@livekit/protocol` for the packet bytes. Both directions:
//!
//! - what livekit-chat sends (captured by a recording [`Transport`] around an in-memory room
//!   participant, stamped with the sender as the server does) is fed to the reference
//!   receivers, and what they surface is compared with what our own receiving `ChatManager`
//!   surfaces from the same packets;
//! - what the references send (captured where they hand packets to the SDK core or the data
//!   channel) is fed to our receiving `ChatManager` and compared with what the reference says
//!   it sent, or with what the reference's own receiver surfaces.
//!
//! Every packet's bytes are also compared field by field: `@livekit/protocol`'s
//! `DataPacket.fromBinary(...).toJson()` against our `proto::decode` in the protobuf JSON
//! mapping (the `livekit-protocol` crate's pbjson serialisation).

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::Stream;
use livekit_chat::livekit_protocol as lk;
use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, Event, InMemoryRoom, OutgoingData, Participant,
    ProtoChatMessage, RoomOptions, SendMode, TextStreamInfo, Transport, TransportEvent,
    TransportFuture, proto,
};
use serde_json::{Value, json};

use super::{Case, Env};

const PYTHON_SCRIPT: &str = "livekit_python.py";
const JS_SCRIPT: &str = "livekit_js.mjs";

/// Our sender's identity.
const RUST: &str = "rust";

// ---------------------------------------------------------------------------------------------
// What we send.

/// One step of a scenario, done by whichever client sends.
#[derive(Debug, Clone)]
enum Action {
    Send(String),
    /// Edits the message of the last step.
    Edit(String),
    /// Deletes the message of the last step.
    Delete,
}

/// A session of our `ChatManager` as `rust`.
struct OurScenario {
    name: &'static str,
    mode: SendMode,
    /// The server's version: data streams are forwarded only by servers newer than 1.8.2.
    server: &'static str,
    send_proto: bool,
    /// Recipients (empty: everyone).
    to: &'static [&'static str],
    actions: Vec<Action>,
    /// Whether the Python `ChatManager` (legacy JSON only) is a meaningful receiver.
    python: bool,
}

fn text(s: &str) -> Action {
    Action::Send(s.to_owned())
}

fn edit(s: &str) -> Action {
    Action::Edit(s.to_owned())
}

/// Quotes, escapes, control characters, astral and right-to-left characters.
const UNICODE: &str = "héllo wörld — 你好, 안녕 👋🏽 \"quoted\" \\ back\\slash\nnew line\ttab \u{202e}rtl\u{202c} \u{1}\u{0}end";

/// `bytes` bytes of mixed ASCII, Hangul and emoji (cut on a character boundary).
fn long_text(bytes: usize) -> String {
    let mut s = String::new();
    while s.len() < bytes {
        s.push_str("Lorem ipsum dolor sit amet, 가나다라 👋 ");
    }
    let mut end = bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

fn our_scenarios() -> Vec<OurScenario> {
    use SendMode::{Compatible, LegacyOnly, StreamsOnly};

    let s = |name, mode, server, actions, python| OurScenario {
        name,
        mode,
        server,
        send_proto: false,
        to: &[],
        actions,
        python,
    };
    vec![
        s(
            "legacy-only/send",
            LegacyOnly,
            "1.9.0",
            vec![text("hello from rust")],
            true,
        ),
        s(
            "legacy-only/edit",
            LegacyOnly,
            "1.9.0",
            vec![text("helo"), edit("hello")],
            true,
        ),
        s(
            "legacy-only/delete",
            LegacyOnly,
            "1.9.0",
            vec![text("oops"), Action::Delete],
            true,
        ),
        s(
            "legacy-only/unicode",
            LegacyOnly,
            "1.9.0",
            vec![text(UNICODE)],
            true,
        ),
        s(
            "legacy-only/long",
            LegacyOnly,
            "1.9.0",
            vec![Action::Send(long_text(14_000))],
            true,
        ),
        s(
            "compatible/send",
            Compatible,
            "1.9.0",
            vec![text("hello from rust")],
            true,
        ),
        s(
            "compatible/old-server-send",
            Compatible,
            "1.8.0",
            vec![text("hello from rust")],
            true,
        ),
        s(
            "compatible/edit",
            Compatible,
            "1.9.0",
            vec![text("helo"), edit("hello")],
            true,
        ),
        s(
            "compatible/old-server-edit",
            Compatible,
            "1.8.0",
            vec![text("helo"), edit("hello")],
            true,
        ),
        s(
            "compatible/delete",
            Compatible,
            "1.9.0",
            vec![text("oops"), Action::Delete],
            true,
        ),
        s(
            "compatible/old-server-delete",
            Compatible,
            "1.8.0",
            vec![text("oops"), Action::Delete],
            true,
        ),
        s(
            "compatible/unicode",
            Compatible,
            "1.9.0",
            vec![text(UNICODE)],
            true,
        ),
        s(
            "compatible/two-messages",
            Compatible,
            "1.9.0",
            vec![text("one"), text("two")],
            true,
        ),
        s(
            "compatible/long",
            Compatible,
            "1.9.0",
            vec![Action::Send(long_text(40_000))],
            true,
        ),
        s(
            "streams-only/send",
            StreamsOnly,
            "1.9.0",
            vec![text("streams only")],
            false,
        ),
        OurScenario {
            to: &["js", "py"],
            ..s(
                "compatible/direct",
                Compatible,
                "1.9.0",
                vec![text("just for you two")],
                true,
            )
        },
        OurScenario {
            send_proto: true,
            ..s(
                "protobuf/edit",
                Compatible,
                "1.9.0",
                vec![text("helo"), edit("hello")],
                false,
            )
        },
        OurScenario {
            send_proto: true,
            ..s(
                "protobuf/delete",
                Compatible,
                "1.9.0",
                vec![text("oops"), Action::Delete],
                false,
            )
        },
    ]
}

/// A packet our manager sent, as the server forwards it (sender identity stamped).
struct Sent {
    packet: lk::DataPacket,
    bytes: Vec<u8>,
    reliable: bool,
}

impl Sent {
    fn is_stream(&self) -> bool {
        use lk::data_packet::Value as V;
        matches!(
            self.packet.value,
            Some(V::StreamHeader(_) | V::StreamChunk(_) | V::StreamTrailer(_))
        )
    }

    fn user(&self) -> Option<&lk::UserPacket> {
        match &self.packet.value {
            Some(lk::data_packet::Value::User(u)) => Some(u),
            _ => None,
        }
    }

    fn is_proto_chat(&self) -> bool {
        matches!(
            self.packet.value,
            Some(lk::data_packet::Value::ChatMessage(_))
        )
    }

    /// Whether a server of `version` forwards it to `to`.
    fn delivered(&self, version: &str, to: &str) -> bool {
        (!self.is_stream() || streams_forwarded(version))
            && (self.packet.destination_identities.is_empty()
                || self.packet.destination_identities.iter().any(|d| d == to))
    }
}

/// components-js's gate: LiveKit servers newer than 1.8.2 forward data streams.
fn streams_forwarded(version: &str) -> bool {
    let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let at = |i: usize| parts.get(i).copied().unwrap_or(0);
    [at(0), at(1), at(2)] > [1, 8, 2]
}

/// A session: the packets, and for each action the message our manager returned and the
/// packets it sent for it.
struct OurSession {
    scenario: OurScenario,
    sent: Vec<Sent>,
    actions: Vec<(ChatMessage, Range<usize>)>,
}

/// Records every packet an in-memory participant sends, encoded as the room encodes it.
struct Recorder {
    inner: Participant,
    sent: Arc<Mutex<Vec<(lk::DataPacket, bool)>>>,
}

impl Recorder {
    fn record(&self, packet: lk::DataPacket, reliable: bool) {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((packet, reliable));
    }
}

impl Transport for Recorder {
    fn local_identity(&self) -> String {
        self.inner.local_identity()
    }

    fn server_supports_data_streams(&self) -> bool {
        self.inner.server_supports_data_streams()
    }

    fn publish_data(&self, data: OutgoingData) -> TransportFuture<'_, ()> {
        self.record(
            proto::user_packet(
                data.payload.clone(),
                &data.topic,
                data.reliable,
                &data.destinations,
            ),
            data.reliable,
        );
        self.inner.publish_data(data)
    }

    fn send_text(&self, text: String, info: TextStreamInfo) -> TransportFuture<'_, ()> {
        for p in proto::text_stream_packets(&text, &info) {
            self.record(p, true);
        }
        self.inner.send_text(text, info)
    }

    fn send_chat_message(
        &self,
        message: ProtoChatMessage,
        destinations: Vec<String>,
    ) -> TransportFuture<'_, ()> {
        self.record(proto::chat_packet(&message, &destinations), true);
        self.inner.send_chat_message(message, destinations)
    }

    fn events(&self) -> std::pin::Pin<Box<dyn Stream<Item = TransportEvent> + Send>> {
        self.inner.events()
    }
}

async fn our_session(scenario: OurScenario) -> Result<OurSession, String> {
    let room = InMemoryRoom::new(RoomOptions::default().with_server_version(scenario.server));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        inner: room.join(RUST),
        sent: Arc::clone(&sent),
    };
    let options = ChatOptions::default()
        .mode(scenario.mode)
        .send_proto(scenario.send_proto);
    let chat = ChatManager::new(recorder, options);
    let count = || sent.lock().unwrap_or_else(PoisonError::into_inner).len();
    let mut actions: Vec<(ChatMessage, Range<usize>)> = Vec::new();
    for action in &scenario.actions {
        // Distinct milliseconds: an edit's time must differ from the original's.
        tokio::time::sleep(Duration::from_millis(3)).await;
        let before = count();
        let last = actions.last().map(|(m, _)| m.clone());
        let result = match (action, last) {
            (Action::Send(t), _) if scenario.to.is_empty() => chat.send_message(t).await,
            (Action::Send(t), _) => {
                let to = scenario.to.iter().map(|s| (*s).to_owned()).collect();
                chat.send_to(t, to).await
            }
            (Action::Edit(t), Some(mut m)) => {
                m.message = Some(t.clone());
                chat.update_message(&m).await
            }
            (Action::Delete, Some(m)) => chat.delete_message(&m).await,
            (_, None) => return Err(format!("{}: nothing to edit", scenario.name)),
        };
        let message = result.map_err(|e| format!("{}: our manager failed: {e}", scenario.name))?;
        actions.push((message, before..count()));
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap_or_else(PoisonError::into_inner))
        .into_iter()
        .map(|(mut packet, reliable)| {
            RUST.clone_into(&mut packet.participant_identity);
            Sent {
                bytes: proto::encode(&packet),
                packet,
                reliable,
            }
        })
        .collect();
    Ok(OurSession {
        scenario,
        sent,
        actions,
    })
}

// ---------------------------------------------------------------------------------------------
// What we receive.

/// Our receiving manager (default options) as `identity`, after `packets` (wire bytes carrying
/// their sender) arrived: its history and its events.
async fn our_receiver<'a>(
    identity: &str,
    packets: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<ChatMessage>, Vec<Value>) {
    let room = InMemoryRoom::default();
    let chat = ChatManager::new(room.join(identity), ChatOptions::default());
    let mut events = chat.subscribe();
    for bytes in packets {
        room.inject_bytes(bytes, None);
    }
    room.settled().await;
    let mut out = Vec::new();
    while let Some(item) = events.try_next() {
        out.push(match item {
            Ok(e) => event_view(&e),
            Err(e) => json!({"rejected": e.to_string()}),
        });
    }
    chat.close();
    (chat.history(), out)
}

/// A message as the Python SDK's `ChatMessage` holds it (the script's `view`).
fn py_view(m: &ChatMessage) -> Value {
    json!({
        "id": m.id,
        "message": m.message,
        "timestamp": m.timestamp,
        "deleted": m.deleted,
        "participant": m.participant,
    })
}

/// An entry of components-js's message list (the script's `entry`).
fn js_entry(m: &ChatMessage) -> Value {
    json!({
        "id": m.id,
        "message": m.message,
        "timestamp": m.timestamp,
        "editTimestamp": m.edit_timestamp,
        "from": m.participant,
        "deleted": m.deleted,
        "attributes": m.attributes,
    })
}

/// An event: its kind and the message in every field any projection uses.
fn event_view(e: &Event) -> Value {
    let mut v = js_entry(e.message());
    v["kind"] = json!(e.kind());
    v
}

/// A case whose long strings (texts, chunk contents) are shown as their length, a digest and
/// their start, so a failure stays readable; equal strings stay equal.
fn case(id: String, ours: Value, theirs: Result<Value, String>) -> Case {
    Case::new(id, shorten(ours), theirs.map(shorten))
}

fn shorten(v: Value) -> Value {
    match v {
        Value::String(s) if s.len() > 200 => {
            // FNV-1a, 64 bits.
            let digest = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
            let start: String = s.chars().take(40).collect();
            Value::String(format!(
                "<{} bytes, fnv1a {digest:016x}: {start}…>",
                s.len()
            ))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(shorten).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, shorten(v))).collect()),
        other => other,
    }
}

fn pick(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| ((*k).to_owned(), v.get(*k).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

/// The protobuf JSON mapping of our decoding of `bytes` (what `toJson()` prints).
fn packet_json(bytes: &[u8]) -> Value {
    match proto::decode(bytes) {
        Ok(p) => serde_json::to_value(&p).unwrap_or_else(|e| json!({"rejected": e.to_string()})),
        Err(e) => json!({"rejected": e}),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex: {e}")))
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("the script's output lacks {key:?}: {v}"))
}

fn arr<'a>(v: &'a Value, key: &str) -> Result<&'a [Value], String> {
    v[key]
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("the script's output lacks {key:?}"))
}

/// The entry of `list` (the script's output for one scenario) named `name`.
fn by_scenario<'a>(list: &'a [Value], name: &str) -> Result<&'a Value, String> {
    list.iter()
        .find(|s| s["scenario"] == name)
        .ok_or_else(|| format!("the script's output lacks scenario {name}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))
}

fn write_input(env: &Env, name: &str, input: &Value) -> Result<String, String> {
    let dir = env.dir.join("livekit");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, input.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

// ---------------------------------------------------------------------------------------------
// Python.

/// Legacy payloads other clients send (or sent), through both `from_jsondict`s.
fn foreign_payloads() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "components-js-copy",
            r#"{"id":"f47ac10b-58cc-4372-a567-0e02b2c3d479","timestamp":1700000000123,"message":"hi","ignoreLegacy":true}"#,
        ),
        (
            "components-android-copy",
            r#"{"id":"0b5e4a3c-9a8f-4c1e-8d2b-3f6a7c9e1d20","timestamp":1700000000123,"message":"from android","ignoreLegacy":false,"extra":{"x":1}}"#,
        ),
        (
            "components-core-0.11-edit",
            r#"{"id":"f47ac10b-58cc-4372-a567-0e02b2c3d479","timestamp":1700000000123,"message":"edited","editTimestamp":1700000000999,"ignore":true}"#,
        ),
        (
            "components-js-0.8-without-id",
            r#"{"message":"old client","timestamp":1700000000123}"#,
        ),
        (
            "empty-id",
            r#"{"id":"","message":"x","timestamp":1700000000123}"#,
        ),
        (
            "float-timestamp",
            r#"{"id":"abc","message":"x","timestamp":1700000000123.7}"#,
        ),
        ("without-timestamp", r#"{"id":"abc","message":"x"}"#),
        (
            "zero-timestamp",
            r#"{"id":"abc","message":"x","timestamp":0}"#,
        ),
        (
            "string-timestamp",
            r#"{"id":"abc","message":"x","timestamp":"1700000000123"}"#,
        ),
        (
            "null-message",
            r#"{"id":"abc","message":null,"timestamp":1}"#,
        ),
        ("without-message", r#"{"id":"abc","timestamp":1}"#),
        (
            "deleted",
            r#"{"id":"abc","message":"x","timestamp":1700000000123,"deleted":true}"#,
        ),
        (
            "python-ascii-escapes",
            r#"{"id": "u03ZcqXl5Jj8", "message": "h\u00e9llo \ud83d\udc4b", "timestamp": 1700000000123}"#,
        ),
        ("not-an-object", "[1]"),
        ("not-json", "not json"),
    ]
}

/// Generated ids and "now" differ between runs and clients: both views show them as such.
fn normalise_generated(mut v: Value, input: &Value, now_ms: i64) -> Value {
    let has_id = input
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has_id
        && v["id"]
            .as_str()
            .is_some_and(|s| s.len() == 12 && s.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        v["id"] = json!("<generated base62 x12>");
    }
    if v["timestamp"]
        .as_i64()
        .is_some_and(|t| (t - now_ms).abs() < 600_000)
    {
        v["timestamp"] = json!("<now>");
    }
    v
}

/// The scenarios the Python `ChatManager` acts out (and our legacy-only manager too).
fn python_scenarios() -> Vec<(&'static str, Vec<Action>)> {
    vec![
        ("send", vec![text("hello from python")]),
        ("edit", vec![text("helo"), edit("hello")]),
        ("delete", vec![text("oops"), Action::Delete]),
        ("unicode", vec![text(UNICODE)]),
        ("long", vec![Action::Send(long_text(14_000))]),
        ("two-messages", vec![text("one"), text("two")]),
    ]
}

fn action_json(a: &Action) -> Value {
    match a {
        Action::Send(t) => json!({"send": t}),
        Action::Edit(t) => json!({"edit": t}),
        Action::Delete => json!({"delete": true}),
    }
}

/// Topic, reliability, destinations and JSON keys of a legacy packet.
fn wire_view(topic: &str, reliable: bool, destinations: &[String], payload: &[u8]) -> Value {
    let keys: Vec<String> = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(o)) => o.keys().cloned().collect(),
        _ => vec!["<not a JSON object>".into()],
    };
    json!({"topic": topic, "reliable": reliable, "destinations": destinations, "keys": keys})
}

pub(crate) fn run_python(env: &Env) -> Result<Vec<Case>, String> {
    let rt = runtime()?;
    let sessions = rt.block_on(async {
        let mut out = Vec::new();
        for s in our_scenarios().into_iter().filter(|s| s.python) {
            out.push(our_session(s).await?);
        }
        Ok::<_, String>(out)
    })?;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);

    let ours_input: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let packets: Vec<Value> = s
                .sent
                .iter()
                .filter(|p| p.delivered(s.scenario.server, "py"))
                .filter_map(|p| {
                    p.user().map(|u| {
                        json!({
                            "topic": u.topic.clone().unwrap_or_default(),
                            "payload_hex": hex(&u.payload),
                            "from": RUST,
                        })
                    })
                })
                .collect();
            json!({"scenario": s.scenario.name, "packets": packets})
        })
        .collect();
    let foreign = foreign_payloads();
    let theirs_scenarios = python_scenarios();
    let input = json!({
        "ours": ours_input,
        "foreign": foreign.iter().map(|(n, j)| json!({"name": n, "json": j})).collect::<Vec<_>>(),
        "theirs": theirs_scenarios
            .iter()
            .map(|(n, a)| json!({"scenario": n, "actions": a.iter().map(action_json).collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
        "now_ms": now_ms,
    });
    let path = write_input(env, "python-input.json", &input)?;
    let out = env.python_json(PYTHON_SCRIPT, &[&path])?;
    let mut cases = Vec::new();

    // 1. What we send, through Python.
    for s in &sessions {
        let name = s.scenario.name;
        let theirs = by_scenario(arr(&out, "ours")?, name)?;
        let delivered: Vec<&Sent> = s
            .sent
            .iter()
            .filter(|p| p.delivered(s.scenario.server, "py"))
            .collect();
        // Each legacy packet, decoded by `ChatMessage.from_jsondict`, is the message we meant.
        let decoded = arr(theirs, "decoded")?;
        let mut i = 0;
        for (index, p) in s.sent.iter().enumerate() {
            if p.user().is_none() || !p.delivered(s.scenario.server, "py") {
                continue;
            }
            let meant =
                s.actions
                    .iter()
                    .find(|(_, r)| r.contains(&index))
                    .map_or(Value::Null, |(m, _)| {
                        let mut v = py_view(m);
                        v["participant"] = Value::Null;
                        v
                    });
            cases.push(case(
                format!("ours/{name}/from_jsondict/{i}"),
                meant,
                decoded.get(i).cloned().ok_or("missing decode".to_owned()),
            ));
            i += 1;
        }
        // The whole session through a ChatManager (the latest message per id, as an app keeps
        // them), against our receiving manager fed the same packets.
        let (history, _) = rt.block_on(our_receiver(
            "py",
            delivered.iter().map(|p| p.bytes.as_slice()),
        ));
        cases.push(case(
            format!("ours/{name}/chat-manager"),
            Value::Array(history.iter().map(py_view).collect()),
            Ok(theirs["manager"].clone()),
        ));
    }

    // 2. Other clients' payloads through both decoders.
    for (name, text) in &foreign {
        let theirs = arr(&out, "foreign")?
            .iter()
            .find(|c| c["name"] == *name)
            .ok_or_else(|| format!("the script's output lacks foreign {name}"))?;
        let input: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let ours = match serde_json::from_str::<Value>(text)
            .map_err(|e| e.to_string())
            .and_then(|v| ChatMessage::from_jsondict(&v).map_err(|e| e.to_string()))
        {
            Ok(m) => normalise_generated(py_view(&m), &input, now_ms),
            Err(_) => json!({"rejected": true}),
        };
        let mut decoded = theirs["decoded"].clone();
        decoded = if decoded.get("rejected").is_some() {
            json!({"rejected": true})
        } else {
            normalise_generated(decoded, &input, now_ms)
        };
        cases.push(case(format!("foreign/{name}"), ours, Ok(decoded)));
    }

    // 3. What Python sends, through us.
    for (name, actions) in &theirs_scenarios {
        let theirs = by_scenario(arr(&out, "theirs")?, name)?;
        let their_actions = arr(theirs, "actions")?;
        let mut packets = Vec::new();
        let mut meant_events = Vec::new();
        let mut their_wire = Vec::new();
        let mut i = 0;
        for a in their_actions {
            let kind = match str_of(a, "action")? {
                "send" => "received",
                "edit" => "edited",
                _ => "deleted",
            };
            let mut meant = a["message"].clone();
            meant["kind"] = json!(kind);
            meant_events.push(meant);
            for r in arr(a, "requests")? {
                let payload = unhex(str_of(r, "payload_hex")?)?;
                let topic = str_of(r, "topic")?;
                let reliable = r["reliable"].as_bool().unwrap_or(false);
                let destinations: Vec<String> =
                    serde_json::from_value(r["destinations"].clone()).map_err(|e| e.to_string())?;
                their_wire.push(wire_view(topic, reliable, &destinations, &payload));
                // Each payload through our decoder, against the message Python says it sent.
                let mut said = a["message"].clone();
                said["participant"] = Value::Null;
                let ours = serde_json::from_slice::<Value>(&payload)
                    .map_err(|e| e.to_string())
                    .and_then(|v| ChatMessage::from_jsondict(&v).map_err(|e| e.to_string()))
                    .map_or_else(|e| json!({"rejected": e}), |m| py_view(&m));
                cases.push(case(
                    format!("theirs/{name}/from_jsondict/{i}"),
                    ours,
                    Ok(said),
                ));
                i += 1;
                let mut packet = proto::user_packet(payload, topic, reliable, &destinations);
                "py".clone_into(&mut packet.participant_identity);
                packets.push(proto::encode(&packet));
            }
        }
        // The events our receiving manager emits, against what Python meant by each call.
        let (_, events) = rt.block_on(our_receiver(RUST, packets.iter().map(Vec::as_slice)));
        let keys = [
            "kind",
            "id",
            "message",
            "timestamp",
            "deleted",
            "participant",
        ];
        let ours_events: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut v = e.clone();
                v["participant"] = v["from"].clone();
                pick(&v, &keys)
            })
            .collect();
        cases.push(case(
            format!("theirs/{name}/events"),
            Value::Array(ours_events),
            Ok(Value::Array(
                meant_events.iter().map(|v| pick(v, &keys)).collect(),
            )),
        ));
        // Our legacy-only mode sends what the Python ChatManager sends.
        let mine = rt.block_on(our_session(OurScenario {
            name,
            mode: SendMode::LegacyOnly,
            server: "1.9.0",
            send_proto: false,
            to: &[],
            actions: actions.clone(),
            python: true,
        }))?;
        let our_wire: Vec<Value> = mine
            .sent
            .iter()
            .filter_map(|p| {
                p.user().map(|u| {
                    wire_view(
                        u.topic.as_deref().unwrap_or_default(),
                        p.reliable,
                        &p.packet.destination_identities,
                        &u.payload,
                    )
                })
            })
            .collect();
        cases.push(case(
            format!("theirs/{name}/wire"),
            Value::Array(our_wire),
            Ok(Value::Array(their_wire)),
        ));
    }
    Ok(cases)
}

// ---------------------------------------------------------------------------------------------
// components-js.

/// The scenarios components-js acts out as `js`, to `rust`.
fn js_scenarios() -> Vec<Value> {
    let s = |name: &str, server: &str, protocol: u32, actions: Value| json!({"scenario": name, "server_version": server, "remote_protocol": protocol, "actions": actions});
    vec![
        s("send", "1.9.0", 0, json!([{"send": "hello from js"}])),
        s(
            "send-inline",
            "1.9.0",
            2,
            json!([{"send": "hello, inline"}]),
        ),
        s(
            "old-server-send",
            "1.8.0",
            0,
            json!([{"send": "hello, old server"}]),
        ),
        s("unicode", "1.9.0", 0, json!([{"send": UNICODE}])),
        s(
            "two-messages",
            "1.9.0",
            0,
            json!([{"send": "one"}, {"send": "two"}]),
        ),
        s("long", "1.9.0", 0, json!([{"send": long_text(40_000)}])),
        s(
            "inline-14k",
            "1.9.0",
            2,
            json!([{"send": long_text(14_000)}]),
        ),
        s(
            "attributes",
            "1.9.0",
            0,
            json!([{"send": "with attributes", "options": {"attributes": {"k": "v", "lk.reply_to": "x"}}}]),
        ),
        s(
            "direct",
            "1.9.0",
            0,
            json!([{"send": "just for rust", "options": {"destinationIdentities": ["rust"]}}]),
        ),
        s(
            "protobuf",
            "1.9.0",
            0,
            json!([{"proto_send": "helo"}, {"proto_edit": "hello"}]),
        ),
    ]
}

/// What `RoomEvent.ChatMessage` carries (the script's `chatEvent`).
const CHAT_EVENT_KEYS: [&str; 6] = [
    "id",
    "message",
    "timestamp",
    "editTimestamp",
    "from",
    "deleted",
];

pub(crate) fn run_js(env: &Env) -> Result<Vec<Case>, String> {
    let rt = runtime()?;
    let sessions = rt.block_on(async {
        let mut out = Vec::new();
        for s in our_scenarios() {
            out.push(our_session(s).await?);
        }
        Ok::<_, String>(out)
    })?;
    let theirs_scenarios = js_scenarios();
    let input = json!({
        "ours": sessions.iter().map(|s| json!({
            "scenario": s.scenario.name,
            "server_version": s.scenario.server,
            "packets": s.sent.iter().map(|p| json!({
                "hex": hex(&p.bytes),
                "delivered": p.delivered(s.scenario.server, "js"),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "theirs": theirs_scenarios,
    });
    let path = write_input(env, "js-input.json", &input)?;
    let out = env.node_json(JS_SCRIPT, &[&path])?;
    let mut cases = Vec::new();

    // 1. What we send, through livekit-client and components-js.
    for s in &sessions {
        let name = s.scenario.name;
        let theirs = by_scenario(arr(&out, "ours")?, name)?;
        let packets = arr(theirs, "packets")?;
        for (i, p) in s.sent.iter().enumerate() {
            cases.push(case(
                format!("ours/{name}/packet/{i}"),
                packet_json(&p.bytes),
                packets.get(i).cloned().ok_or("missing packet".to_owned()),
            ));
        }
        let delivered = || {
            s.sent
                .iter()
                .filter(|p| p.delivered(s.scenario.server, "js"))
        };
        let (history, _) = rt.block_on(our_receiver("js", delivered().map(|p| p.bytes.as_slice())));
        cases.push(case(
            format!("ours/{name}/setup-chat"),
            Value::Array(history.iter().map(js_entry).collect()),
            Ok(theirs["messages"].clone()),
        ));
        if s.sent.iter().any(Sent::is_proto_chat) {
            let (_, events) = rt.block_on(our_receiver(
                "js",
                delivered()
                    .filter(|p| p.is_proto_chat())
                    .map(|p| p.bytes.as_slice()),
            ));
            cases.push(case(
                format!("ours/{name}/chat-message-event"),
                Value::Array(events.iter().map(|e| pick(e, &CHAT_EVENT_KEYS)).collect()),
                Ok(theirs["chat_events"].clone()),
            ));
        }
    }

    // 2. What components-js sends, through us.
    for scenario in &theirs_scenarios {
        let name = str_of(scenario, "scenario")?;
        let theirs = by_scenario(arr(&out, "theirs")?, name)?;
        let sent = arr(theirs, "sent")?;
        let mut delivered = Vec::new();
        for (i, p) in sent.iter().enumerate() {
            let bytes = unhex(str_of(p, "hex")?)?;
            cases.push(case(
                format!("theirs/{name}/packet/{i}"),
                packet_json(&bytes),
                Ok(p["json"].clone()),
            ));
            if let Some(legacy) = p.get("legacy") {
                let ours = ChatMessage::from_jsondict(legacy).map_or_else(
                    |e| json!({"rejected": e.to_string()}),
                    |m| json!({"id": m.id, "message": m.message, "timestamp": m.timestamp}),
                );
                cases.push(case(
                    format!("theirs/{name}/legacy-json/{i}"),
                    ours,
                    Ok(pick(legacy, &["id", "message", "timestamp"])),
                ));
            }
            if p["delivered"].as_bool() == Some(true) {
                delivered.push(bytes);
            }
        }
        let (history, events) =
            rt.block_on(our_receiver(RUST, delivered.iter().map(Vec::as_slice)));
        // The messages a components-js receiver lists, against ours.
        cases.push(case(
            format!("theirs/{name}/setup-chat"),
            Value::Array(history.iter().map(js_entry).collect()),
            Ok(theirs["messages"].clone()),
        ));
        // What the sender says it sent (id, text, sender, edit time), against our events.
        let keys = ["id", "message", "from", "editTimestamp"];
        cases.push(case(
            format!("theirs/{name}/sent"),
            Value::Array(events.iter().map(|e| pick(e, &keys)).collect()),
            Ok(Value::Array(
                arr(theirs, "returned")?
                    .iter()
                    .map(|r| pick(r, &keys))
                    .collect(),
            )),
        ));
        if !arr(theirs, "chat_events")?.is_empty() {
            cases.push(case(
                format!("theirs/{name}/chat-message-event"),
                Value::Array(events.iter().map(|e| pick(e, &CHAT_EVENT_KEYS)).collect()),
                Ok(theirs["chat_events"].clone()),
            ));
        }
    }

    // 3. Packets built with @livekit/protocol, decoded by us.
    for e in arr(&out, "encoded")? {
        let name = str_of(e, "name")?;
        let bytes = unhex(str_of(e, "hex")?)?;
        cases.push(case(
            format!("encoded/{name}"),
            packet_json(&bytes),
            Ok(e["json"].clone()),
        ));
    }
    Ok(cases)
}
