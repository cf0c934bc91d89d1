//! `cargo xtask bench`: the speed and scale goals, measured side by side with the reference
//! clients, as a table and a JSON report (`target/bench/report.json`).
//!
//! Each measurement is a `harness = false` bench target of its crate (built in release by
//! `cargo bench`) that prints one JSON object; the Python comparisons run in the interop venv.
//! End to end and at scale (the `loopback` module), a loopback server and each client run as
//! processes of their own, so every client's CPU time and memory are its own.
//! Goals are shown as met or not; nothing here fails on a missed goal (speed goals live in
//! benchmarks, not in tests).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::{cargo, last_json, project_root, stdout_of};

mod loopback;

/// One line of the table.
struct Row {
    area: &'static str,
    metric: String,
    value: String,
    goal: String,
    met: Option<bool>,
}

fn row(area: &'static str, metric: impl Into<String>, value: impl Into<String>) -> Row {
    Row {
        area,
        metric: metric.into(),
        value: value.into(),
        goal: String::new(),
        met: None,
    }
}

impl Row {
    fn goal(mut self, goal: impl Into<String>, met: bool) -> Self {
        self.goal = goal.into();
        self.met = Some(met);
        self
    }
}

/// Runs a bench target and parses the JSON object on its last stdout line.
fn cargo_bench(package: &str, bench: &str, env: &[(&str, String)]) -> Result<Value, String> {
    // Benches that time the codec alone need it public (the `unstable-proto` feature).
    let feature = format!("{package}/unstable-proto");
    println!("==> cargo bench -p {package} --bench {bench} --features {feature}");
    let mut c = cargo();
    c.args([
        "bench",
        "--locked",
        "-p",
        package,
        "--bench",
        bench,
        "--features",
        &feature,
    ]);
    for (k, v) in env {
        c.env(k, v);
    }
    let what = format!("{package}/{bench}");
    last_json(&stdout_of(c, &what)?, &what)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M/s", x / 1e6)
    } else {
        format!("{:.0} k/s", x / 1e3)
    }
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({"cpu": model, "cores": cores, "rustc": rustc, "date": date})
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    for a in args {
        match a.as_str() {
            "--quick" => quick = true,
            other => return Err(format!("unknown argument {other:?} for bench")),
        }
    }
    let dir = project_root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let env = crate::interop::prepare()?;
    let mut rows = Vec::new();
    let mut report = serde_json::Map::new();
    report.insert("machine".into(), machine());
    let seconds = if quick { "1" } else { "3" }.to_owned();

    // 1. Decode: Chzzk frames, ours against the serde_json::Value floor and chzzkpy.
    let frames = dir.join("chzzk-frames.json");
    let n = crate::interop::chzzk::write_bench_frames(&frames)?;
    println!("({n} Chzzk frames from fixtures/chzzk)");
    let ours = cargo_bench(
        "chzzk-chat",
        "decode",
        &[("FRAMES", path(&frames)), ("SECONDS", seconds.clone())],
    )?;
    let theirs = {
        println!("==> chzzkpy 2.2.0 on the same frames");
        env.python_json("bench_chzzkpy.py", &[&path(&frames), &seconds])?
    };
    let ours_fps = f(&ours["ours"]["frames_per_s"]);
    let vs_floor = f(&ours["cost_ratio_vs_floor"]);
    let vs_ref = ours_fps / f(&theirs["frames_per_s"]);
    rows.push(row(
        "decode",
        "Chzzk frames → typed events",
        format!(
            "{} ({:.0} MB/s)",
            rate(ours_fps),
            f(&ours["ours"]["mb_per_s"])
        ),
    ));
    rows.push(
        row(
            "decode",
            "  cost relative to the serde_json::Value floor",
            format!("{vs_floor:.2}×"),
        )
        .goal("≤ 1.5×", vs_floor <= 1.5),
    );
    rows.push(row(
        "decode",
        "  chzzkpy 2.2.0 on the same frames",
        rate(f(&theirs["frames_per_s"])),
    ));
    rows.push(
        row("decode", "  ours / chzzkpy", format!("{vs_ref:.0}×")).goal("≥ 100×", vs_ref >= 100.0),
    );
    // Built now, while chzzk-chat's dependencies are compiled with the same features.
    let exe = loopback::build()?;
    report.insert(
        "chzzk_decode".into(),
        json!({"ours": ours, "chzzkpy": theirs}),
    );

    // 1. Decode: LiveKit legacy JSON and text-stream packets (floor: serde_json::Value, and the
    // bare protobuf decode), the legacy payloads also through the Python SDK.
    let payloads = dir.join("livekit-payloads.json");
    let lk = cargo_bench(
        "livekit-chat",
        "decode",
        &[
            ("PAYLOADS_OUT", path(&payloads)),
            ("SECONDS", seconds.clone()),
        ],
    )?;
    let py = {
        println!("==> livekit 0.21.3 (Python) on the same legacy payloads");
        env.python_json("bench_livekit_python.py", &[&path(&payloads), &seconds])?
    };
    for size in ["short", "1k", "40k"] {
        let l = &lk["legacy"][size];
        let ours = f(&l["ours"]["msgs_per_s"]);
        let theirs = f(&py["legacy"][size]["msgs_per_s"]);
        rows.push(row(
            "decode",
            format!("LiveKit legacy JSON, {size}"),
            format!(
                "{} ({:.2}× floor; Python SDK {:.1}× slower)",
                rate(ours),
                f(&l["cost_ratio_vs_floor"]),
                ours / theirs
            ),
        ));
    }
    for size in ["short", "1k", "40k"] {
        let l = &lk["stream"][size];
        rows.push(row(
            "decode",
            format!(
                "LiveKit text stream, {size} ({} packets)",
                l["packets_per_message"]
            ),
            format!(
                "{} ({:.1}× bare protobuf decode)",
                rate(f(&l["ours"]["msgs_per_s"])),
                f(&l["cost_ratio_vs_floor"])
            ),
        ));
    }
    report.insert("livekit_decode".into(), json!({"ours": lk, "python": py}));

    // 4. chat-streams at scale.
    let streams = if quick { "100000" } else { "1000000" }.to_owned();
    let s = cargo_bench("chat-streams", "registry", &[("STREAMS", streams.clone())])?;
    let p99_group = f(&s["lookup_group_ns"]["p99"]);
    let p99_user = f(&s["lookup_user_ns"]["p99"]);
    let ingest = f(&s["ingest_touch_per_s"]);
    let flush = f(&s["flush_dirty"]["seconds"]);
    let scan = f(&s["reference_linear_scan_ns"]["p50"]);
    rows.push(
        row(
            "chat-streams",
            format!("lookup by group id, {streams} streams (p50 / p99)"),
            format!(
                "{:.2} / {:.2} µs",
                f(&s["lookup_group_ns"]["p50"]) / 1e3,
                p99_group / 1e3
            ),
        )
        .goal("p99 < 2 µs", p99_group < 2000.0),
    );
    rows.push(
        row(
            "chat-streams",
            "lookup by user id (p50 / p99)",
            format!(
                "{:.2} / {:.2} µs",
                f(&s["lookup_user_ns"]["p50"]) / 1e3,
                p99_user / 1e3
            ),
        )
        .goal("p99 < 2 µs", p99_user < 2000.0),
    );
    rows.push(row(
        "chat-streams",
        "  the reference's linear scan (p50)",
        format!(
            "{:.0} µs ({:.0}× slower)",
            scan / 1e3,
            scan / f(&s["lookup_group_ns"]["p50"])
        ),
    ));
    let hot = f(&s["ingest_hot_per_s"]);
    rows.push(
        row("chat-streams", "ingest, 1,000 busy channels", rate(hot)).goal("≥ 1 M/s", hot >= 1e6),
    );
    rows.push(
        row(
            "chat-streams",
            format!("ingest, one message to each of {streams} streams"),
            rate(ingest),
        )
        .goal("≥ 1 M/s", ingest >= 1e6),
    );
    rows.push(row(
        "chat-streams",
        "ingest, messages creating streams",
        rate(f(&s["ingest_create_per_s"])),
    ));
    rows.push(
        row(
            "chat-streams",
            format!("flush {} dirty streams", s["flush_dirty"]["streams"]),
            format!("{flush:.2} s"),
        )
        .goal("< 1 s", flush < 1.0),
    );
    rows.push(row(
        "chat-streams",
        format!("cold load of {streams} streams"),
        format!("{:.2} s", f(&s["cold_load_seconds"])),
    ));
    report.insert("chat_streams".into(), s);

    // 2 and 3. End to end and at scale, over loopback (one release binary, a process for the
    // server and one for each client).
    let spec = dir.join("chzzk-e2e.json");
    let (templates, channel_id) = loopback::write_spec(&spec)?;
    println!("({templates} chat lines from fixtures/chzzk/chat_lines.jsonl)");
    let (ours_lines, theirs_lines) = if quick {
        (100_000, 20_000)
    } else {
        (1_000_000, 1_000_000)
    };
    let (ours, theirs) = loopback::e2e(&env, &exe, &spec, &channel_id, ours_lines, theirs_lines)?;
    e2e_rows(&mut rows, &ours, &theirs);
    report.insert(
        "end_to_end".into(),
        json!({"ours": ours, "chzzkpy": theirs, "frames": "cmd 93101, 1 to 5 lines each in turn (3 on average)", "templates": templates}),
    );

    let wanted: u64 = if quick { 1_000 } else { 10_000 };
    // Room for the runtime's own files and the server's listener.
    let connections =
        loopback::hard_fd_limit().map_or(wanted, |hard| wanted.min(hard.saturating_sub(64)));
    let idle = if quick { 20 } else { 40 };
    let s = loopback::scale(&exe, &spec, connections, idle)?;
    scale_rows(&mut rows, &s, 10_000);
    report.insert("scale".into(), s);

    println!(
        "\n{:<13} {:<52} {:<24} {:<12} met",
        "area", "metric", "value", "goal"
    );
    for r in &rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        println!(
            "{:<13} {:<52} {:<24} {:<12} {met}",
            r.area, r.metric, r.value, r.goal
        );
    }
    let table: Vec<Value> = rows
        .iter()
        .map(|r| json!({"area": r.area, "metric": r.metric, "value": r.value, "goal": r.goal, "met": r.met}))
        .collect();
    report.insert("table".into(), Value::Array(table));
    let out = dir.join("report.json");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "(report: {})",
        out.strip_prefix(project_root()).unwrap_or(&out).display()
    );
    Ok(())
}

