//! The registry's own SQLite file: round trips, batching, a locked database, and a crash of
//! the writing process.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chat_streams::{
    GroupInfo, MaiBotDb, PlatformFilter, Registry, RegistryOptions, StreamKey, StreamKind, UserInfo,
};

fn temp_db(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("chat-streams-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("streams.db")
}

/// Options whose background writer never runs during a test (so only explicit flushes write).
fn manual() -> RegistryOptions {
    RegistryOptions::default().flush_interval(Duration::from_secs(3600))
}

fn add_groups(r: &Registry, platform: &str, ids: std::ops::Range<u32>) {
    for i in ids {
        r.get_or_create(
            platform,
            None,
            Some(GroupInfo::new(
                platform,
                i.to_string(),
                Some(format!("group {i}")),
            )),
        )
        .unwrap();
    }
}

fn count_rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM streams", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_clean_close_keeps_everything() {
    let path = temp_db("roundtrip");
    {
        let r = Registry::open(&path, manual()).unwrap();
        add_groups(&r, "qq", 0..10);
        r.get_or_create(
            "qq",
            Some(UserInfo::new("qq", "77", Some("Dee".into()))),
            None,
        )
        .unwrap();
        assert_eq!(
            count_rows(&path),
            0,
            "nothing written before the interval, a flush or close"
        );
        r.close().unwrap();
    }
    assert_eq!(count_rows(&path), 11);
    let r = Registry::open(&path, manual()).unwrap();
    assert_eq!(r.len(), 11);
    let p = r.get_stream_by_user_id("77", "qq").unwrap().unwrap();
    assert_eq!(
        p.user_info.as_ref().unwrap().user_nickname.as_deref(),
        Some("Dee")
    );
    assert_eq!(
        r.get_stream_by_group_id("3", "qq")
            .unwrap()
            .unwrap()
            .group_info
            .as_ref()
            .unwrap()
            .group_name
            .as_deref(),
        Some("group 3")
    );
    // Activity after reopening updates the same row (the surrogate key is stable).
    r.get_or_create(
        "qq",
        None,
        Some(GroupInfo::new("qq", "3", Some("renamed".into()))),
    )
    .unwrap();
    assert_eq!(r.flush().unwrap(), 1);
    drop(r);
    let r = Registry::open(&path, manual()).unwrap();
    assert_eq!(r.len(), 11);
    assert_eq!(
        r.get_stream_by_group_id("3", PlatformFilter::All)
            .unwrap()
            .unwrap()
            .group_info
            .as_ref()
            .unwrap()
            .group_name
            .as_deref(),
        Some("renamed")
    );
    assert_eq!(
        r.get_all_streams("qq")[0].key.target,
        "3",
        "most recent first survives a reopen"
    );
}

#[test]
fn flushes_are_batched_and_only_write_dirty_streams() {
    let path = temp_db("batch");
    let r = Registry::open(&path, manual()).unwrap();
    add_groups(&r, "chzzk", 0..100);
    assert_eq!(r.flush().unwrap(), 100);
    assert_eq!(r.flush().unwrap(), 0, "nothing is dirty any more");
    add_groups(&r, "chzzk", 5..7);
    assert_eq!(r.flush().unwrap(), 2);
    assert_eq!(r.flush_count(), 2);
    assert_eq!(count_rows(&path), 100);
}

#[test]
fn the_background_writer_runs_on_its_interval() {
    let path = temp_db("interval");
    let r = Registry::open(
        &path,
        RegistryOptions::default().flush_interval(Duration::from_millis(20)),
    )
    .unwrap();
    add_groups(&r, "qq", 0..5);
    assert!(
        r.wait_flushed(Duration::from_secs(10)),
        "the writer catches up on its own"
    );
    assert_eq!(count_rows(&path), 5);
    assert!(r.flush_count() >= 1);
}

