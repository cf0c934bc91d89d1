//! chat-streams at scale: lookups, ingest, flush and cold load, next to the reference's linear
//! scan on the same data. Prints one JSON object; `cargo xtask bench` runs it and renders the
//! table.
//!
//! ```text
//! cargo bench -p chat-streams --bench registry            # 1,000,000 streams
//! STREAMS=100000 cargo bench -p chat-streams --bench registry
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_streams::chatwire_core::{Author, ChannelKind, ChannelRef, ChatMessage, Platform};

use chat_streams::{ChatStream, Registry, RegistryOptions};

const PLATFORMS: [Platform; 3] = [Platform::Chzzk, Platform::StackExchange, Platform::LiveKit];

/// The `i`th normalised message: one stream per `i`, nine in ten of them groups.
fn message(i: usize) -> ChatMessage {
    let platform = PLATFORMS[i % PLATFORMS.len()];
    let channel = if i % 10 == 9 {
        ChannelRef::direct(format!("user-{i}"))
    } else {
        ChannelRef::group(format!("group-{i}")).with_name(format!("room {i}"))
    };
    ChatMessage::new(
        platform,
        channel,
        Author::new(format!("user-{i}"), Some(format!("name {i}"))),
        "hello",
    )
}

/// A deterministic sequence (xorshift64*), so every run looks up the same keys.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        #[allow(clippy::cast_possible_truncation)]
        let x = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as usize;
        x % n
    }
}

/// p50 and p99 of per-call times, in nanoseconds.
fn percentiles(mut ns: Vec<u128>) -> (u128, u128) {
    ns.sort_unstable();
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((ns.len() as f64 - 1.0) * q).round() as usize;
        ns[i]
    };
    (at(0.50), at(0.99))
}

/// Times `f` on `n` inputs made by `input` (outside the timed region).
fn time_each<I>(
    n: usize,
    mut input: impl FnMut(&mut Rng) -> I,
    mut f: impl FnMut(&I),
) -> (u128, u128) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let i = input(&mut rng);
        let start = Instant::now();
        f(&i);
        out.push(start.elapsed().as_nanos());
    }
    percentiles(out)
}

fn group_key(rng: &mut Rng, n: usize) -> (String, &'static str) {
    let i = group_index(rng, n);
    (
        format!("group-{i}"),
        PLATFORMS[i % PLATFORMS.len()].as_str(),
    )
}

fn group_index(rng: &mut Rng, n: usize) -> usize {
    loop {
        let i = rng.below(n);
        if i % 10 != 9 {
            return i;
        }
    }
}

fn user_index(rng: &mut Rng, n: usize) -> usize {
    (rng.below(n / 10).max(1) * 10 - 1).min(n - 1)
}

/// MaiBot's `get_stream_by_group_id`: a scan over every stream (its dict's values, each a
/// reference to an object, as the `Arc`s here).
fn linear_by_group<'a>(
    all: &'a [Arc<ChatStream>],
    group_id: &str,
    platform: &str,
) -> Option<&'a Arc<ChatStream>> {
    all.iter().find(|s| {
        s.platform == platform
            && s.group_info
                .as_ref()
                .is_some_and(|g| g.group_id == group_id)
    })
}

fn rate(n: usize, d: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let r = n as f64 / d.as_secs_f64();
    r
}

fn main() {
    let n: usize = std::env::var("STREAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
        .max(10);
    let messages: Vec<ChatMessage> = (0..n).map(message).collect();
    let registry = Registry::in_memory(RegistryOptions::default());

    // Ingest: every message creates its stream; then the same messages again touch them.
    let start = Instant::now();
    for m in &messages {
        registry.ingest_message(m).expect("valid message");
    }
    let create = start.elapsed();
    let start = Instant::now();
    for m in &messages {
        registry.ingest_message(m).expect("valid message");
    }
    let touch = start.elapsed();
    // A chat logger's pattern: a million messages to the same thousand busy channels.
    let hot: Vec<&ChatMessage> = messages
        .iter()
        .filter(|m| m.channel.kind == ChannelKind::Group)
        .take(1000)
        .collect();
    let start = Instant::now();
    for m in hot.iter().cycle().take(n) {
        registry.ingest_message(m).expect("valid message");
    }
    let hot_time = start.elapsed();

    let lookups = 200_000;
    let by_group = time_each(
        lookups,
        |rng| group_key(rng, n),
        |(id, platform)| {
            let found = registry
                .get_stream_by_group_id(id, *platform)
                .expect("valid id");
            assert!(black_box(found).is_some());
        },
    );
    let by_user = time_each(
        lookups,
        |rng| {
            let i = user_index(rng, n);
            (format!("user-{i}"), PLATFORMS[i % PLATFORMS.len()].as_str())
        },
        |(id, platform)| {
            let found = registry
                .get_stream_by_user_id(id, *platform)
                .expect("valid id");
            assert!(black_box(found).is_some());
        },
    );
    let all = registry.get_all_streams(chat_streams::PlatformFilter::All);
    let linear = time_each(
        200,
        |rng| group_key(rng, n),
        |(id, platform)| {
            assert!(black_box(linear_by_group(&all, id, platform)).is_some());
        },
    );
    registry.close().expect("in memory");

    // Flush: 100,000 dirty streams (or all, when fewer) written by one flush.
    let dir = std::env::temp_dir().join(format!("chat-streams-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("streams.db");
    let options = RegistryOptions::default().flush_interval(Duration::from_secs(3600));
    let dirty = n.min(100_000);
    let on_disk = Registry::open(&path, options.clone()).expect("open");
    for m in &messages {
        on_disk.ingest_message(m).expect("valid message");
    }
    let start = Instant::now();
    on_disk.flush().expect("flush");
    let flush_all = start.elapsed();
    for m in messages.iter().take(dirty) {
        on_disk.ingest_message(m).expect("valid message");
    }
    let start = Instant::now();
    let written = on_disk.flush().expect("flush");
    let flush_dirty = start.elapsed();
    on_disk.close().expect("close");
    assert_eq!(written, dirty);

    // Cold load: open the file holding every stream.
    let start = Instant::now();
    let reopened = Registry::open(&path, options).expect("reopen");
    let cold = start.elapsed();
    assert_eq!(reopened.len(), n);
    reopened.close().expect("close");
    let _ = std::fs::remove_dir_all(&dir);

    let report = serde_json::json!({
        "streams": n,
        "ingest_create_per_s": rate(n, create),
        "ingest_touch_per_s": rate(n, touch),
        "ingest_hot_per_s": rate(n, hot_time),
        "lookup_group_ns": {"p50": by_group.0, "p99": by_group.1},
        "lookup_user_ns": {"p50": by_user.0, "p99": by_user.1},
        "reference_linear_scan_ns": {"p50": linear.0, "p99": linear.1},
        "flush_dirty": {"streams": dirty, "seconds": flush_dirty.as_secs_f64()},
        "flush_all": {"streams": n, "seconds": flush_all.as_secs_f64()},
        "cold_load_seconds": cold.as_secs_f64(),
    });
    println!("{report}");
}
