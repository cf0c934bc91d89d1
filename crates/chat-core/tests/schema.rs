//! `docs/events.schema.json` is generated from the types, never written by hand: this test
//! fails when the committed file differs from what the types say. `BLESS_SCHEMA=1 cargo test
//! -p chatwire-core --features schema --test schema` rewrites it (then read the diff).

use chatwire_core::ChatEvent;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.schema.json");

fn generated() -> String {
    let schema = schemars::schema_for!(ChatEvent);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let now = generated();
    if std::env::var_os("BLESS_SCHEMA").is_some() {
        std::fs::write(PATH, &now).expect("docs/ is writable");
    }
    let committed = std::fs::read_to_string(PATH).unwrap_or_default();
    assert!(
        committed == now,
        "docs/events.schema.json is out of date: run `BLESS_SCHEMA=1 cargo test -p chatwire-core --features schema --test schema` and commit it"
    );
}

#[test]
fn the_schema_names_every_event_type() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let text = schema.to_string();
    for t in [
        "message",
        "message_edited",
        "message_deleted",
        "donation",
        "subscription",
        "gift",
        "message_hidden",
        "message_restored",
        "user_restricted",
        "user_unrestricted",
        "pinned",
        "unpinned",
        "room_changed",
        "member_joined",
        "member_left",
        "platform",
        "connected",
        "reconnecting",
        "disconnected",
    ] {
        assert!(
            text.contains(&format!("\"const\":\"{t}\"")),
            "{t} is in the schema"
        );
    }
}
