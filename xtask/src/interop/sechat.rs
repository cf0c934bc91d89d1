//! The Stack Exchange chat oracle: every event of every `WebSocket` event frame in
//! `fixtures/sechat/*.jsonl`, read by the Python releases sechat 1.1.2 and chatexchange 0.0.4
//! (`interop/sechat_oracle.py`, through their own frame parsers) and by our `sechat` crate.
//!
//! Our side goes through the crate's public API: each event, alone in a frame keyed like the
//! original, is the answer to one `POST /events` of an anonymous reader (`ChatClient::anonymous(..).room(..).connect()`)
//! on a [`ReplayServer`], so it passes the same frame parser, room filter and typing as the
//! socket's frames. Both views are projected onto one shape (our `EventData` field names and
//! event kinds); each library's view holds only the fields its event model has, and ours is
//! cut to those. Cases: `<fixture>:<line>#<i>/sechat` and `.../chatexchange`, one per event
//! and library.

use std::sync::Arc;
use std::time::Duration;

use chat_replay::{Fixture, ReplayServer};
use sechat::{ChatClient, Event, Server, Timing};
use serde_json::{Map, Value, json};

use super::{Case, Env};
use crate::project_root;

/// The libraries `sechat_oracle.py` reports on, in case order.
const LIBRARIES: [&str; 2] = ["sechat", "chatexchange"];

/// One event of a fixture's server frame.
struct Input {
    id: String,
    /// The room the fixture's client follows (`config.room_id`).
    room: u64,
    /// The frame, cut down to this one event under its original `r<room>` key.
    frame: Value,
}

/// Every event of every server frame of the sechat fixtures, in file order, and (second) the
/// frames of several events, whole (id `<fixture>:<line>`).
fn inputs() -> Result<(Vec<Input>, Vec<Input>), String> {
    let dir = project_root().join("fixtures/sechat");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    let mut frames = Vec::new();
    for path in paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut room = None;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let step: Value = serde_json::from_str(line)
                .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
            if n == 0 {
                room = step["config"]["room_id"].as_u64();
                continue;
            }
            if step.get("ws").is_none() || step["dir"] != "s2c" {
                continue;
            }
            // Frames written as text (for byte fidelity) count when they are JSON.
            let frame = match (&step["json"], step["text"].as_str()) {
                (Value::Object(_), _) => step["json"].clone(),
                (_, Some(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
                _ => Value::Null,
            };
            let (Some(room), Value::Object(keys)) = (room, &frame) else {
                continue;
            };
            let mut i = 0;
            for (key, body) in keys {
                let Some(events) = body.get("e").and_then(Value::as_array) else {
                    continue;
                };
                for event in events {
                    let mut one = Map::new();
                    one.insert("e".into(), json!([event]));
                    if let Some(t) = body.get("t") {
                        one.insert("t".into(), t.clone());
                    }
                    out.push(Input {
                        id: format!("{name}:{}#{i}", n + 1),
                        room,
                        frame: json!({ key: one }),
                    });
                    i += 1;
                }
            }
            if i > 1 {
                frames.push(Input {
                    id: format!("{name}:{}", n + 1),
                    room,
                    frame,
                });
            }
        }
    }
    Ok((out, frames))
}

/// What our crate delivers for one input: the items of an anonymous reader whose only poll
/// answer is the input's frame.
async fn read_with_our_crate(input: &Input) -> Result<Vec<Result<Event, sechat::Error>>, String> {
    let room = input.room;
    let steps = [
        json!({"fixture": 1, "platform": "sechat", "title": format!("interop: {}", input.id), "source": "hand"}),
        json!({"http": {"method": "GET", "path": "/chats/join/favorite"}, "response": {"text": "<html><body><form><input id=\"fkey\" name=\"fkey\" type=\"hidden\" value=\"fake-chat-fkey-1\" /></form></body></html>", "headers": {"content-type": "text/html"}}}),
        json!({"http": {"method": "POST", "path": format!("/chats/{room}/events")}, "response": {"json": {"ms": 0, "time": 0, "sync": 0, "events": []}}}),
        json!({"http": {"method": "POST", "path": "/events"}, "response": {"json": input.frame}}),
        json!({"http": {"method": "POST", "path": "/events"}, "response": {"stall": true}}),
    ];
    let text = steps
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let fixture = Fixture::parse(format!("{}.jsonl", input.id), &text)
        .map_err(|e| format!("the generated fixture: {e}"))?;
    let server = ReplayServer::start(Arc::new(fixture))
        .await
        .map_err(|e| format!("replay server: {e}"))?;
    let target = Server::stack_exchange().local(server.http_base(), server.ws_base());
    let client = ChatClient::builder(&target)
        .timing(
            Timing::default()
                .poll_interval(Duration::from_millis(1))
                .poll_failure_backoff(Duration::from_millis(1))
                .request_timeout(Duration::from_secs(2)),
        )
        .build();
    let mut events = client
        .room(room)
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut items = Vec::new();
    let done = server.wait_done();
    tokio::pin!(done);
    // The reader sends what a poll answer held before it polls again, and the second poll is
    // the script's last step: once it is done, every item is queued.
    loop {
        tokio::select! {
            biased;
            item = events.next() => match item {
                Some(item) => items.push(item),
                None => break,
            },
            () = &mut done => break,
        }
    }
    while let Some(Some(item)) = futures_util::FutureExt::now_or_never(events.next()) {
        items.push(item);
    }
    drop(events);
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(1), server.finish()).await {
        return Err(format!("the replay script was not followed: {e}"));
    }
    Ok(items)
}

