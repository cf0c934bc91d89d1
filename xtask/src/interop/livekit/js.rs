//! The components-js oracle: `setupChat` on a real livekit-client `Room` receives what we
//! send, sends its own scenarios to us, and `@livekit/protocol` encodes packets we decode.

use livekit_chat::ChatMessage;
use serde_json::{Value, json};

use super::receive::{js_entry, our_receiver, packet_json};
use super::send::{Sent, UNICODE, long_text, our_scenarios, our_session};
use super::{RUST, arr, by_scenario, case, hex, pick, runtime, str_of, unhex, write_input};
use crate::interop::{Case, Env};

const JS_SCRIPT: &str = "livekit_js.mjs";

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
