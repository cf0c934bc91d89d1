//! The chat-streams oracle: a MaiBot 0.x database made by peewee (MaiBot's ORM) from MaiBot's
//! model, imported, written and exported by chat-streams, then read back by peewee.
//!
//! Cases: the file's schema and `user_version` are untouched by our writes and it passes
//! `integrity_check`; a file we create has the schema peewee creates; every row peewee made
//! reads the same through our import; every stream we wrote reads the same through peewee;
//! every stored stream id follows MaiBot's recipe computed in Python.

use chat_streams::{ChatStream, GroupInfo, MaiBotDb, Registry, RegistryOptions, UserInfo};
use serde_json::{Value, json};
use time::UtcOffset;

use super::{Case, Env};

/// A stream as MaiBot's loader sees it (the shape `maibot_oracle.py` prints).
fn project(s: &ChatStream) -> Value {
    let user = s.user_info.as_ref();
    json!({
        "stream_id": s.stream_id,
        "recipe": s.stream_id,
        "platform": s.platform,
        "kind": if s.group_info.is_some() { "group" } else { "private" },
        "group_id": s.group_info.as_ref().map(|g| &g.group_id),
        "group_name": s.group_info.as_ref().and_then(|g| g.group_name.as_ref()),
        "user_id": user.map(|u| &u.user_id).filter(|id| !id.is_empty()),
        "user_nickname": user.and_then(|u| u.user_nickname.as_ref()).filter(|n| !n.is_empty()),
        "create_ms": s.created_at_ms,
        "last_active_ms": s.last_active_at_ms,
    })
}

fn rows(state: &Value) -> Vec<Value> {
    state["rows"].as_array().cloned().unwrap_or_default()
}

fn row<'a>(rows: &'a [Value], stream_id: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["stream_id"] == stream_id)
}

fn storage(e: impl std::fmt::Display) -> String {
    format!("chat-streams: {e}")
}

pub(crate) fn run(env: &Env) -> Result<Vec<Case>, String> {
    let dir = env.dir.join("streams");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let theirs_path = dir.join("MaiBot.db");
    let ours_path = dir.join("created-by-chat-streams.db");
    let path_arg = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let mut cases = Vec::new();

    // 1. MaiBot (peewee) makes the file; we import it.
    let before = env.python_json("maibot_oracle.py", &["create", &path_arg(&theirs_path)])?;
    let registry = Registry::in_memory(RegistryOptions::default());
    let mut db = MaiBotDb::open(&theirs_path, UtcOffset::UTC).map_err(storage)?;
    registry.import_maibot(&db).map_err(storage)?;
    for r in rows(&before) {
        let id = r["stream_id"].as_str().unwrap_or_default().to_owned();
        let ours = registry
            .get_stream(&id)
            .map_or(Value::Null, |s| project(&s));
        cases.push(Case::new(format!("import:{id}"), ours, Ok(r.clone())));
    }

    // 2. We add streams of every platform and touch one MaiBot made, then export.
    let chzzk = registry
        .get_or_create(
            "chzzk",
            None,
            Some(GroupInfo::new(
                "chzzk",
                "0dac39d1c0ffee000000000000000001",
                Some("라이브 채팅".into()),
            )),
        )
        .map_err(storage)?;
    let sechat = registry
        .get_or_create(
            "stackexchange",
            None,
            Some(GroupInfo::new("stackexchange", "1", Some("Sandbox".into()))),
        )
        .map_err(storage)?;
    let livekit = registry
        .get_or_create(
            "livekit",
            None,
            Some(GroupInfo::new("livekit", "demo-room", None)),
        )
        .map_err(storage)?;
    let private = registry
        .get_or_create(
            "qq",
            Some(UserInfo::new("qq", "10003", Some("新朋友".into()))),
            None,
        )
        .map_err(storage)?;
    let touched = registry
        .get_or_create(
            "qq",
            None,
            Some(GroupInfo::new("qq", "941657197", Some("改名后的群".into()))),
        )
        .map_err(storage)?;
    registry.export_maibot(&mut db).map_err(storage)?;
    drop(db);

    // 3. MaiBot (peewee) reads it back.
    let after = env.python_json("maibot_oracle.py", &["read", &path_arg(&theirs_path)])?;
    cases.push(Case::new(
        "schema untouched",
        before["schema"].clone(),
        Ok(after["schema"].clone()),
    ));
    cases.push(Case::new(
        "user_version untouched",
        before["user_version"].clone(),
        Ok(after["user_version"].clone()),
    ));
    cases.push(Case::new(
        "integrity_check",
        json!("ok"),
        Ok(after["integrity"].clone()),
    ));
    cases.push(Case::new(
        "row count",
        json!(registry.len()),
        Ok(json!(rows(&after).len())),
    ));
    let after_rows = rows(&after);
    for s in [&chzzk, &sechat, &livekit, &private, &touched] {
        let id = &s.stream_id;
        let ours = registry.get_stream(id).map_or(Value::Null, |s| project(&s));
        cases.push(Case::new(
            format!("export:{}:{id}", s.platform),
            ours,
            row(&after_rows, id)
                .cloned()
                .ok_or_else(|| "no such row".to_owned()),
        ));
    }
    for r in &after_rows {
        cases.push(Case::new(
            format!("recipe:{}", r["stream_id"].as_str().unwrap_or_default()),
            r["stream_id"].clone(),
            Ok(r["recipe"].clone()),
        ));
    }

    // 4. A file we create has the table and index MaiBot creates.
    let created = MaiBotDb::create_legacy(&ours_path).map_err(storage)?;
    drop(created);
    let ours_state = env.python_json("maibot_oracle.py", &["read", &path_arg(&ours_path)])?;
    // SQLite keeps each statement's text verbatim, so this compares our DDL with peewee's
    // character for character.
    cases.push(Case::new(
        "create_legacy schema",
        before["schema"].clone(),
        Ok(ours_state["schema"].clone()),
    ));
    Ok(cases)
}
