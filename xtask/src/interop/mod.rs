//! `cargo xtask interop`: the reference implementations as test oracles.
//!
//! Installs pinned reference clients into `target/interop/` (a Python venv from
//! `interop/requirements.txt`, npm packages from `interop/package.json` and its lock file),
//! runs each oracle and compares, case by case, what the reference makes of a payload with
//! what our crate makes of it. A case disagrees unless both views are equal JSON, or the case
//! is listed in `interop/known/<oracle>.json` with the reason (a reference bug, an older
//! reference). A listed case that agrees is reported as stale, so the list stays true.
//!
//! Each oracle lives in its own module and produces [`Case`]s; comparing, the known list, the
//! table and the JSON report (`target/interop/report.json`) are here.

pub(crate) mod chzzk;
mod livekit;
mod schema;
mod sechat;
mod streams;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::{exec, project_root, stdout_of};

/// One comparison: what the reference made of an input, and what we made of it.
#[derive(Debug)]
pub(crate) struct Case {
    /// Stable, unique within the oracle (fixture name and line, or a scenario name).
    pub(crate) id: String,
    /// Our view, as JSON.
    pub(crate) ours: Value,
    /// The reference's view, or why it failed on the input (a raised exception's text).
    pub(crate) theirs: Result<Value, String>,
}

impl Case {
    pub(crate) fn new(id: impl Into<String>, ours: Value, theirs: Result<Value, String>) -> Self {
        Self {
            id: id.into(),
            ours,
            theirs,
        }
    }
}

/// Where the reference clients are installed.
pub(crate) struct Env {
    /// `target/interop`.
    pub(crate) dir: PathBuf,
    /// The venv's Python.
    pub(crate) python: PathBuf,
    /// The folder holding `node_modules` with the pinned npm packages.
    pub(crate) node_dir: PathBuf,
}

impl Env {
    /// Runs `interop/<script>` with the venv's Python and `args`, returning its stdout parsed
    /// as JSON. The script's stderr is passed through.
    pub(crate) fn python_json(&self, script: &str, args: &[&str]) -> Result<Value, String> {
        let mut c = Command::new(&self.python);
        c.arg(project_root().join("interop").join(script))
            .args(args);
        run_json(c, script)
    }

    /// Runs `interop/<script>` with node (from the npm folder, so imports resolve).
    pub(crate) fn node_json(&self, script: &str, args: &[&str]) -> Result<Value, String> {
        let mut c = Command::new("node");
        c.arg(project_root().join("interop").join(script))
            .args(args)
            .env("NODE_PATH", self.node_dir.join("node_modules"))
            .current_dir(&self.node_dir);
        run_json(c, script)
    }
}

/// An oracle: a name for the table, and how to produce its cases.
struct Oracle {
    name: &'static str,
    what: &'static str,
    run: fn(&Env) -> Result<Vec<Case>, String>,
}

const ORACLES: &[Oracle] = &[
    Oracle {
        name: "chat-streams",
        what: "MaiBot 0.x database made by peewee 3.19.0, written by chat-streams, read back by Python",
        run: streams::run,
    },
    Oracle {
        name: "chzzk",
        what: "chzzkpy 2.2.0 (PyPI) chat gateway and models on every server frame of fixtures/chzzk",
        run: chzzk::run,
    },
    Oracle {
        name: "sechat",
        what: "sechat 1.1.2 and chatexchange 0.0.4 (PyPI) event models on every event of our fixtures' frames",
        run: sechat::run,
    },
    Oracle {
        name: "events-schema",
        what: "jsonschema 4.23.0 (PyPI), Draft 2020-12: every normalised event in the fixtures against docs/events.schema.json",
        run: schema::run,
    },
    Oracle {
        name: "livekit-python",
        what: "livekit 0.21.3 (PyPI): ChatMessage and ChatManager, both directions",
        run: livekit::run_python,
    },
    Oracle {
        name: "livekit-js",
        what: "@livekit/components-core 0.12.15 setupChat on a livekit-client 2.23.0 Room, @livekit/protocol 1.52.1",
        run: livekit::run_js,
    },
];

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    agree: usize,
    known: usize,
    disagree: Vec<String>,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--only" => only.push(it.next().ok_or("--only needs an oracle name")?.clone()),
            other => return Err(format!("unknown argument {other:?} for interop")),
        }
    }
    let env = prepare()?;
    let known = load_known()?;
    let mut rows = Vec::new();
    let mut report = Vec::new();
    let mut failed = false;
    for oracle in ORACLES
        .iter()
        .filter(|o| only.is_empty() || only.iter().any(|n| n == o.name))
    {
        println!("\n==> oracle {}: {}", oracle.name, oracle.what);
        let mut tally = Tally::default();
        let mut seen = Vec::new();
        match (oracle.run)(&env) {
            Ok(cases) => {
                for case in cases {
                    seen.push(case.id.clone());
                    tally.cases += 1;
                    let reason = known.get(&(oracle.name.to_owned(), case.id.clone()));
                    let agrees = case.theirs.as_ref().is_ok_and(|t| *t == case.ours);
                    let detail = || {
                        format!(
                            "{}: ours {} / theirs {}",
                            case.id,
                            case.ours,
                            match &case.theirs {
                                Ok(v) => v.to_string(),
                                Err(e) => format!("failed: {e}"),
                            }
                        )
                    };
                    match (agrees, reason) {
                        (true, None) => tally.agree += 1,
                        (false, Some(reason)) => {
                            tally.known += 1;
                            report.push(json!({"oracle": oracle.name, "case": case.id, "status": "known", "reason": reason, "detail": detail()}));
                        }
                        (true, Some(_)) => tally.disagree.push(format!(
                            "{}: listed as a known divergence but agrees now; remove it from interop/known/",
                            case.id
                        )),
                        (false, None) => {
                            report.push(json!({"oracle": oracle.name, "case": case.id, "status": "disagree", "detail": detail()}));
                            tally.disagree.push(detail());
                        }
                    }
                }
                for (o, id) in known.keys() {
                    if o == oracle.name && !seen.contains(id) {
                        tally.disagree.push(format!(
                            "{id}: listed as a known divergence but no such case ran"
                        ));
                    }
                }
            }
            Err(e) => tally
                .disagree
                .push(format!("the oracle could not run: {e}")),
        }
        for d in &tally.disagree {
            println!("  ✗ {d}");
        }
        failed |= !tally.disagree.is_empty();
        rows.push((oracle.name, tally));
    }
    println!(
        "\n{:<16} {:>6} {:>6} {:>6} {:>9}",
        "oracle", "cases", "agree", "known", "disagree"
    );
    for (name, t) in &rows {
        println!(
            "{name:<16} {:>6} {:>6} {:>6} {:>9}",
            t.cases,
            t.agree,
            t.known,
            t.disagree.len()
        );
    }
    let summary: Vec<Value> = rows
        .iter()
        .map(|(name, t)| json!({"oracle": name, "cases": t.cases, "agree": t.agree, "known": t.known, "disagree": t.disagree}))
        .collect();
    let path = env.dir.join("report.json");
    let text = serde_json::to_string_pretty(&json!({"oracles": summary, "divergences": report}))
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "(report: {})",
        path.strip_prefix(project_root()).unwrap_or(&path).display()
    );
    if failed {
        Err("unexplained disagreement with a reference implementation".into())
    } else {
        Ok(())
    }
}

