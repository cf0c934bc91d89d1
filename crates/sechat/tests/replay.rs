//! Runs every fixture whose platform is `sechat` against the real client on loopback.
//!
//! Header `config`: `server` (`stackexchange` | `stackoverflow` | `meta`), `mode`:
//! - `login`: `Credentials::authenticate` with `email`/`password`;
//! - `saved`: a credentials file with `saved_cookies` and `saved_user_id` is written first, then
//!   `load_or_authenticate` (output says whether the saved ones were used, and the file mode);
//! - `anonymous`: an anonymous client's `Room::connect` (polling) (`ends`: the stream stops by itself).
//!
//! Then, with `room_id`, the room is joined and its events collected. Timing: `silence_ms`,
//! `poll_ms`, `poll_retries`, `rate_second_ms`, `max_retries`, `max_attempts`.
//!
//! Actions: `send {text, reply_to}`, `edit {id, text}`, `delete {id}`, `star {id}`, `pin {id}`,
//! `unpin {id}`, `clear_stars {id}`, `bookmark {first, last, title}`, `delete_bookmark {slug}`,
//! `move {ids, to}`, `upload_image {name, size}`, `edit_bio {text}`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chat_replay::harness::{AfterClose, drive};
use chat_replay::{Action, ReplayServer};
use sechat::{
    ChatClient, Credentials, MessageId, RateLimitPolicy, ReconnectPolicy, Room, RoomId, Server,
    Timing,
};
use serde_json::{Value, json};

fn main() -> ExitCode {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    chat_replay::harness::Harness::new("sechat", dir).run(run)
}

fn error_json(kind: &str, e: &sechat::Error) -> Value {
    json!({"type": kind, "kind": e.kind().as_str(), "message": e.to_string()})
}

fn ms(c: &Value, k: &str, d: u64) -> Duration {
    Duration::from_millis(c.get(k).and_then(Value::as_u64).unwrap_or(d))
}

fn temp_dir() -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("sechat-replay-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn run(server: Arc<ReplayServer>) -> Result<Vec<Value>, String> {
    let c = server.fixture().header.config.clone();
    let target = match c["server"].as_str().unwrap_or("stackexchange") {
        "stackoverflow" => Server::stack_overflow(),
        "meta" => Server::meta_stack_exchange(),
        _ => Server::stack_exchange(),
    }
    .local(server.http_base(), server.ws_base());
    let timing = Timing::default()
        .silence_timeout(ms(&c, "silence_ms", 60_000))
        .refresh_every(None)
        .poll_interval(ms(&c, "poll_ms", 5))
        .poll_failure_backoff(ms(&c, "poll_ms", 5))
        .poll_retries(u32::try_from(c["poll_retries"].as_u64().unwrap_or(5)).unwrap_or(5))
        .request_timeout(Duration::from_secs(5));
    let rate_limit = RateLimitPolicy::default()
        .second(ms(&c, "rate_second_ms", 5))
        .margin(Duration::ZERO)
        .max_retries(u32::try_from(c["max_retries"].as_u64().unwrap_or(5)).unwrap_or(5));
    let builder = ChatClient::builder(&target)
        .timing(timing)
        .rate_limit(rate_limit)
        .reconnect(
            ReconnectPolicy::immediate().max_attempts(
                c["max_attempts"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok()),
            ),
        );
    let anonymous = builder.clone().build();
    let email = c["email"].as_str().unwrap_or("bot@example.com");
    let password = c["password"].as_str().unwrap_or("fake-password");
    let mut out = Vec::new();

    let client = match c["mode"].as_str().unwrap_or("login") {
        "anonymous" => None,
        "saved" => {
            let dir = temp_dir();
            let path = dir.join("credentials.json");
            let saved = json!({
                "format": "sechat-credentials", "version": 1, "server": target.chat(), "user_id": c["saved_user_id"],
                "cookies": c["saved_cookies"],
            });
            std::fs::write(&path, saved.to_string()).unwrap();
            match Credentials::load_or_authenticate_with(&path, email, password, &anonymous).await {
                Ok(creds) => {
                    let text = std::fs::read_to_string(&path).unwrap();
                    #[cfg(unix)]
                    let mode = {
                        use std::os::unix::fs::PermissionsExt as _;
                        format!(
                            "{:o}",
                            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777
                        )
                    };
                    #[cfg(not(unix))]
                    let mode = String::from("n/a");
                    let names: Vec<String> =
                        serde_json::from_str::<Value>(&text).unwrap()["cookies"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|k| {
                                format!(
                                    "{} for {}",
                                    k["name"].as_str().unwrap(),
                                    k["domain"].as_str().unwrap()
                                )
                            })
                            .collect();
                    out.push(json!({"type": "credentials", "user_id": creds.user_id(), "file_mode": mode, "saved_cookies": names, "debug_hides_secrets": !format!("{creds:?}").contains("fake-")}));
                    Some(builder.clone().credentials(&creds).build())
                }
                Err(e) => {
                    out.push(error_json("login_error", &e));
                    return Ok(out);
                }
            }
        }
        _ => match Credentials::authenticate_with(email, password, &anonymous).await {
            Ok(creds) => {
                out.push(json!({"type": "login", "user_id": creds.user_id(), "server": creds.server().chat()}));
                Some(builder.clone().credentials(&creds).build())
            }
            Err(e) => {
                out.push(error_json("login_error", &e));
                return Ok(out);
            }
        },
    };
    let Some(room_id) = c["room_id"].as_u64() else {
        return Ok(out);
    };
    let room = client.as_ref().unwrap_or(&anonymous).room(room_id);
    let events = match room.connect().await {
        Ok(events) => events,
        Err(e) => {
            out.push(error_json("join_error", &e));
            return Ok(out);
        }
    };
    let room = client.is_some().then_some(room);
    let actions = server.take_actions().ok_or("actions taken")?;
    let record = |item: Result<sechat::Event, sechat::Error>| match item {
        // Each event with its normalised form beside it, so every fixture tests the mapping too.
        Ok(e) => serde_json::to_value(&e).map_or_else(
            |err| json!({"unserialisable": err.to_string()}),
            |mut v| {
                v["core"] = serde_json::to_value(e.to_core()).unwrap_or_default();
                v
            },
        ),
        Err(e) => error_json("error", &e),
    };
    let perform = {
        let (room, client) = (room.clone(), client.clone());
        move |a: Action| {
            let (room, client) = (room.clone(), client.clone());
            async move {
                match (&room, &client) {
                    (Some(room), Some(client)) => perform(room, client, &a.name, &a.args).await,
                    _ => Err("anonymous clients cannot act".into()),
                }
            }
        }
    };
    let close = async {
        match &room {
            Some(room) => {
                if let Err(e) = room.close().await {
                    out.push(error_json("close_error", &e));
                }
                AfterClose::ReadToEnd
            }
            // Anonymous polling has nothing to close. A stream that ends by itself (config
            // `ends`) is read to its end; otherwise what was delivered before the last
            // scripted request is taken, and reading stops.
            None if c["ends"].as_bool().unwrap_or(false) => AfterClose::ReadToEnd,
            None => AfterClose::Stop,
        }
    };
    let seen = drive(&server, actions, events, record, perform, close).await?;
    out.extend(seen);
    Ok(out)
}

