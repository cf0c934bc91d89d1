//! Runs every `fixtures/**.jsonl` whose platform is `chzzk` against the real client on
//! loopback (`cargo xtask test-fixtures`, `cargo test -p chzzk-chat --test replay`).
//!
//! Header `config`: `channel_id` (required), `login` (bool: fake NID cookies), `ping_after_ms`,
//! `pong_timeout_ms`, `live_poll_ms`, `gap_fill`, `wait_for_live`, `max_attempts`.
//!
//! Output: every event as serialised, errors as `{"type":"error","kind","message"}`, a failed
//! first join as `{"type":"connect_error",...}`, then each action's result in script order.
//!
//! Actions: `send_chat {text}`, `request_recent_chat {count}`, `history {count}`,
//! `pin {key}` / `blind {key}` / `restrict_author {key}` / `approve_donation {key}` (on the
//! delivered line with that `user:time` key), `unpin`, `temporary_restrict {user}`, `profile_card {user}`,
//! `live_status`, `live_detail`, `user_status`, `login`, `manage {call, args}`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chat_replay::harness::{AfterClose, drive};
use chat_replay::{Action, ReplayServer};
use chzzk_chat::{
    ChatClient, ChatMessage, Credentials, DonationMessage, Endpoints, Event, ReconnectPolicy,
    RestrictDays, Role, Timing,
};
use serde_json::{Value, json};
use tokio::sync::watch;

fn main() -> ExitCode {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    chat_replay::harness::Harness::new("chzzk", dir).run(run)
}

fn ms(config: &Value, key: &str, default: u64) -> Duration {
    Duration::from_millis(config.get(key).and_then(Value::as_u64).unwrap_or(default))
}

fn error_json(e: &chzzk_chat::Error) -> Value {
    json!({"type": "error", "kind": e.kind().as_str(), "message": e.to_string()})
}

/// What the collector has seen, for actions that act on a delivered line.
#[derive(Default)]
struct Seen {
    chats: Vec<ChatMessage>,
    donations: Vec<DonationMessage>,
}

async fn run(server: Arc<ReplayServer>) -> Result<Vec<Value>, String> {
    let config = server.fixture().header.config.clone();
    let channel_id = config["channel_id"]
        .as_str()
        .ok_or("config.channel_id is required")?
        .to_owned();
    let timing = Timing::default()
        .ping_after(ms(&config, "ping_after_ms", 60_000))
        .pong_timeout(ms(&config, "pong_timeout_ms", 60_000))
        .live_poll(
            config
                .get("live_poll_ms")
                .and_then(Value::as_u64)
                .map(Duration::from_millis),
        )
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
        .history_timeout(Duration::from_secs(5))
        .close_timeout(Duration::from_secs(5));
    let reconnect = ReconnectPolicy::immediate().max_attempts(
        config
            .get("max_attempts")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
    );
    let mut builder = ChatClient::builder(channel_id)
        .endpoints(Endpoints::local(server.http_base(), server.ws_base()))
        .reconnect(reconnect)
        .timing(timing)
        .jitter_seed(7)
        .wait_for_live(config["wait_for_live"].as_bool().unwrap_or(false));
    if let Some(n) = config.get("gap_fill").and_then(Value::as_u64) {
        builder = builder.gap_fill(u32::try_from(n).unwrap_or(50));
    }
    if config["login"].as_bool().unwrap_or(false) {
        builder = builder.credentials(Credentials::new("fake-nid-aut", "fake-nid-ses"));
    }
    let client = builder.build();
    let actions = server.take_actions().ok_or("actions already taken")?;

    let events = match client.connect().await {
        Ok(events) => events,
        Err(e) => {
            let mut v = error_json(&e);
            v["type"] = json!("connect_error");
            return Ok(vec![v]);
        }
    };

    let (seen_tx, seen_rx) = watch::channel(Seen::default());
    let record = move |item: Result<Event, chzzk_chat::Error>| {
        let value = match &item {
            // Each event with its normalised form beside it, so every fixture tests the
            // mapping too.
            Ok(e) => serde_json::to_value(e).map_or_else(
                |err| json!({"type": "unserialisable", "error": err.to_string()}),
                |mut v| {
                    v["core"] = serde_json::to_value(e.to_core()).unwrap_or_default();
                    v
                },
            ),
            Err(e) => error_json(e),
        };
        match item {
            Ok(Event::Chat(m)) => seen_tx.send_modify(|s| s.chats.push(m)),
            Ok(Event::Donation(d)) => seen_tx.send_modify(|s| s.donations.push(d)),
            _ => {}
        }
        value
    };
    let performer = client.clone();
    let perform = move |a: Action| {
        let (client, seen) = (performer.clone(), seen_rx.clone());
        async move { perform(&client, &a.name, &a.args, seen).await }
    };
    let close = async {
        let _ = client.close().await;
        AfterClose::ReadToEnd
    };
    drive(&server, actions, events, record, perform, close).await
}

