//! `cargo xtask demo`: the main job, offline. Replays the embedded sessions on loopback through
//! each platform's real client and prints a live feed and a summary.
//!
//! Each protocol crate adds its platform to [`PLATFORMS`] when it lands; until then its
//! fixtures are listed as waiting for a client. The `replay` self-test sessions run through
//! chat-replay's mirror client, which shows what the replay server does on the wire.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use chat_replay::{Fixture, ReplayServer};
use serde_json::Value;

use crate::fixtures::find_fixtures;
use crate::{project_root, take_fixture_dirs};

/// What one session produced.
#[derive(Debug, Default)]
struct Tally {
    sessions: usize,
    events: usize,
    http_requests: usize,
    ws_connections: usize,
    failures: Vec<String>,
}

/// A platform the demo can run: its fixture `platform` and a function that plays one session,
/// printing feed lines as they happen and returning the number of events.
type Play = fn(Arc<ReplayServer>) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send>>;

struct Platform {
    name: &'static str,
    play: Play,
}

const PLATFORMS: &[Platform] = &[Platform {
    name: "replay",
    play: |server| Box::pin(play_mirror(server)),
}];

async fn play_mirror(server: Arc<ReplayServer>) -> Result<usize, String> {
    let events = chat_replay::mirror::play(&server).await?;
    for e in &events {
        println!("  {}", mirror_line(e));
    }
    Ok(events.len())
}

fn mirror_line(e: &Value) -> String {
    let compact = |v: &Value| chat_replay_truncate(&v.to_string());
    if let Some(req) = e.get("http").and_then(Value::as_str) {
        let status = e
            .get("status")
            .map_or_else(|| "no answer".to_owned(), Value::to_string);
        return format!(
            "http  {req} -> {status} {}",
            e.get("body").map(compact).unwrap_or_default()
        );
    }
    if let Some(name) = e.get("action").and_then(Value::as_str) {
        return format!(
            "act   {name} {}",
            e.get("args").map(compact).unwrap_or_default()
        );
    }
    let conn = e.get("conn").and_then(Value::as_str).unwrap_or("?");
    if let Some(j) = e.get("json") {
        format!("ws    {conn} <- {}", compact(j))
    } else if let Some(t) = e.get("text") {
        format!("ws    {conn} <- text {}", compact(t))
    } else if let Some(code) = e.get("closed") {
        format!("ws    {conn} closed by the server ({code})")
    } else if e.get("dropped").is_some() {
        format!("ws    {conn} dropped without a close frame")
    } else if e.get("stalled").is_some() {
        format!("ws    {conn} stalled (the server went silent)")
    } else {
        compact(e)
    }
}

fn chat_replay_truncate(s: &str) -> String {
    if s.chars().count() <= 110 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(110).collect::<String>())
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (dirs, rest) = take_fixture_dirs(args)?;
    if let Some(a) = rest.first() {
        return Err(format!("unknown argument {a:?} for demo"));
    }
    let roots: Vec<PathBuf> = if dirs.is_empty() {
        vec![project_root().join("fixtures")]
    } else {
        dirs
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut tally = Tally::default();
    let mut waiting = std::collections::BTreeMap::<String, usize>::new();
    for path in find_fixtures(&roots) {
        let fixture = match Fixture::load(&path) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                tally.failures.push(e.to_string());
                continue;
            }
        };
        let Some(platform) = PLATFORMS.iter().find(|p| p.name == fixture.header.platform) else {
            *waiting.entry(fixture.header.platform.clone()).or_default() += 1;
            continue;
        };
        println!(
            "\n▶ {} · {} — {}",
            platform.name,
            fixture.name(),
            fixture.header.title
        );
        let outcome = rt.block_on(async {
            let server = Arc::new(
                ReplayServer::start(Arc::clone(&fixture))
                    .await
                    .map_err(|e| e.to_string())?,
            );
            let played = (platform.play)(Arc::clone(&server)).await;
            let finish = server.finish().await;
            let events = played?;
            let report = finish.map_err(|e| e.to_string())?;
            Ok::<_, String>((events, report))
        });
        tally.sessions += 1;
        match outcome {
            Ok((events, report)) => {
                tally.events += events;
                tally.http_requests += report.http_requests;
                tally.ws_connections += report.ws_connections;
            }
            Err(e) => {
                println!("  ✗ {e}");
                tally.failures.push(format!("{}: {e}", path.display()));
            }
        }
    }
    println!("\n── summary ──");
    println!(
        "{} session(s) replayed on loopback: {} event(s), {} HTTP request(s), {} WebSocket connection(s), {} failure(s)",
        tally.sessions,
        tally.events,
        tally.http_requests,
        tally.ws_connections,
        tally.failures.len()
    );
    for (platform, n) in &waiting {
        println!("{n} {platform} fixture(s) wait for their client crate");
    }
    if tally.failures.is_empty() {
        Ok(())
    } else {
        Err(tally.failures.join("\n"))
    }
}