async fn perform(room: &Room, client: &ChatClient, name: &str, a: &Value) -> Result<Value, String> {
    let id = || MessageId(a["id"].as_u64().unwrap_or(0));
    let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    let e = |e: sechat::Error| e.to_string();
    Ok(match name {
        "send" => serde_json::to_value(
            room.send(&s("text"), a["reply_to"].as_u64().map(MessageId))
                .await
                .map_err(e)?,
        )
        .unwrap(),
        "edit" => room
            .edit(id(), &s("text"))
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "delete" => room.delete(id()).await.map(|()| Value::Null).map_err(e)?,
        "star" => room.star(id()).await.map(|()| Value::Null).map_err(e)?,
        "pin" => room.pin(id()).await.map(|()| Value::Null).map_err(e)?,
        "unpin" => room.unpin(id()).await.map(|()| Value::Null).map_err(e)?,
        "clear_stars" => room
            .clear_stars(id())
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "bookmark" => json!(
            room.bookmark(
                MessageId(a["first"].as_u64().unwrap_or(0)),
                MessageId(a["last"].as_u64().unwrap_or(0)),
                &s("title")
            )
            .await
            .map_err(e)?
        ),
        "delete_bookmark" => room
            .delete_bookmark(&s("slug"))
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        "move" => {
            let ids: Vec<MessageId> = a["ids"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_u64).map(MessageId).collect())
                .unwrap_or_default();
            json!(
                room.move_messages(&ids, RoomId(a["to"].as_u64().unwrap_or(0)))
                    .await
                    .map_err(e)?
            )
        }
        "upload_image" => {
            let size = usize::try_from(a["size"].as_u64().unwrap_or(16)).unwrap_or(16);
            let bytes: Vec<u8> = (0..size)
                .map(|i| u8::try_from(i % 251).unwrap_or(0))
                .collect();
            json!(client.upload_image(&bytes, &s("name")).await.map_err(e)?)
        }
        "edit_bio" => client
            .profile()
            .map_err(e)?
            .edit_bio(&s("text"))
            .await
            .map(|()| Value::Null)
            .map_err(e)?,
        other => return Err(format!("the sechat runner has no action {other:?}")),
    })
}
