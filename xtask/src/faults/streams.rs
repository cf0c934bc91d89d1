//! chat-streams: the crash campaign lives in the crate's own tests (a child process writing
//! recognisable batches is killed with SIGKILL mid-flush, and a second writer holds the
//! database's lock); this runs it with the campaign's rounds and seed and reports its summary.

use std::process::Stdio;

use crate::cargo;

/// What the campaign reported.
#[derive(Debug)]
pub(super) struct Summary {
    pub(super) rounds: u32,
    pub(super) failures: u32,
    /// The campaign's own summary lines (kill points, batches found, loss bound).
    pub(super) lines: Vec<String>,
}

pub(super) fn run(seed: u64, rounds: u32) -> Result<Summary, String> {
    let mut c = cargo();
    c.args([
        "test",
        "-p",
        "chat-streams",
        "--test",
        "persistence",
        "--locked",
        "--",
        "crash_campaign",
        "second_writer",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("CHAT_STREAMS_CRASH_ROUNDS", rounds.to_string())
    .env("CHAT_STREAMS_CRASH_SEED", seed.to_string())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let out = c
        .output()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("crash campaign") || l.starts_with("second writer"))
        .map(str::to_owned)
        .collect();
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
        .collect();
    if !out.status.success() && failed.is_empty() {
        return Err(format!("the crash campaign did not run:\n{text}"));
    }
    for f in &failed {
        eprintln!("FAIL chat-streams: {f}");
    }
    if !failed.is_empty() {
        eprintln!("{text}");
    }
    Ok(Summary {
        rounds,
        failures: u32::try_from(failed.len()).unwrap_or(u32::MAX),
        lines,
    })
}
