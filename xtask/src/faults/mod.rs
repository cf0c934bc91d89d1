//! `cargo xtask faults [--seed S] [--rounds N] [--only CRATE]...`: a fault campaign through
//! chat-replay.
//!
//! Each round generates one session from the seed (a fixture: the server's side with faults
//! placed at random, and the client's steps it expects), replays it on loopback against the
//! real client, and checks what the client delivered against every message the session
//! posted. Per crate it reports panics, hangs, lost and duplicated messages, script failures
//! (the client did something the session did not expect), recoveries and the longest one.
//! A failing round's session is written to `target/faults/` and reproduces from its seed.

mod chzzk;
mod livekit;
mod sechat;
mod streams;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chat_replay::{Fixture, ReplayServer};
use futures_util::{Stream, StreamExt as _};
use serde_json::{Value, json};

use crate::project_root;

/// Rounds per crate when `--rounds` is not given (what `xtask ci` runs).
pub(crate) const CI_ROUNDS: u32 = 40;

/// A session whose script makes no progress for this long has hung (the client stopped, or
/// waits for something that will not come); `finish()` then says at which step.
pub(crate) const STALL_GUARD: Duration = Duration::from_secs(15);

/// A round that runs longer than this is a hang even if the runner itself is stuck.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Panics anywhere in the process (the hook counts them; the runtime turns them into errors).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// A small deterministic generator (splitmix64), so a seed replays the same campaign.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.next_u64() % items.len() as u64).unwrap_or(0);
        &items[i]
    }
}

/// One generated session.
#[derive(Debug)]
pub(crate) struct Session {
    /// The fixture (JSON Lines).
    pub(crate) fixture: String,
    /// Keys of every message the session posted; each must be delivered exactly once.
    pub(crate) posted: Vec<String>,
    /// The faults placed, by kind (for the report).
    pub(crate) faults: Vec<String>,
    /// The consumer reads slowly.
    pub(crate) slow_consumer: bool,
}

/// What one round observed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Keys of the messages the client delivered, in order.
    pub(crate) delivered: Vec<String>,
    /// Recoveries: a lost connection followed by a working one, with how long it took.
    pub(crate) recoveries: Vec<Duration>,
    /// Typed errors the event stream yielded (bad frames; expected under faults).
    pub(crate) errors: usize,
    /// What went wrong that is not a lost or duplicated message (the script, the client).
    pub(crate) failures: Vec<String>,
    /// The session stopped making progress (see [`STALL_GUARD`]).
    pub(crate) hung: bool,
}

/// What the collector makes of one item of a client's event stream.
#[derive(Debug)]
pub(crate) enum Seen {
    /// A posted message, by key.
    Message(String),
    /// The client lost its connection and will retry.
    Lost,
    /// A connection works again.
    Recovered,
    /// The client stopped on its own, and why.
    Stopped(String),
    /// A typed error (a bad frame); the stream goes on.
    Error,
    /// Anything else.
    Other,
}

/// Starts the replay server for a generated session (`Err`: the outcome to report instead).
pub(crate) async fn start(session: &Session) -> Result<ReplayServer, Outcome> {
    let fail = |what: String| Outcome {
        failures: vec![what],
        ..Outcome::default()
    };
    let fixture = Fixture::parse("faults.jsonl", &session.fixture)
        .map_err(|e| fail(format!("generated an invalid session: {e}")))?;
    ReplayServer::start(Arc::new(fixture))
        .await
        .map_err(|e| fail(format!("replay server: {e}")))
}

/// Reads a client's events until the stream ends, slowly for a slow-consumer session.
pub(crate) fn collect<S, T>(
    mut events: S,
    slow: bool,
    see: fn(T) -> Seen,
) -> tokio::task::JoinHandle<Outcome>
where
    S: Stream<Item = T> + Unpin + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(async move {
        let mut o = Outcome::default();
        let mut lost_at: Option<Instant> = None;
        while let Some(item) = events.next().await {
            if slow {
                // A consumer busy elsewhere: the client must hold messages, not drop them.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            match see(item) {
                Seen::Message(key) => o.delivered.push(key),
                Seen::Lost => {
                    lost_at.get_or_insert_with(Instant::now);
                }
                Seen::Recovered => {
                    if let Some(t) = lost_at.take() {
                        o.recoveries.push(t.elapsed());
                    }
                }
                Seen::Stopped(reason) => o.failures.push(format!("the client stopped: {reason}")),
                Seen::Error => o.errors += 1,
                Seen::Other => {}
            }
        }
        o
    })
}

