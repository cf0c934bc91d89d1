//! The fixture runner behind each protocol crate's `tests/replay.rs`.
//!
//! ```no_run
//! // tests/replay.rs of a protocol crate (`harness = false` in its Cargo.toml):
//! fn main() -> std::process::ExitCode {
//!     let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
//!     chat_replay::harness::Harness::new("replay", dir)
//!         .run(|server| async move { chat_replay::mirror::play(&server).await })
//! }
//! ```
//!
//! Every fixture whose header names the platform becomes one named test (libtest-compatible,
//! so `cargo test`, `cargo nextest` and filters work). The runner closure drives the real client
//! against the [`ReplayServer`] and returns the events it saw, serialised as JSON; the harness
//! checks the server's report and compares the events with the fixture's `expect` lines.
//!
//! Environment:
//! - `REPLAY_FIXTURES`: files or directories to run instead of the default, separated by `:`
//!   (directories are searched recursively for `*.jsonl`);
//! - `REPLAY_BLESS=1`: rewrite each fixture's `expect` lines with what the client saw;
//! - `REPLAY_REPORT=FILE`: append one JSON line per fixture (used by `cargo xtask test-fixtures`).
//!
//! Inside a runner, [`drive`] does what every socket client's runner does once connected:
//! collect the events, perform the scripted actions, wait for the script, close.

mod drive;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Fixture, ReplayServer};

pub use drive::{AfterClose, drive};

/// A guard against hangs, never a way to synchronise: a fixture that takes this long fails.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// How long the harness lets the server catch up after the client returned (a bound on a
/// signalled wait, see [`ReplayServer::wait_all`]).
const SETTLE_GUARD: Duration = Duration::from_secs(2);

/// The runner for one platform's fixtures.
#[derive(Debug, Clone)]
pub struct Harness {
    platform: String,
    default_dirs: Vec<PathBuf>,
}

impl Harness {
    /// Runs fixtures whose header says `platform`, found under `default_dir` unless
    /// `REPLAY_FIXTURES` says otherwise.
    pub fn new(platform: &str, default_dir: impl Into<PathBuf>) -> Self {
        Self {
            platform: platform.to_owned(),
            default_dirs: vec![default_dir.into()],
        }
    }

    /// The fixtures this harness would run, as (test name, path), sorted.
    pub fn discover(&self) -> Vec<(String, PathBuf)> {
        let roots: Vec<PathBuf> = match std::env::var_os("REPLAY_FIXTURES") {
            Some(v) if !v.is_empty() => std::env::split_paths(&v).collect(),
            _ => self.default_dirs.clone(),
        };
        let mut found = Vec::new();
        for root in roots {
            let mut files = Vec::new();
            collect_jsonl(&root, &mut files);
            for path in files {
                if header_platform(&path).is_none_or(|p| p == self.platform) {
                    let rel = path.strip_prefix(&root).unwrap_or(&path).with_extension("");
                    let name = if rel.as_os_str().is_empty() {
                        path.file_stem()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    } else {
                        rel.to_string_lossy().replace('\\', "/")
                    };
                    found.push((name, path));
                }
            }
        }
        found.sort();
        found
    }

    /// Runs every discovered fixture as a libtest trial and returns the process exit code.
    pub fn run<F, Fut>(self, runner: F) -> ExitCode
    where
        F: Fn(Arc<ReplayServer>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Value>, String>> + Send + 'static,
    {
        let args = libtest_mimic::Arguments::from_args();
        let runner = Arc::new(runner);
        let trials = self
            .discover()
            .into_iter()
            .map(|(name, path)| {
                let runner = Arc::clone(&runner);
                libtest_mimic::Trial::test(name, move || {
                    run_one(&path, &*runner).map_err(Into::into)
                })
            })
            .collect();
        libtest_mimic::run(&args, trials).exit_code()
    }
}

fn collect_jsonl(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_owned());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_jsonl(&p, out);
        } else if p.extension().is_some_and(|e| e == "jsonl") {
            out.push(p);
        }
    }
}

/// The `platform` of a fixture's header, if the first line can be read.
pub fn header_platform(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let first: Value = serde_json::from_str(text.lines().next()?).ok()?;
    first.get("platform")?.as_str().map(str::to_owned)
}