#[test]
fn a_locked_database_keeps_streams_dirty_until_it_can_write() {
    let path = temp_db("locked");
    let r = Registry::open(&path, manual().busy_timeout(Duration::from_millis(50))).unwrap();
    add_groups(&r, "qq", 0..3);
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "BEGIN IMMEDIATE; INSERT INTO registry_meta (key, value) VALUES ('lock', 'held');",
        )
        .unwrap();
    let err = r.flush().unwrap_err();
    assert_eq!(err.retry(), chatwire_core::Retry::Backoff, "{err}");
    assert!(r.last_flush_error().is_some());
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(r.flush().unwrap(), 3, "the failed batch is retried whole");
    assert!(r.last_flush_error().is_none());
    assert_eq!(count_rows(&path), 3);
}

#[test]
fn a_newer_schema_is_refused() {
    let path = temp_db("newer");
    drop(Registry::open(&path, manual()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE registry_meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    let err = Registry::open(&path, manual()).unwrap_err();
    assert!(err.to_string().contains("newer chat-streams"), "{err}");
}

const CHILD: &str = "CHAT_STREAMS_CRASH_CHILD";

/// Not a test by itself: the writer process of the crash tests (it runs only when the parent
/// sets the environment variable, and is then killed).
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (mode, path) = spec.split_once('|').unwrap();
    let out = std::io::stdout();
    // The test harness has printed "test crash_child ... " without a newline: end that line.
    println!();
    match mode {
        // Explicit flush of a first batch, then a second batch that only the (hour-long)
        // interval would write.
        "interval-not-reached" => {
            let r = Registry::open(path, manual()).unwrap();
            add_groups(&r, "qq", 0..20);
            r.flush().unwrap();
            add_groups(&r, "qq", 20..30);
            println!("\nCHILD-READY");
            // Held until the kill: dropping it here would flush the second batch (the race
            // this test once lost under load).
            std::mem::forget(r);
        }
        // The background writer alone, on a short interval.
        "interval-passed" => {
            let r = Registry::open(
                path,
                RegistryOptions::default().flush_interval(Duration::from_millis(20)),
            )
            .unwrap();
            add_groups(&r, "qq", 0..25);
            assert!(r.wait_flushed(Duration::from_secs(10)));
            println!("\nCHILD-READY");
            std::mem::forget(r);
        }
        // Recognisable batches, each written by one explicit flush: batch `n` adds the groups
        // `n-0` .. `n-{BATCH-1}` (created at `n`) and renames the `HOT` groups to `batch n`. A
        // batch is therefore visible whole or not at all, both as inserts and as updates.
        "batches" => {
            let round: u32 = std::env::var(ROUND).unwrap().parse().unwrap();
            let r = Registry::open(path, manual()).unwrap();
            for n in 0.. {
                for i in 0..BATCH {
                    let key =
                        StreamKey::new("crash", StreamKind::Group, &format!("{round}-{n}-{i}"))
                            .unwrap();
                    r.upsert(key, None, Some(format!("{round} {n}")), n)
                        .unwrap();
                }
                for j in 0..HOT {
                    let key =
                        StreamKey::new("crash", StreamKind::Group, &format!("hot-{j}")).unwrap();
                    r.upsert(key, None, Some(format!("{round} {n}")), n)
                        .unwrap();
                }
                // Nothing but the flush happens between this line and "FLUSHED".
                println!("FLUSHING {n}");
                r.flush().unwrap();
                println!("FLUSHED {n}");
            }
        }
        // The background writer alone, on a short interval, under a steady trickle of new
        // streams `0`, `1`, ... each created at the wall-clock time it was added.
        "trickle" => {
            let r = Registry::open(
                path,
                RegistryOptions::default().flush_interval(TRICKLE_INTERVAL),
            )
            .unwrap();
            let round: u32 = std::env::var(ROUND).unwrap().parse().unwrap();
            for i in 0u64.. {
                let key =
                    StreamKey::new("crash", StreamKind::Group, &format!("{round}-{i}")).unwrap();
                r.upsert(key, None, None, now_ms()).unwrap();
                if i % TRICKLE_REPORT == 0 {
                    println!("ADDED {i}");
                }
                // Pacing of the workload (a chat feed), not synchronisation.
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        // A second writer on the same file, as a running MaiBot would be: write transactions
        // that hold the lock `hold` ms each, `gap` ms apart, until stdin closes.
        "second-writer" => {
            let spec = std::env::var(WRITER).unwrap();
            let parts: Vec<&str> = spec.split(',').collect();
            second_writer(
                Path::new(path),
                parts[0] == "maibot",
                Duration::from_millis(parts[1].parse().unwrap()),
                Duration::from_millis(parts[2].parse().unwrap()),
            );
            std::process::exit(0);
        }
        other => panic!("unknown mode {other}"),
    }
    std::io::Write::flush(&mut out.lock()).unwrap();
    // Wait to be killed; if the parent goes away first, its end of stdin closes and we exit.
    let _ = std::io::stdin().read_line(&mut String::new());
    std::process::exit(3);
}

/// Runs the child in `mode`, waits for its "ready" line, and kills it (SIGKILL, no cleanup).
fn crash(mode: &str, path: &Path) {
    let mut child = Child::spawn(mode, path, &[]);
    loop {
        let line = child
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the child ended before it was ready");
        if line.trim() == "CHILD-READY" {
            break;
        }
    }
    child.kill_9();
}

#[test]
fn a_crash_loses_only_what_the_interval_had_not_written() {
    let path = temp_db("crash1");
    crash("interval-not-reached", &path);
    let r = Registry::open(&path, manual()).unwrap();
    assert_eq!(
        r.len(),
        20,
        "the flushed batch survives; the 10 streams of the unfinished interval are lost"
    );
    assert!(r.get_stream_by_group_id("19", "qq").unwrap().is_some());
    assert!(r.get_stream_by_group_id("20", "qq").unwrap().is_none());
    assert_eq!(
        r.get_group_streams("qq")
            .iter()
            .filter(|s| s.key.kind == StreamKind::Group)
            .count(),
        20
    );
}

#[test]
fn a_crash_after_the_interval_loses_nothing() {
    let path = temp_db("crash2");
    crash("interval-passed", &path);
    let r = Registry::open(&path, manual()).unwrap();
    assert_eq!(r.len(), 25);
}

// ---------------------------------------------------------------------------------------------
// The crash campaign: many kill -9s of a writer mid-flush, and a second writer on the same file.
//
// Rounds: `CHAT_STREAMS_CRASH_ROUNDS` (default 10, CI-sized), e.g.
// `CHAT_STREAMS_CRASH_ROUNDS=200 cargo test -p chat-streams --test persistence crash_campaign -- --nocapture`.
// The kill points come from `CHAT_STREAMS_CRASH_SEED` (default: the clock; printed, so a failing
// campaign can be replayed).

/// Streams per recognisable batch, and the groups every batch renames.
const BATCH: usize = 200;
const HOT: usize = 20;
/// The background writer's interval in the trickle child, and how often it reports progress.
const TRICKLE_INTERVAL: Duration = Duration::from_millis(50);
const TRICKLE_REPORT: u64 = 25;
/// Scheduling slack on top of the documented bound (one interval plus the write itself): the
/// parent's clock is read just before the kill, and a loaded 2-core machine can delay either
/// process.
const SLACK: Duration = Duration::from_secs(2);
/// Rounds that crash on the same file in turn (each recovers what the last kill left), before a
/// fresh file keeps the load time of a round flat.
const FILE_ROUNDS: u32 = 10;
const ROUND: &str = "CHAT_STREAMS_CRASH_ROUND";
const WRITER: &str = "CHAT_STREAMS_SECOND_WRITER";
const ROUNDS_VAR: &str = "CHAT_STREAMS_CRASH_ROUNDS";
const SEED_VAR: &str = "CHAT_STREAMS_CRASH_SEED";

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_millis()).unwrap()
}

fn rounds() -> u32 {
    std::env::var(ROUNDS_VAR).map_or(10, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{ROUNDS_VAR}={v} is not a number"))
    })
}