/// An event in the common shape (our `EventData` field names; `type` is [`Event::kind`]).
fn project(event: &Event) -> Value {
    if let Some(d) = event.data() {
        return json!({
            "type": event.kind(),
            "event_type": d.event_type,
            "id": d.id,
            // As the crate serialises it: an integer when whole, as the oracle's JSON has it.
            "time_stamp": serde_json::to_value(d).map_or(Value::Null, |v| v["time_stamp"].clone()),
            "room_id": d.room_id,
            "room_name": d.room_name,
            "user_id": d.user_id,
            "user_name": d.user_name,
            "target_user_id": d.target_user_id,
            "message_id": d.message_id,
            "parent_id": d.parent_id,
            "show_parent": d.show_parent,
            "content": d.content,
            "text": d.text,
            "message_edits": d.message_edits,
            "message_stars": d.message_stars,
            "message_owner_stars": d.message_owner_stars,
            "moved": d.moved,
        });
    }
    // An unknown type is kept whole; the common fields are read from it as sent.
    let raw = event.raw().unwrap_or(&Value::Null);
    json!({
        "type": event.kind(),
        "event_type": raw["event_type"],
        "id": raw["id"],
        "time_stamp": raw["time_stamp"],
        "room_id": raw["room_id"],
        "room_name": raw["room_name"],
    })
}

/// Our view of one input: `null` when nothing reached the application (another room's
/// event), `{"rejected": true}` when the event could not be decoded, else the projection.
fn our_view(items: Vec<Result<Event, sechat::Error>>) -> Value {
    let mut views = Vec::new();
    for item in items {
        match item {
            Ok(Event::Connected(_)) => {}
            Ok(e) => views.push(project(&e)),
            Err(sechat::Error::Decode { .. }) => views.push(json!({"rejected": true})),
            Err(e) => views.push(json!({"error": e.to_string()})),
        }
    }
    match views.len() {
        0 => Value::Null,
        1 => views.remove(0),
        _ => json!({"delivered_more_than_once": views}),
    }
}

/// The kinds of what reached the application from a whole frame, in order (undecodable
/// events are reported as errors and left out, as nothing reaches a handler for them).
fn our_kinds(items: Vec<Result<Event, sechat::Error>>) -> Value {
    let mut kinds = Vec::new();
    for item in items {
        match item {
            Ok(Event::Connected(_)) | Err(sechat::Error::Decode { .. }) => {}
            Ok(e) => kinds.push(json!(e.kind())),
            Err(e) => kinds.push(json!({"error": e.to_string()})),
        }
    }
    Value::Array(kinds)
}

/// Our view cut to the fields the library's model has (the keys of its view). Fields a
/// library does not model at all (chatexchange keeps no user on an access change, sechat
/// decodes no text) are not compared; what a model has must agree.
fn restrict(ours: &Value, theirs: &Value) -> Value {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) if !o.contains_key("rejected") => Value::Object(
            o.iter()
                .filter(|(k, _)| t.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => ours.clone(),
    }
}

pub(crate) fn run(env: &Env) -> Result<Vec<Case>, String> {
    let (inputs, frames) = inputs()?;
    let dir = env.dir.join("sechat");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let input_path = dir.join("events.json");
    let list = |v: &[Input]| -> Vec<Value> {
        v.iter()
            .map(|i| json!({"id": i.id, "room": i.room, "frame": i.frame}))
            .collect()
    };
    let doc = json!({"cases": list(&inputs), "frames": list(&frames)});
    std::fs::write(&input_path, doc.to_string())
        .map_err(|e| format!("{}: {e}", input_path.display()))?;
    let theirs = env.python_json("sechat_oracle.py", &[&input_path.to_string_lossy()])?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let read = |input: &Input| {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), read_with_our_crate(input))
                .await
                .map_err(|_| "our crate: timed out".to_owned())?
        })
    };
    let mut cases = Vec::new();
    for input in &inputs {
        let ours = match read(input) {
            Ok(items) => our_view(items),
            Err(e) => json!({"error": e}),
        };
        for lib in LIBRARIES {
            let result = &theirs["results"][&input.id][lib];
            let theirs = if let Some(raised) = result["raised"].as_str() {
                // Both refusing a malformed event is agreement; their parser raising on an
                // event we read is not (it ends their reader thread).
                if ours.get("rejected").is_some() {
                    Ok(json!({"rejected": true}))
                } else {
                    Err(raised.to_owned())
                }
            } else if let Some(view) = result.get("ok") {
                Ok(view.clone())
            } else {
                Err(format!("sechat_oracle.py gave no {lib} result"))
            };
            let ours = theirs
                .as_ref()
                .map_or_else(|_| ours.clone(), |t| restrict(&ours, t));
            cases.push(Case::new(format!("{}/{lib}", input.id), ours, theirs));
        }
    }
    for frame in &frames {
        let ours = match read(frame) {
            Ok(items) => our_kinds(items),
            Err(e) => json!({"error": e}),
        };
        for lib in LIBRARIES {
            let result = &theirs["frames"][&frame.id][lib];
            let theirs = match (result.get("ok"), result["raised"].as_str()) {
                (Some(kinds), _) => Ok(kinds.clone()),
                (None, Some(raised)) => Err(format!(
                    "raised after delivering {}: {raised}",
                    result["delivered"]
                )),
                (None, None) => Err(format!("sechat_oracle.py gave no {lib} result")),
            };
            cases.push(Case::new(
                format!("{}/{lib}", frame.id),
                ours.clone(),
                theirs,
            ));
        }
    }
    Ok(cases)
}