/// Loads, replays and checks one fixture with `runner`; blesses when `REPLAY_BLESS=1`.
///
/// # Errors
/// A readable report: load errors, the client's error, the server's report, or a diff of the
/// expected and actual events.
pub fn run_one<F, Fut>(path: &Path, runner: &F) -> Result<(), String>
where
    F: Fn(Arc<ReplayServer>) -> Fut,
    Fut: Future<Output = Result<Vec<Value>, String>> + Send + 'static,
{
    let bless = std::env::var("REPLAY_BLESS").is_ok_and(|v| v == "1");
    let result = replay(path, runner, bless);
    if let Some(report) = std::env::var_os("REPLAY_REPORT") {
        let line = json!({
            "fixture": path.display().to_string(),
            "passed": result.is_ok(),
            "message": result.as_ref().err(),
        });
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(report) {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
    result
}

fn replay<F, Fut>(path: &Path, runner: &F, bless: bool) -> Result<(), String>
where
    F: Fn(Arc<ReplayServer>) -> Fut,
    Fut: Future<Output = Result<Vec<Value>, String>> + Send + 'static,
{
    let fixture = Arc::new(Fixture::load(path).map_err(|e| e.to_string())?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let (outcome, finish) = rt.block_on(async {
        let server = Arc::new(
            ReplayServer::start(Arc::clone(&fixture))
                .await
                .map_err(|e| format!("cannot bind loopback: {e}"))?,
        );
        let fut = runner(Arc::clone(&server));
        let outcome = match tokio::time::timeout(HANG_GUARD, tokio::spawn(fut)).await {
            Ok(Ok(r)) => r,
            Ok(Err(join)) => Err(format!("the client panicked: {join}")),
            Err(_) => Err(format!(
                "hang guard: the client did not finish within {HANG_GUARD:?}"
            )),
        };
        // The client may have closed its socket on its own just before returning: let the
        // server read what is already on its way (signalled; the bound only caps a step that
        // never comes, which finish() then reports).
        let _ = tokio::time::timeout(SETTLE_GUARD, server.wait_all()).await;
        let finish = server.finish().await;
        // Ports change from run to run: expectations spell the server's URLs as placeholders.
        let outcome = outcome.map(|events| {
            events
                .into_iter()
                .map(|e| unsubstitute(e, server.http_base(), server.ws_base()))
                .collect::<Vec<_>>()
        });
        Ok::<_, String>((outcome, finish))
    })?;
    let mut problems = Vec::new();
    if let Err(e) = &outcome {
        problems.push(format!("client error: {e}"));
    }
    if let Err(e) = &finish {
        problems.push(e.to_string());
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let events = outcome.unwrap_or_default();
    if bless {
        std::fs::write(path, fixture.blessed_text(&events))
            .map_err(|e| format!("cannot bless {}: {e}", path.display()))?;
        return Ok(());
    }
    let expected: Vec<Value> = fixture.expect.iter().map(|e| e.value.clone()).collect();
    compare(&expected, &events)
}

/// Replaces the server's own base URLs in `value` with `{{http_base}}` / `{{ws_base}}`.
pub fn unsubstitute(value: Value, http_base: &str, ws_base: &str) -> Value {
    match value {
        Value::String(s) => Value::String(
            s.replace(http_base, "{{http_base}}")
                .replace(ws_base, "{{ws_base}}"),
        ),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| unsubstitute(v, http_base, ws_base))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, unsubstitute(v, http_base, ws_base)))
                .collect(),
        ),
        other => other,
    }
}

/// Compares expected and actual events; the error is a unified diff, one event per line.
///
/// # Errors
/// The diff when they differ.
pub fn compare(expected: &[Value], actual: &[Value]) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let render = |v: &[Value]| {
        v.iter().fold(String::new(), |mut out, e| {
            out.push_str(&json!({ "expect": e }).to_string());
            out.push('\n');
            out
        })
    };
    let (old, new) = (render(expected), render(actual));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header("expected (fixture)", "actual (client)")
        .to_string();
    Err(format!(
        "the client's events differ from the fixture's expectations (- expected, + actual; \
         REPLAY_BLESS=1 or `cargo xtask test-fixtures --bless` accepts the actual ones):\n{text}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_shows_a_readable_diff() {
        let a = vec![
            json!({"type": "chat", "text": "hi"}),
            json!({"type": "chat", "text": "bye"}),
        ];
        let mut b = a.clone();
        b[1]["text"] = json!("ciao");
        assert!(compare(&a, &a).is_ok());
        let d = compare(&a, &b).unwrap_err();
        assert!(
            d.contains("-{\"expect\":{\"text\":\"bye\",\"type\":\"chat\"}}"),
            "{d}"
        );
        assert!(
            d.contains("+{\"expect\":{\"text\":\"ciao\",\"type\":\"chat\"}}"),
            "{d}"
        );
        assert!(
            d.contains(" {\"expect\":{\"text\":\"hi\",\"type\":\"chat\"}}"),
            "{d}"
        );
    }
}
