//! What we receive: our receiving `ChatManager` fed with wire bytes, and the views of its
//! messages and events that the oracles' outputs are compared with.

use livekit_chat::{ChatManager, ChatMessage, ChatOptions, Event, InMemoryRoom, proto};
use serde_json::{Value, json};

/// Our receiving manager (default options) as `identity`, after `packets` (wire bytes carrying
/// their sender) arrived: its history and its events.
pub(super) async fn our_receiver<'a>(
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
pub(super) fn py_view(m: &ChatMessage) -> Value {
    json!({
        "id": m.id,
        "message": m.message,
        "timestamp": m.timestamp,
        "deleted": m.deleted,
        "participant": m.participant,
    })
}

/// An entry of components-js's message list (the script's `entry`).
pub(super) fn js_entry(m: &ChatMessage) -> Value {
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
pub(super) fn event_view(e: &Event) -> Value {
    let mut v = js_entry(e.message());
    v["kind"] = json!(e.kind());
    v
}

/// The protobuf JSON mapping of our decoding of `bytes` (what `toJson()` prints).
pub(super) fn packet_json(bytes: &[u8]) -> Value {
    match proto::decode(bytes) {
        Ok(p) => serde_json::to_value(&p).unwrap_or_else(|e| json!({"rejected": e.to_string()})),
        Err(e) => json!({"rejected": e}),
    }
}