/// Waits for the session's script to play out (or stop making progress), closes the client,
/// and gathers what the collector saw and what the server says about the script.
pub(crate) async fn finish(
    server: &ReplayServer,
    collector: tokio::task::JoinHandle<Outcome>,
    close: impl Future<Output = ()>,
) -> Outcome {
    let hung = tokio::time::timeout(STALL_GUARD, server.wait_done())
        .await
        .is_err();
    close.await;
    let mut outcome = match collector.await {
        Ok(o) => Outcome { hung, ..o },
        Err(e) => Outcome {
            hung,
            failures: vec![format!("collector: {e}")],
            ..Outcome::default()
        },
    };
    if tokio::time::timeout(Duration::from_secs(2), server.wait_all())
        .await
        .is_err()
    {
        outcome
            .failures
            .push("the client never closed its last connection".into());
    }
    if let Err(e) = server.finish().await {
        outcome.failures.push(format!("script: {e}"));
    }
    outcome
}

/// Per-crate totals.
#[derive(Debug, Default)]
struct Tally {
    rounds: u32,
    panics: usize,
    hangs: u32,
    lost: usize,
    duplicated: usize,
    failures: u32,
    posted: usize,
    errors: usize,
    recoveries: usize,
    longest: Duration,
    faults: BTreeMap<String, usize>,
    first_failures: Vec<String>,
}

impl Tally {
    fn clean(&self) -> bool {
        self.panics == 0
            && self.hangs == 0
            && self.lost == 0
            && self.duplicated == 0
            && self.failures == 0
    }

    fn add(&mut self, name: &str, session: &Session, outcome: Result<Outcome, String>) -> bool {
        self.rounds += 1;
        for f in &session.faults {
            *self.faults.entry(f.clone()).or_default() += 1;
        }
        self.posted += session.posted.len();
        let mut bad = Vec::new();
        match outcome {
            Err(hang) => {
                self.hangs += 1;
                bad.push(hang);
            }
            Ok(o) => {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                for k in &o.delivered {
                    *counts.entry(k.as_str()).or_default() += 1;
                }
                let lost: Vec<&String> = session
                    .posted
                    .iter()
                    .filter(|k| !counts.contains_key(k.as_str()))
                    .collect();
                let dup: usize = counts.values().map(|n| n.saturating_sub(1)).sum();
                if !lost.is_empty() {
                    bad.push(format!("{} lost (first {})", lost.len(), lost[0]));
                }
                if dup > 0 {
                    bad.push(format!("{dup} duplicated"));
                }
                self.lost += lost.len();
                self.duplicated += dup;
                self.errors += o.errors;
                self.recoveries += o.recoveries.len();
                if let Some(m) = o.recoveries.iter().max() {
                    self.longest = self.longest.max(*m);
                }
                if o.hung {
                    self.hangs += 1;
                    bad.push(format!("no progress for {STALL_GUARD:?}"));
                } else if !o.failures.is_empty() {
                    self.failures += 1;
                }
                bad.extend(o.failures);
            }
        }
        if bad.is_empty() {
            return true;
        }
        if self.first_failures.len() < 5 {
            self.first_failures
                .push(format!("{name}: {}", bad.join("; ")));
        }
        false
    }
}

struct Options {
    seed: u64,
    rounds: u32,
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        seed: 1,
        rounds: CI_ROUNDS,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--seed" => {
                o.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?;
            }
            "--rounds" => {
                o.rounds = value("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?;
            }
            "--only" => o.only.push(value("--only")?),
            other => return Err(format!("unknown faults option {other:?}")),
        }
    }
    Ok(o)
}

