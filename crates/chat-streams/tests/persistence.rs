//! The registry's own SQLite file: round trips, batching, a locked database, and a crash of
//! the writing process.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chat_streams::{GroupInfo, PlatformFilter, Registry, RegistryOptions, StreamKind, UserInfo};

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
    RegistryOptions::default().with_flush_interval(Duration::from_secs(3600))
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
        RegistryOptions::default().with_flush_interval(Duration::from_millis(20)),
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
    let r = Registry::open(&path, manual().with_busy_timeout(Duration::from_millis(50))).unwrap();
    add_groups(&r, "qq", 0..3);
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "BEGIN IMMEDIATE; INSERT INTO registry_meta (key, value) VALUES ('lock', 'held');",
        )
        .unwrap();
    let err = r.flush().unwrap_err();
    assert!(err.is_retryable(), "{err}");
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
    match mode {
        // Explicit flush of a first batch, then a second batch that only the (hour-long)
        // interval would write.
        "interval-not-reached" => {
            let r = Registry::open(path, manual()).unwrap();
            add_groups(&r, "qq", 0..20);
            r.flush().unwrap();
            add_groups(&r, "qq", 20..30);
            println!("\nCHILD-READY");
        }
        // The background writer alone, on a short interval.
        "interval-passed" => {
            let r = Registry::open(
                path,
                RegistryOptions::default().with_flush_interval(Duration::from_millis(20)),
            )
            .unwrap();
            add_groups(&r, "qq", 0..25);
            assert!(r.wait_flushed(Duration::from_secs(10)));
            println!("\nCHILD-READY");
            std::mem::forget(r);
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
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, format!("{mode}|{}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.trim() == "CHILD-READY" => break,
            Some(Ok(_)) => {}
            other => panic!("the child ended before it was ready: {other:?}"),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
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