/// `interop/known/<oracle>.json`: `[{"case", "reason"}]` for each oracle.
fn load_known() -> Result<BTreeMap<(String, String), String>, String> {
    let dir = project_root().join("interop/known");
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(oracle) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .map(str::to_owned)
        else {
            continue;
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let list: Vec<Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for item in list {
            let field = |k: &str| {
                item[k]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{}: an entry lacks {k:?}: {item}", path.display()))
            };
            let reason = field("reason")?;
            if reason.trim().is_empty() {
                return Err(format!(
                    "{}: every known divergence needs a reason",
                    path.display()
                ));
            }
            out.insert((oracle.clone(), field("case")?), reason);
        }
    }
    Ok(out)
}

/// Creates the venv and installs the pinned packages, once per change of the pins (a stamp
/// file holds the pins it was made from).
pub(crate) fn prepare() -> Result<Env, String> {
    let root = project_root();
    let dir = root.join("target/interop");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let venv = dir.join("venv");
    let python = venv.join("bin/python");
    let requirements = root.join("interop/requirements.txt");
    let constraints = root.join("interop/constraints.txt");
    let pins = [&requirements, &constraints]
        .iter()
        .map(|p| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect::<Result<String, String>>()?;
    if !stamp_matches(&venv, &pins) {
        println!(
            "==> installing the Python reference clients into {}",
            venv.display()
        );
        let python3 = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        // A venv without its pyvenv.cfg (an interrupted creation) is no venv: pip would
        // install into the system Python.
        if !venv.join("pyvenv.cfg").exists() {
            exec(
                Command::new(python3)
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv),
            )?;
        }
        exec(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements)
                .arg("-c")
                .arg(&constraints),
        )?;
        write_stamp(&venv, &pins)?;
    }
    let node_dir = dir.join("node");
    let package = root.join("interop/package.json");
    if package.exists() {
        let lock = root.join("interop/package-lock.json");
        let pins = format!(
            "{}{}",
            std::fs::read_to_string(&package).map_err(|e| e.to_string())?,
            std::fs::read_to_string(&lock).unwrap_or_default()
        );
        if !stamp_matches(&node_dir, &pins) {
            println!(
                "==> installing the npm reference clients into {}",
                node_dir.display()
            );
            std::fs::create_dir_all(&node_dir).map_err(|e| e.to_string())?;
            copy(&package, &node_dir.join("package.json"))?;
            copy(&lock, &node_dir.join("package-lock.json"))?;
            exec(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&node_dir),
            )?;
            write_stamp(&node_dir, &pins)?;
        }
    }
    Ok(Env {
        dir,
        python,
        node_dir,
    })
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("{}: {e}", from.display()))
}

fn stamp_matches(dir: &Path, pins: &str) -> bool {
    std::fs::read_to_string(dir.join(".pins")).is_ok_and(|s| s == pins)
}

fn write_stamp(dir: &Path, pins: &str) -> Result<(), String> {
    std::fs::write(dir.join(".pins"), pins).map_err(|e| e.to_string())
}

/// Runs an oracle script whose whole output is one JSON document.
fn run_json(c: Command, what: &str) -> Result<Value, String> {
    let text = stdout_of(c, what)?;
    serde_json::from_str(&text).map_err(|e| format!("{what} printed no JSON: {e}"))
}