/// The rows of part 2: each client's figures, then the ratios.
fn e2e_rows(rows: &mut Vec<Row>, ours: &Value, theirs: &Value) {
    let line = |v: &Value| {
        format!(
            "{}, {:.1} CPU s/M, {:.0} MB peak",
            rate(f(&v["events_per_s"])),
            f(&v["cpu_seconds_per_million"]),
            f(&v["peak_rss_kib"]) / 1024.0
        )
    };
    rows.push(row(
        "end to end",
        format!("{} lines over loopback → chzzk-chat", ours["events"]),
        line(ours),
    ));
    rows.push(row(
        "end to end",
        format!("  chzzkpy 2.2.0's ChatClient, {} lines", theirs["events"]),
        line(theirs),
    ));
    let speed = f(&ours["events_per_s"]) / f(&theirs["events_per_s"]);
    let cpu = f(&theirs["cpu_seconds_per_million"]) / f(&ours["cpu_seconds_per_million"]);
    rows.push(
        row(
            "end to end",
            "  ours / chzzkpy, events/s",
            format!("{speed:.1}×"),
        )
        .goal("≥ 50×", speed >= 50.0),
    );
    rows.push(
        row(
            "end to end",
            "  ours / chzzkpy, CPU per event",
            format!("{cpu:.1}× less"),
        )
        .goal("≥ 50×", cpu >= 50.0),
    );
}

