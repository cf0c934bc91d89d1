//! The Python oracle: the SDK's `ChatManager` (livekit 0.21.3) receives what we send, sends
//! its own scenarios to us, and decodes the legacy payloads other clients send.

use livekit_chat::{ChatMessage, SendMode, proto};
use serde_json::{Value, json};

use super::receive::{our_receiver, py_view};
use super::send::{
    Action, OurScenario, Sent, UNICODE, edit, long_text, our_scenarios, our_session, text,
};
use super::{RUST, arr, by_scenario, case, hex, pick, runtime, str_of, unhex, write_input};
use crate::interop::{Case, Env};

const PYTHON_SCRIPT: &str = "livekit_python.py";

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