/// xorshift64*: enough to scatter kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn from_env(stream: u64) -> Self {
        let seed = std::env::var(SEED_VAR)
            .map_or_else(|_| u64::try_from(now_ms()).unwrap(), |v| v.parse().unwrap());
        eprintln!("{SEED_VAR}={seed}");
        Self((seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A child of this test binary in `mode`, with its stdout as lines (read on a thread, so the
/// child never blocks on a full pipe).
struct Child {
    process: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Child {
    fn spawn(mode: &str, path: &Path, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD, format!("{mode}|{}", path.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut process = command.spawn().unwrap();
        let out = BufReader::new(process.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { process, lines }
    }

    /// The next line starting with `prefix`, parsed after it (a hang guard, not a sleep: the
    /// child signals).
    fn next(&self, prefix: &str) -> u64 {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("no {prefix:?} line from the child: {e}"));
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return rest.trim().parse().unwrap();
            }
        }
    }

    /// SIGKILL: no destructor, no close, no flush. Returns the lines the child wrote that were
    /// not read yet.
    fn kill_9(&mut self) -> Vec<String> {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
        // The reader thread ends at the end of the pipe, dropping its sender.
        self.lines.iter().collect()
    }

    /// Closes the child's stdin (its signal to stop) and waits for a clean exit.
    fn finish(&mut self) -> bool {
        drop(self.process.stdin.take());
        self.process.wait().unwrap().success()
    }
}

/// A failing test never leaves a writer behind.
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The number after `prefix` on the last such line.
fn last_number(lines: &[String], prefix: &str) -> Option<u64> {
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(prefix))
        .map(|n| n.trim().parse().unwrap())
}

/// The file opens and passes SQLite's integrity check.
fn check_integrity(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "integrity check of {}", path.display());
    conn
}

/// The file opens, passes SQLite's integrity check, and loads as a registry.
fn check_opens(path: &Path) -> rusqlite::Connection {
    let conn = check_integrity(path);
    drop(Registry::open(path, manual()).expect("the file opens after a kill -9"));
    conn
}

#[test]
fn crash_campaign_kill_9_mid_flush_never_leaves_a_partial_batch() {
    let rounds = rounds();
    let mut rng = Rng::from_env(1);
    let mut path = PathBuf::new();
    let (mut inside_before_commit, mut inside_after_commit, mut between_flushes) = (0, 0, 0);
    let mut total_batches = 0;
    for round in 0..rounds {
        if round % FILE_ROUNDS == 0 {
            path = temp_db("campaign-batches");
        }
        let mut child = Child::spawn("batches", &path, &[(ROUND, round.to_string())]);
        // Kill once the child has started flushing batch `target`, after a random part of a
        // flush (the delay only scatters the kill point; nothing waits on it).
        let target = rng.below(4);
        let mut lines = Vec::new();
        loop {
            let line = child.lines.recv_timeout(Duration::from_secs(60)).unwrap();
            let done = line == format!("FLUSHING {target}");
            lines.push(line);
            if done {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        lines.extend(child.kill_9());
        // What the child said before it died: the last flush it started, and the last one it
        // saw succeed.
        let flushing = last_number(&lines, "FLUSHING ");
        let acked = last_number(&lines, "FLUSHED ");
        let conn = check_opens(&path);
        let mut per_batch: std::collections::BTreeMap<u64, (usize, Vec<String>)> =
            std::collections::BTreeMap::new();
        let mut stmt = conn
            .prepare("SELECT target_id, group_name FROM streams WHERE target_id LIKE ?1")
            .unwrap();
        let rows = stmt
            .query_map([format!("{round}-%")], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap();
        for row in rows {
            let (target_id, name) = row.unwrap();
            let n: u64 = target_id.split('-').nth(1).unwrap().parse().unwrap();
            let entry = per_batch.entry(n).or_default();
            entry.0 += 1;
            entry.1.push(name);
        }
        for (n, (count, names)) in &per_batch {
            assert_eq!(*count, BATCH, "round {round}: batch {n} is partial");
            assert!(names.iter().all(|x| *x == format!("{round} {n}")));
        }
        let batches: Vec<u64> = per_batch.keys().copied().collect();
        let last = batches.last().copied();
        assert_eq!(
            batches,
            (0..last.map_or(0, |l| l + 1)).collect::<Vec<_>>(),
            "round {round}: batches are written in order"
        );
        assert!(
            last >= acked,
            "round {round}: an acknowledged flush was lost (acked {acked:?}, found {last:?})"
        );
        assert!(last <= flushing, "round {round}: more than was flushed");
        let hot: Vec<String> = conn
            .prepare("SELECT group_name FROM streams WHERE target_id LIKE 'hot-%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if let Some(l) = last {
            assert_eq!(hot.len(), HOT);
            assert!(
                hot.iter().all(|x| *x == format!("{round} {l}")),
                "round {round}: the renames of batch {l} are partial: {hot:?}"
            );
        } else {
            assert!(
                hot.iter().all(|x| !x.starts_with(&format!("{round} "))),
                "round {round}: renames without their batch: {hot:?}"
            );
        }
        if acked == flushing {
            between_flushes += 1;
        } else if last == flushing {
            inside_after_commit += 1;
        } else {
            inside_before_commit += 1;
        }
        total_batches += last.map_or(0, |l| l + 1);
    }
    eprintln!(
        "crash campaign (batches): {rounds} kill -9s: {inside_before_commit} inside a flush \
         before its commit, {inside_after_commit} inside a flush after its commit, \
         {between_flushes} between flushes; {total_batches} whole batches of {BATCH} found, \
         0 partial"
    );
    if rounds >= 10 {
        assert!(inside_before_commit > 0, "no kill landed inside a flush");
    }
}

#[test]
fn crash_campaign_kill_9_loses_at_most_the_interval() {
    let rounds = rounds();
    let mut rng = Rng::from_env(2);
    let mut path = PathBuf::new();
    let (mut max_loss_ms, mut max_lost) = (0i64, 0i64);
    for round in 0..rounds {
        if round % FILE_ROUNDS == 0 {
            path = temp_db("campaign-trickle");
        }
        let mut child = Child::spawn("trickle", &path, &[(ROUND, round.to_string())]);
        assert_eq!(child.next("ADDED "), 0);
        let start_ms = now_ms();
        let reports = 2 + rng.below(40);
        let added = loop {
            let i = child.next("ADDED ");
            if i >= reports * TRICKLE_REPORT {
                break i;
            }
        };
        let kill_ms = now_ms();
        child.kill_9();

        let conn = check_opens(&path);
        let mut found: Vec<(u64, i64)> = conn
            .prepare("SELECT target_id, created_at_ms FROM streams WHERE target_id LIKE ?1")
            .unwrap()
            .query_map([format!("{round}-%")], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .unwrap()
            .map(|r| {
                let (t, at) = r.unwrap();
                (t.split_once('-').unwrap().1.parse().unwrap(), at)
            })
            .collect();
        found.sort_unstable();
        // Each flush writes everything dirty at once, so what survives is a prefix.
        assert!(
            found.iter().enumerate().all(|(k, (i, _))| *i == k as u64),
            "round {round}: a hole in the written streams"
        );
        let newest = found.last().map_or(start_ms, |&(_, at)| at);
        let loss_ms = kill_ms - newest;
        let lost = i64::try_from(added).unwrap() + 1 - i64::try_from(found.len()).unwrap();
        assert!(
            loss_ms <= i64::try_from((TRICKLE_INTERVAL + SLACK).as_millis()).unwrap(),
            "round {round}: lost {loss_ms} ms of activity ({lost} streams), more than the \
             {TRICKLE_INTERVAL:?} interval"
        );
        max_loss_ms = max_loss_ms.max(loss_ms);
        max_lost = max_lost.max(lost);
    }
    eprintln!(
        "crash campaign (interval {TRICKLE_INTERVAL:?}): {rounds} kill -9s, at most {max_loss_ms} ms \
         of activity lost ({max_lost} streams), no hole"
    );
}

/// The second-writer child: write transactions on the registry's tables (or on MaiBot's
/// `chat_streams`), each holding the lock `hold`, `gap` apart, until the parent closes stdin.
fn second_writer(path: &Path, maibot: bool, hold: Duration, gap: Duration) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_line(&mut String::new());
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(60)).unwrap();
    let mut round = 0i64;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        if maibot {
            // As MaiBot's peewee model writes a stream.
            conn.execute(
                r#"INSERT INTO "chat_streams" ("stream_id", "create_time", "group_platform", "group_id",
                     "group_name", "last_active_time", "platform", "user_platform", "user_id",
                     "user_nickname", "user_cardname")
                 VALUES ('other-' || ?1, ?2, 'qq', ?1, 'g', ?2, 'qq', 'qq', '', '', '')
                 ON CONFLICT ("stream_id") DO UPDATE SET "last_active_time" = excluded."last_active_time""#,
                rusqlite::params![round % 10, round],
            )
            .unwrap();
        } else {
            conn.execute(
                "INSERT INTO streams (pk, stream_id, platform, kind, target_id, created_at_ms, last_active_at_ms)
                 VALUES (?1, 'other-' || ?1, 'other', 'group', ?1, ?2, ?2)
                 ON CONFLICT (pk) DO UPDATE SET last_active_at_ms = excluded.last_active_at_ms",
                rusqlite::params![1_000_000 + round % 10, round],
            )
            .unwrap();
            conn.execute(
                "INSERT OR REPLACE INTO registry_meta (key, value) VALUES ('other', ?1)",
                [round.to_string()],
            )
            .unwrap();
        }
        println!("LOCKED {round}");
        std::thread::sleep(hold); // the other process's work inside its transaction
        conn.execute_batch("COMMIT").unwrap();
        println!("COMMITTED {round}");
        std::thread::sleep(gap);
        round += 1;
    }
}

#[test]
fn a_second_writer_never_surfaces_database_is_locked() {
    let path = temp_db("second-writer");
    let registry = Registry::open(&path, RegistryOptions::default()).unwrap();
    let mut writer = Child::spawn("second-writer", &path, &[(WRITER, "registry,150,5".into())]);
    let flushes = 20;
    for k in 0..flushes {
        // Flush while the other process holds the write lock.
        writer.next("LOCKED ");
        add_groups(&registry, "qq", k * 10..(k + 1) * 10);
        let written = registry
            .flush()
            .unwrap_or_else(|e| panic!("flush {k} under a second writer: {e}"));
        assert_eq!(written, 10);
    }
    // Opening, and closing, while the other process holds the lock.
    writer.next("LOCKED ");
    let again = Registry::open(&path, RegistryOptions::default())
        .unwrap_or_else(|e| panic!("open under a second writer: {e}"));
    assert!(again.len() >= usize::try_from(flushes * 10).unwrap());
    drop(again);
    writer.next("LOCKED ");
    add_groups(&registry, "qq", 1000..1010);
    registry
        .close()
        .unwrap_or_else(|e| panic!("close under a second writer: {e}"));
    assert!(writer.finish());
    let conn = check_opens(&path);
    let ours: i64 = conn
        .query_row(
            "SELECT count(*) FROM streams WHERE platform = 'qq'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ours, i64::from(flushes * 10 + 10));
    let theirs: i64 = conn
        .query_row(
            "SELECT count(*) FROM streams WHERE platform = 'other'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(theirs > 0);
}

/// Exports to a MaiBot file while MaiBot writes it, in WAL (how `create_legacy` makes it) and in
/// the rollback journal (SQLite's default, for a file MaiBot opened without WAL).
#[test]
fn exporting_to_a_maibot_file_that_maibot_is_writing() {
    for journal in ["wal", "delete"] {
        let path = temp_db(&format!("maibot-{journal}"));
        drop(MaiBotDb::create_legacy(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row(&format!("PRAGMA journal_mode = {journal}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(mode, journal);
        drop(conn);
        let registry = Registry::in_memory(RegistryOptions::default());
        let mut maibot = Child::spawn("second-writer", &path, &[(WRITER, "maibot,150,5".into())]);
        let rounds = 10;
        for k in 0..rounds {
            maibot.next("LOCKED ");
            add_groups(&registry, "qq", k * 10..(k + 1) * 10);
            let mut db = MaiBotDb::open(&path, time::UtcOffset::UTC)
                .unwrap_or_else(|e| panic!("{journal}: open {k} while MaiBot writes: {e}"));
            let written = registry
                .export_maibot(&mut db)
                .unwrap_or_else(|e| panic!("{journal}: export {k} while MaiBot writes: {e}"));
            assert_eq!(written, usize::try_from((k + 1) * 10).unwrap());
        }
        assert!(maibot.finish());
        let conn = check_integrity(&path);
        let ours: i64 = conn
            .query_row(
                "SELECT count(*) FROM chat_streams WHERE stream_id NOT LIKE 'other-%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ours, i64::from(rounds * 10), "{journal}");
    }
}
