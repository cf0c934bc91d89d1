//! End to end and at scale, over loopback: the real [`ChatClient`] (its HTTP live-status and
//! access-token calls, its socket handshake and join, its decoding and delivery) against a
//! local Chzzk server. `cargo xtask bench` builds this binary once and runs each role in its
//! own process, so each client's CPU time and memory are its own:
//!
//! ```text
//! loopback serve --spec FILE [--push N]     the server: prints {"port": P}; stops at stdin's end
//! loopback e2e --port P --spec FILE --lines N [--runtime multi]
//!                                           one client (current-thread runtime unless
//!                                           `multi`); counts N chat events, then reports
//! loopback scale --port P --spec FILE --connections N [--idle-seconds S] [--concurrency C]
//!                                           N clients in one process, connected then idle
//! ```
//!
//! The spec file (`target/bench/chzzk-e2e.json`, written by `cargo xtask bench` from
//! `fixtures/chzzk/chat_lines.jsonl`) holds the channel id, the live-status and access-token
//! answers, and the chat lines the server pushes (their times rewritten so each is new). Every
//! role prints one JSON object as its last stdout line. Time is user + system CPU time from
//! `/proc/self/stat` (all threads); memory is `VmRSS` and `VmHWM` from `/proc/self/status`.

mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chzzk_chat::{ChatClient, Endpoints, Event, Events, Timing};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: u64| {
        opt(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} {v}: not a number"))
        })
    };
    let spec_path = || opt("--spec").expect("--spec FILE");
    let port = || u16::try_from(num("--port", 0)).expect("--port P");
    match args.first().map(String::as_str) {
        Some("serve") => server::run(server::Spec::load(&spec_path()), num("--push", 0)),
        Some("e2e") => e2e(
            port(),
            &channel_id(&spec_path()),
            num("--lines", 1_000_000),
            opt("--runtime").as_deref() == Some("multi"),
        ),
        Some("scale") => scale(
            port(),
            &channel_id(&spec_path()),
            usize::try_from(num("--connections", 1000)).unwrap_or(usize::MAX),
            Duration::from_secs(num("--idle-seconds", 40)),
            usize::try_from(num("--concurrency", 200)).unwrap_or(200),
        ),
        // `cargo bench` runs every bench target with `--bench`: this one needs a driver.
        _ => eprintln!(
            "loopback: run by `cargo xtask bench` (roles: serve, e2e, scale; see the file's docs)"
        ),
    }
}

fn channel_id(spec: &str) -> String {
    let text = std::fs::read_to_string(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{spec}: {e}"));
    doc["channel_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{spec}: no channel_id"))
        .to_owned()
}

/// This process's user + system CPU seconds, all threads (`/proc/self/stat`, at the usual
/// 100 ticks a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    // Fields 14 and 15 (utime, stime); `rest` starts at field 3.
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let seconds = ticks as f64 / 100.0;
    seconds
}

/// A `/proc/self/status` figure in KiB (`VmRSS`, `VmHWM`).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn endpoints(port: u16) -> Endpoints {
    Endpoints::local(
        &format!("http://127.0.0.1:{port}"),
        &format!("ws://127.0.0.1:{port}"),
    )
}

/// One client, default settings but the endpoints, on a current-thread runtime (one core, as
/// chzzkpy's asyncio loop): connect, then count chat events until `lines` have arrived.
fn e2e(port: u16, channel_id: &str, lines: u64, multi: bool) {
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    .expect("a tokio runtime");
    let report = rt.block_on(async {
        let client = ChatClient::builder(channel_id)
            .endpoints(endpoints(port))
            .build();
        let cpu_start = cpu_seconds();
        let start = Instant::now();
        let mut events = client.connect().await.expect("the join");
        let connected = start.elapsed();
        let mut chat = 0u64;
        let mut other = 0u64;
        let mut errors = 0u64;
        while chat < lines {
            match events.next().await {
                Some(Ok(Event::Chat(m))) => {
                    std::hint::black_box(m);
                    chat += 1;
                }
                Some(Ok(_)) => other += 1,
                Some(Err(_)) => errors += 1,
                None => break,
            }
        }
        let seconds = start.elapsed().as_secs_f64() - connected.as_secs_f64();
        let cpu = cpu_seconds() - cpu_start;
        let _ = client.close().await;
        #[allow(clippy::cast_precision_loss)]
        let per_s = chat as f64 / seconds;
        #[allow(clippy::cast_precision_loss)]
        let cpu_per_million = cpu / chat.max(1) as f64 * 1e6;
        json!({
            "events": chat,
            "other_events": other,
            "errors": errors,
            "connect_ms": connected.as_secs_f64() * 1e3,
            "seconds": seconds,
            "events_per_s": per_s,
            "cpu_seconds": cpu,
            "cpu_seconds_per_million": cpu_per_million,
            "peak_rss_kib": status_kib("VmHWM"),
            "runtime": if multi { "tokio multi_thread, default workers" } else { "tokio current_thread" },
        })
    });
    println!("{report}");
}