/// The rows of part 3; the CPU goal is for `target` connections (a smaller run is scaled up
/// in proportion, and says so).
fn scale_rows(rows: &mut Vec<Row>, s: &Value, target: u64) {
    let n = s["connections"].as_u64().unwrap_or(0);
    let per = f(&s["kib_per_connection"]);
    rows.push(
        row(
            "scale",
            format!("{n} idle connections: RSS each"),
            format!(
                "{per:.1} KiB ({:.0} MB over {:.1} MB)",
                (f(&s["rss_connected_kib"]) - f(&s["rss_before_kib"])) / 1024.0,
                f(&s["rss_before_kib"]) / 1024.0
            ),
        )
        .goal("≤ 32 KiB", per <= 32.0),
    );
    let cpu = f(&s["idle_cpu_percent"]);
    #[allow(clippy::cast_precision_loss)]
    let scaled = cpu * target as f64 / n.max(1) as f64;
    let value = if n == target {
        format!("{cpu:.2} % of a core")
    } else {
        format!("{cpu:.2} % of a core (×{target}/{n}: {scaled:.2} %)")
    };
    let value = format!("{value}; {} PINGs answered", s["server"]["pings"]);
    rows.push(
        row(
            "scale",
            format!(
                "  idle CPU, {:.0} s of pings only (every {:.0} s)",
                f(&s["idle_seconds"]),
                f(&s["ping_after_seconds"]),
            ),
            value,
        )
        .goal(format!("< 2 % at {target}"), scaled < 2.0),
    );
    rows.push(row(
        "scale",
        format!("  time to connect all ({} at a time)", s["concurrency"]),
        format!("{:.1} s", f(&s["connect_seconds"])),
    ));
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