/// The crates the campaign covers, in report order.
const CRATES: [&str; 4] = ["chzzk-chat", "sechat", "livekit-chat", "chat-streams"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let opts = parse(args)?;
    for o in &opts.only {
        if !CRATES.contains(&o.as_str()) {
            return Err(format!("--only {o:?}: one of {CRATES:?}"));
        }
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let out_dir = project_root().join("target/faults");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut report = Vec::new();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| crate | rounds | panics | hangs | lost | dup | script | posted | errors | recoveries | longest |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|---|---|---|---|---|");
    let mut all_clean = true;
    for name in CRATES {
        if !opts.only.is_empty() && !opts.only.iter().any(|o| o == name) {
            continue;
        }
        let panics_before = PANICS.load(Ordering::SeqCst);
        let mut tally = Tally::default();
        let mut notes = Vec::new();
        if name == "chat-streams" {
            // Each round is a child process killed with SIGKILL: a tenth of the rounds costs
            // about what the socket crates' rounds cost.
            let rounds = opts.rounds.div_ceil(10).max(10);
            let s = streams::run(opts.seed, rounds)?;
            tally.rounds = s.rounds;
            tally.failures = s.failures;
            tally
                .faults
                .insert("kill -9 mid-flush".into(), s.rounds as usize);
            tally.faults.insert("second writer".into(), 1);
            notes = s.lines;
        } else {
            for round in 0..opts.rounds {
                let round_seed = Rng::new(opts.seed ^ (u64::from(round) << 32)).next_u64();
                let mut rng = Rng::new(round_seed);
                let session = match name {
                    "chzzk-chat" => chzzk::session(&mut rng),
                    "sechat" => sechat::session(&mut rng),
                    _ => livekit::session(&mut rng),
                };
                let outcome = rt.block_on(async {
                    let play = async {
                        match name {
                            "chzzk-chat" => chzzk::play(&session, round_seed).await,
                            "sechat" => sechat::play(&session, round_seed).await,
                            _ => livekit::play(&session, round_seed).await,
                        }
                    };
                    match tokio::time::timeout(HANG_GUARD, play).await {
                        Ok(o) => Ok(o),
                        Err(_) => Err(format!("no end within {HANG_GUARD:?}")),
                    }
                });
                let label = format!("{name} round {round} (seed {round_seed})");
                if !tally.add(&label, &session, outcome) {
                    let file = out_dir.join(format!("{name}-{round_seed}.jsonl"));
                    let _ = std::fs::write(&file, &session.fixture);
                    eprintln!("FAIL {label}: session saved to {}", file.display());
                }
            }
        }
        tally.panics = PANICS.load(Ordering::SeqCst) - panics_before;
        all_clean &= tally.clean();
        let _ = writeln!(
            table,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ms |",
            tally.rounds,
            tally.panics,
            tally.hangs,
            tally.lost,
            tally.duplicated,
            tally.failures,
            tally.posted,
            tally.errors,
            tally.recoveries,
            tally.longest.as_millis()
        );
        report.push(json!({
            "crate": name,
            "rounds": tally.rounds,
            "panics": tally.panics,
            "hangs": tally.hangs,
            "lost": tally.lost,
            "duplicated": tally.duplicated,
            "script_failures": tally.failures,
            "messages_posted": tally.posted,
            "typed_errors": tally.errors,
            "recoveries": tally.recoveries,
            "longest_recovery_ms": u64::try_from(tally.longest.as_millis()).unwrap_or(u64::MAX),
            "faults": tally.faults,
            "first_failures": tally.first_failures,
            "notes": notes,
        }));
        for n in &notes {
            println!("  {name}: {n}");
        }
        for f in &tally.first_failures {
            eprintln!("  {f}");
        }
    }
    println!(
        "faults: seed {}, {} rounds per crate\n",
        opts.seed, opts.rounds
    );
    print!("{table}");
    let report = json!({"seed": opts.seed, "rounds": opts.rounds, "crates": report});
    let path = out_dir.join("report.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    println!("\nreport: {}", path.display());
    if all_clean {
        Ok(())
    } else {
        Err("the fault campaign found problems (see above)".into())
    }
}

/// A JSON Lines line.
pub(crate) fn line(v: &Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// Error pages a gateway in front of the real service answers with.
pub(crate) fn http_fault(rng: &mut Rng) -> (&'static str, Value) {
    let html = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>";
    let faults: [(&str, Value); 7] = [
        (
            "http 500 html",
            json!({"status": 500, "headers": {"content-type": "text/html"}, "text": html}),
        ),
        (
            "http 502 html",
            json!({"status": 502, "headers": {"content-type": "text/html"}, "text": html}),
        ),
        (
            "http 503 json",
            json!({"status": 503, "json": {"code": 503, "message": "Service Unavailable", "content": null}}),
        ),
        (
            "http 429",
            json!({"status": 429, "headers": {"retry-after": "0"}, "text": "Too Many Requests"}),
        ),
        (
            "http 200 html",
            json!({"status": 200, "headers": {"content-type": "text/html"}, "text": html}),
        ),
        ("http drop", json!({"drop": true})),
        ("http stall", json!({"stall": true})),
    ];
    rng.pick(&faults).clone()
}

/// Close codes a server may send (every code a close frame may carry).
pub(crate) const CLOSE_CODES: [u16; 14] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000,
];

/// A frame a broken or hostile server might send, with its kind.
pub(crate) fn garbage_frame(rng: &mut Rng, conn: &str, real: &Value) -> (&'static str, Value) {
    let text = real.to_string();
    let cut = text
        .char_indices()
        .map(|(i, _)| i)
        .nth(usize::try_from(rng.range(1, 60)).unwrap_or(1))
        .unwrap_or(1);
    match rng.range(0, 4) {
        0 => (
            "garbage text",
            json!({"ws": conn, "dir": "s2c", "text": "\u{0}not json at all {"}),
        ),
        1 => (
            "truncated frame",
            json!({"ws": conn, "dir": "s2c", "text": &text[..cut]}),
        ),
        2 => (
            "binary junk",
            json!({"ws": conn, "dir": "s2c", "b64": "3q2+7wABAgP/"}),
        ),
        3 => (
            "wrong shape",
            json!({"ws": conn, "dir": "s2c", "json": {"cmd": real.get("cmd").cloned().unwrap_or(json!(0)), "bdy": "x", "r1": 5}}),
        ),
        _ => ("empty frame", json!({"ws": conn, "dir": "s2c", "text": ""})),
    }
}

/// How a socket connection ends when the session goes on after it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ConnectionEnd {
    Drop,
    /// Dropped in the middle of a frame of new messages (only the gap fill can bring them).
    DropMidFrame,
    Close(u16),
    Stall,
    Oversize,
}

impl ConnectionEnd {
    pub(crate) fn pick(rng: &mut Rng) -> Self {
        match rng.range(0, 9) {
            0 | 1 => Self::Drop,
            2 => Self::DropMidFrame,
            3..=5 => Self::Close(*rng.pick(&CLOSE_CODES)),
            6 | 7 => Self::Stall,
            _ => Self::Oversize,
        }
    }

    /// The fault's kind and its step on `conn`; `frame` is the frame cut by
    /// [`DropMidFrame`](Self::DropMidFrame).
    pub(crate) fn step(self, conn: &str, frame: Option<&Value>) -> (String, Value) {
        match self {
            Self::Drop => ("drop".into(), json!({"ws_drop": conn})),
            Self::DropMidFrame => (
                "drop mid-frame".into(),
                json!({"ws_drop": conn, "mid_frame": frame.map(Value::to_string).unwrap_or_default()}),
            ),
            Self::Close(code) => (
                format!("close {code}"),
                json!({"ws_close": conn, "by": "server", "code": code, "reason": "server restart"}),
            ),
            Self::Stall => ("stall".into(), json!({"ws_stall": conn})),
            Self::Oversize => ("oversize frame".into(), oversize_frame(conn)),
        }
    }
}

/// An oversize text frame: 16 MiB and one byte, over the clients' 16 MiB message limit.
pub(crate) fn oversize_frame(conn: &str) -> Value {
    json!({"ws": conn, "dir": "s2c", "text": "x", "repeat": (16 << 20) + 1})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(posted: &[&str]) -> Session {
        Session {
            fixture: String::new(),
            posted: posted.iter().map(|s| (*s).to_owned()).collect(),
            faults: vec!["drop".into()],
            slow_consumer: false,
        }
    }

    #[test]
    fn lost_and_duplicated_messages_are_counted() {
        let mut t = Tally::default();
        let o = Outcome {
            delivered: vec!["a".into(), "a".into(), "c".into(), "c".into(), "c".into()],
            ..Outcome::default()
        };
        assert!(!t.add("r", &session(&["a", "b", "c"]), Ok(o)));
        assert_eq!((t.lost, t.duplicated, t.posted), (1, 3, 3));
        assert!(!t.clean());
        assert_eq!(t.faults["drop"], 1);
    }

    #[test]
    fn a_clean_round_and_a_hang() {
        let mut t = Tally::default();
        let o = Outcome {
            delivered: vec!["b".into(), "a".into()],
            recoveries: vec![Duration::from_millis(5), Duration::from_millis(9)],
            ..Outcome::default()
        };
        assert!(t.add("r", &session(&["a", "b"]), Ok(o)));
        assert!(t.clean());
        assert_eq!((t.recoveries, t.longest), (2, Duration::from_millis(9)));
        let hung = Outcome {
            hung: true,
            ..Outcome::default()
        };
        assert!(!t.add("r", &session(&[]), Ok(hung)));
        assert_eq!(t.hangs, 1);
        assert!(!t.add("r", &session(&[]), Err("guard".into())));
        assert_eq!(t.hangs, 2);
    }

    /// Every generated session is a valid fixture, its messages are distinct, and a seed
    /// always generates the same session (so a failing round reproduces).
    #[test]
    fn sessions_are_valid_distinct_and_reproducible() {
        type Generator = fn(&mut Rng) -> Session;
        let generators: [(&str, Generator); 2] =
            [("chzzk", chzzk::session), ("sechat", sechat::session)];
        for (name, generate) in generators {
            for seed in 0..30 {
                let a = generate(&mut Rng::new(seed));
                let b = generate(&mut Rng::new(seed));
                assert_eq!(
                    a.fixture, b.fixture,
                    "{name} seed {seed} is not reproducible"
                );
                if let Err(e) = chat_replay::Fixture::parse("generated.jsonl", &a.fixture) {
                    panic!("{name} seed {seed}: {e}");
                }
                let distinct: std::collections::HashSet<&String> = a.posted.iter().collect();
                assert_eq!(distinct.len(), a.posted.len(), "{name} seed {seed}");
                assert!(!a.faults.is_empty(), "{name} seed {seed} has no fault");
            }
        }
        let plan = livekit::session(&mut Rng::new(3));
        assert_eq!(plan.fixture, livekit::session(&mut Rng::new(3)).fixture);
    }
}