/// `connections` clients in this process, each to its own channel, joined `concurrency` at a
/// time; then idle for `idle` (keepalive only: the live-status poll is off), every event
/// drained by one task.
fn scale(port: u16, channel_id: &str, connections: usize, idle: Duration, concurrency: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let report = rt.block_on(async {
        let timing = Timing::default().live_poll(None);
        // The default keepalive: a client pings after this much silence.
        let ping_after = Duration::from_secs(20);
        let rss_before = status_kib("VmRSS");
        let start = Instant::now();
        let endpoints = endpoints(port);
        // One task drains every client's events from its join on (a multi-channel logger's
        // shape), counting what is not a join (a reconnect would show there).
        let (streams_tx, mut streams_rx) = tokio::sync::mpsc::unbounded_channel::<Events>();
        let other = Arc::new(AtomicU64::new(0));
        let drain = {
            let other = Arc::clone(&other);
            tokio::spawn(async move {
                let mut all = futures_util::stream::SelectAll::new();
                let mut open = true;
                let mut joins = 0u64;
                while open || !all.is_empty() {
                    tokio::select! {
                        s = streams_rx.recv(), if open => match s {
                            Some(s) => all.push(s),
                            None => open = false,
                        },
                        item = all.next(), if !all.is_empty() => match item {
                            Some(Ok(Event::Connected(_))) => joins += 1,
                            Some(_) => {
                                other.fetch_add(1, Ordering::Relaxed);
                            }
                            None => {}
                        },
                    }
                }
                joins
            })
        };
        let clients: Vec<ChatClient> = futures_util::stream::iter(0..connections)
            .map(|i| {
                // Distinct channel ids, so each client holds its own strings.
                let id = format!("{}{i:08x}", &channel_id[..channel_id.len().min(24)]);
                let client = ChatClient::builder(id)
                    .endpoints(endpoints.clone())
                    .timing(timing.clone())
                    .build();
                let streams_tx = streams_tx.clone();
                async move {
                    let events = client.connect().await.expect("a join");
                    let _ = streams_tx.send(events);
                    client
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        drop(streams_tx);
        let connect_seconds = start.elapsed().as_secs_f64();
        let rss_connected = status_kib("VmRSS");
        let cpu_start = cpu_seconds();
        let idle_start = Instant::now();
        tokio::time::sleep(idle).await;
        let idle_seconds = idle_start.elapsed().as_secs_f64();
        let idle_cpu = cpu_seconds() - cpu_start;
        let rss_idle = status_kib("VmRSS");
        let connected_now = clients.iter().filter(|c| c.is_connected()).count();
        let other = other.load(Ordering::Relaxed);
        futures_util::future::join_all(clients.iter().map(ChatClient::close)).await;
        let joins = drain.await.unwrap_or_default();
        #[allow(clippy::cast_precision_loss)]
        let n = connections.max(1) as f64;
        #[allow(clippy::cast_precision_loss)]
        let per_conn = |rss: u64| (rss.saturating_sub(rss_before)) as f64 / n;
        json!({
            "connections": connections,
            "concurrency": concurrency,
            "connect_seconds": connect_seconds,
            "rss_before_kib": rss_before,
            "rss_connected_kib": rss_connected,
            "rss_idle_kib": rss_idle,
            "kib_per_connection": per_conn(rss_connected),
            "kib_per_connection_after_idle": per_conn(rss_idle),
            "idle_seconds": idle_seconds,
            "idle_cpu_seconds": idle_cpu,
            "idle_cpu_percent": idle_cpu / idle_seconds * 100.0,
            "ping_after_seconds": ping_after.as_secs_f64(),
            "still_connected": connected_now,
            "joins_seen": joins,
            "other_events_while_idle": other,
            "peak_rss_kib": status_kib("VmHWM"),
            "runtime": "tokio multi_thread, default workers",
        })
    });
    println!("{report}");
}