/// Waits (without sleeping) until the collector has delivered the chat line with `key`.
async fn delivered(mut seen: watch::Receiver<Seen>, key: &str) -> Result<ChatMessage, String> {
    let found = seen
        .wait_for(|s| s.chats.iter().any(|m| m.key() == key))
        .await
        .map_err(|_| format!("line {key} never arrived"))?;
    Ok(found
        .chats
        .iter()
        .find(|m| m.key() == key)
        .cloned()
        .expect("invariant: just found"))
}

/// Waits (without sleeping) until the collector has delivered the donation with `key`.
async fn donation(mut seen: watch::Receiver<Seen>, key: &str) -> Result<DonationMessage, String> {
    let found = seen
        .wait_for(|s| s.donations.iter().any(|m| m.key() == key))
        .await
        .map_err(|_| format!("donation {key} never arrived"))?;
    Ok(found
        .donations
        .iter()
        .find(|m| m.key() == key)
        .cloned()
        .expect("invariant: just found"))
}

async fn perform(
    client: &ChatClient,
    name: &str,
    args: &Value,
    seen: watch::Receiver<Seen>,
) -> Result<Value, String> {
    let s = |k: &str| args[k].as_str().unwrap_or_default().to_owned();
    let count = u32::try_from(args["count"].as_u64().unwrap_or(50)).unwrap_or(50);
    let to_value = |v: &dyn erased::Ser| v.value();
    let e = |e: chzzk_chat::Error| e.to_string();
    Ok(match name {
        "send_chat" => client
            .send_chat(s("text"))
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "request_recent_chat" => client
            .request_recent_chat(count)
            .map(|()| Value::Null)
            .map_err(e)?,
        "history" => {
            let r = client.history(count).await.map_err(e)?;
            json!({"messages": r.messages.len(), "user_count": r.user_count, "notice": r.notice.is_some()})
        }
        "pin" => delivered(seen, &s("key"))
            .await?
            .pin(client)
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "blind" => delivered(seen, &s("key"))
            .await?
            .blind(client)
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "restrict_author" => {
            let m = delivered(seen, &s("key")).await?;
            to_value(&m.temporary_restrict(client).await.map_err(e)?)
        }
        "approve_donation" => donation(seen, &s("key"))
            .await?
            .approve(client)
            .await
            .map_err(e)?,
        "unpin" => client
            .delete_notice_message()
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "temporary_restrict" => to_value(&client.temporary_restrict(&s("user")).await.map_err(e)?),
        "profile_card" => to_value(&client.profile_card(&s("user")).await.map_err(e)?),
        "live_status" => to_value(&client.live_status(None).await.map_err(e)?),
        "live_detail" => to_value(&client.live_detail(None).await.map_err(e)?),
        "user_status" => to_value(&client.user_status().await.map_err(e)?),
        "login" => {
            client.login(Credentials::new("fake-nid-aut-2", "fake-nid-ses-2"));
            Value::Null
        }
        "manage" => {
            let m = client.manage_self();
            let a = &args["args"];
            let user = a["user"].as_str().unwrap_or_default();
            match args["call"].as_str().unwrap_or_default() {
                "add_restrict" => m
                    .add_restrict(user, RestrictDays::SevenDays, "spam")
                    .await
                    .map_err(e)?,
                "add_restrict_bad_days" => m
                    .add_restrict(user, RestrictDays::try_from(2).map_err(e)?, "spam")
                    .await
                    .map_err(e)?,
                "remove_restrict" => m
                    .remove_restrict(user)
                    .await
                    .map(|()| Value::Null)
                    .map_err(e)?,
                "add_role" => to_value(&m.add_role(user, Role::ChatManager).await.map_err(e)?),
                "prohibit_words" => Value::Array(m.prohibit_words().await.map_err(e)?),
                "add_prohibit_word" => m
                    .add_prohibit_word(a["word"].as_str().unwrap_or_default())
                    .await
                    .map(|()| Value::Null)
                    .map_err(e)?,
                "chat_rule" => to_value(&m.chat_rule().await.map_err(e)?),
                "set_chat_rule" => m
                    .set_chat_rule(a["rule"].as_str().unwrap_or_default())
                    .await
                    .map(|()| Value::Null)
                    .map_err(e)?,
                "approve_mission" => m
                    .approve_mission(a["id"].as_str().unwrap_or_default())
                    .await
                    .map_err(e)?,
                "reject_mission" => m
                    .reject_mission(a["id"].as_str().unwrap_or_default())
                    .await
                    .map_err(e)?,
                "restricted_users" => to_value(&m.restricted_users(0, 50, None).await.map_err(e)?),
                other => return Err(format!("unknown manage call {other:?}")),
            }
        }
        other => return Err(format!("the chzzk runner has no action {other:?}")),
    })
}

mod erased {
    pub(crate) trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self)
                .unwrap_or_else(|e| serde_json::json!({"unserialisable": e.to_string()}))
        }
    }
}
