//! `cargo xtask ci`: what CI runs, and what a developer runs before pushing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{cargo, exec};

fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    println!("\n==> {name}");
    let start = Instant::now();
    let r = f();
    println!(
        "<== {name}: {} in {:.1}s",
        if r.is_ok() { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    r.map_err(|e| format!("{name}: {e}"))
}

/// The last step prints no trailer on success, so the test runner's summary closes the output.
fn last_step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    println!("\n==> {name}");
    f().map_err(|e| format!("{name}: {e}"))
}

fn cargo_with(args: &[&str]) -> Command {
    let mut c = cargo();
    c.args(args);
    c
}

/// Whether `cargo <name> --version` works (an installed cargo subcommand).
fn has_subcommand(name: &str) -> bool {
    cargo_with(&[name, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn has_nextest() -> bool {
    has_subcommand("nextest")
}

/// `cargo deny check bans licenses sources` against `deny.toml`, installing cargo-deny from
/// crates.io first when `cargo deny --version` fails. The `advisories` check is left out: its
/// database is fetched from GitHub, which CI cannot reach (see `deny.toml`).
pub(crate) fn cargo_deny() -> Result<(), String> {
    if !has_subcommand("deny") {
        println!("cargo-deny is missing: cargo install --locked cargo-deny (from crates.io)");
        let start = Instant::now();
        let mut c = cargo_with(&["install", "--locked", "cargo-deny", "--target-dir"]);
        // Its own target directory: kept for a reinstall, apart from the workspace build.
        c.arg(crate::project_root().join("target/tools"));
        exec(c)?;
        println!(
            "installed cargo-deny in {:.0}s",
            start.elapsed().as_secs_f64()
        );
    }
    exec(cargo_with(&[
        "deny",
        "--locked",
        "check",
        "--hide-inclusion-graph",
        "bans",
        "licenses",
        "sources",
    ]))
}

/// Features whose build needs the network (a native SDK downloaded by a build script), so the
/// offline steps never enable them; `typecheck_networked` covers them instead.
const NETWORKED_FEATURES: &[&str] = &["livekit-chat/livekit"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("unknown argument {a:?} for ci"));
    }
    let features = offline_features()?;
    let features = features.as_str();
    step("rustfmt", || {
        exec(cargo_with(&["fmt", "--all", "--", "--check"]))?;
        // The fuzz crate is a workspace of its own.
        exec(cargo_with(&[
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--all",
            "--",
            "--check",
        ]))
    })?;
    step(
        "cargo-deny (bans, licenses, sources; deny.toml)",
        cargo_deny,
    )?;
    step(
        "MSRV (no dependency needs a newer Rust than rust-version)",
        crate::msrv::check,
    )?;
    step("clippy", || {
        exec(cargo_with(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            features,
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("clippy (no default features)", || {
        exec(cargo_with(&[
            "clippy",
            "--workspace",
            "--lib",
            "--no-default-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("rustdoc", || {
        let mut c = cargo_with(&[
            "doc",
            "--workspace",
            "--no-deps",
            "--features",
            features,
            "--locked",
        ]);
        c.env("RUSTDOCFLAGS", "-D warnings");
        exec(c)
    })?;
    step(
        "type-check networked features (DOCS_RS=1 skips native SDK downloads)",
        typecheck_networked,
    )?;
    step("fixtures-check", || crate::fixtures::check(&[]))?;
    step(
        "packaging (every publishable crate packages and builds on its own)",
        || {
            let mut args = vec![
                "package".to_owned(),
                "--locked".into(),
                "--allow-dirty".into(),
            ];
            let packages = publishable()?;
            let target = crate::project_root().join("target/package-verify");
            forget_overlay_sources(&packages, &target)?;
            for (name, _) in packages {
                args.extend(["-p".into(), name]);
            }
            let mut c = cargo();
            c.args(&args).env("CARGO_TARGET_DIR", &target);
            exec(c)
        },
    )?;
    step("doctests", || {
        exec(cargo_with(&[
            "test",
            "--doc",
            "--workspace",
            "--features",
            features,
            "--locked",
        ]))
    })?;
    step("test-fixtures", || crate::fixtures::test_fixtures(&[]))?;
    step(
        "interop (the reference clients as oracles; installs pinned versions from PyPI and npm)",
        || crate::interop::run(&[]),
    )?;
    step(
        "fuzz targets (lint, build, and run over their seed corpus; docs/fuzzing.md)",
        || {
            let manifest = "fuzz/Cargo.toml";
            exec(cargo_with(&[
                "clippy",
                "--manifest-path",
                manifest,
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]))?;
            exec(cargo_with(&[
                "test",
                "--manifest-path",
                manifest,
                "--locked",
            ]))
        },
    )?;
    step(
        "faults (a CI-sized campaign; `cargo xtask faults --rounds 1000` runs the full one)",
        || crate::faults::run(&[]),
    )?;
    // Last, so its closing summary line is the last thing CI prints.
    if has_nextest() {
        last_step("tests (nextest)", || {
            exec(cargo_with(&[
                "nextest",
                "run",
                "--workspace",
                "--features",
                features,
                "--locked",
                "--no-fail-fast",
            ]))
        })
    } else {
        last_step(
            "tests (cargo test; install cargo-nextest for a faster run)",
            || {
                exec(cargo_with(&[
                    "test",
                    "--workspace",
                    "--features",
                    features,
                    "--locked",
                    "--no-fail-fast",
                ]))
            },
        )
    }
}

/// Every feature of every workspace member except [`NETWORKED_FEATURES`], as one `--features`
/// value: the "all features" that builds offline.
fn offline_features() -> Result<String, String> {
    let meta = metadata()?;
    let mut out = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        for f in p["features"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            let full = format!("{name}/{f}");
            if f != "default" && !NETWORKED_FEATURES.contains(&full.as_str()) {
                out.push(full);
            }
        }
    }
    Ok(out.join(","))
}

/// `cargo check` + clippy of the networked features with `DOCS_RS=1`, which the native SDK's
/// build scripts honour by skipping their download; it type-checks but cannot link, so nothing
/// with these features is run offline. Uses its own target dir so the main build's cache stays
/// valid.
fn typecheck_networked() -> Result<(), String> {
    for feature in NETWORKED_FEATURES {
        let (package, _) = feature.split_once('/').unwrap_or((feature, ""));
        let mut c = cargo_with(&[
            "clippy",
            "-p",
            package,
            "--lib",
            "--examples",
            "--features",
            feature,
            "--locked",
            "--",
            "-D",
            "warnings",
        ]);
        c.env("DOCS_RS", "1");
        c.env(
            "CARGO_TARGET_DIR",
            crate::project_root().join("target/docs-rs"),
        );
        exec(c)?;
    }
    Ok(())
}

fn metadata() -> Result<serde_json::Value, String> {
    let out = cargo_with(&["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// The workspace members that are not `publish = false`, from `cargo metadata`.
/// `cargo package` verifies the crates against each other through a temporary local registry
/// and extracts them into `$CARGO_HOME/registry/src/-<hash>/<name>-<version>`, a directory it
/// reuses while the version stays the same: a later run then verifies a dependent against the
/// stale sources of an earlier one (an item added since is "unresolved"). Those overlay
/// directories (the ones without a registry host in their name) are removed for our own
/// crates first; cargo extracts them again. Their builds are registry builds too, which cargo
/// never checks against their sources, so they are cleaned out of the verification target
/// directory (kept apart from `target/debug` for that reason).
fn forget_overlay_sources(packages: &[(String, String)], target: &Path) -> Result<(), String> {
    if target.exists() {
        for (name, _) in packages {
            let mut c = cargo_with(&["clean", "-q", "-p", name, "--target-dir"]);
            c.arg(target);
            exec(c)?;
        }
    }
    let home = std::env::var_os("CARGO_HOME").map_or_else(
        || std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")),
        |h| Some(std::path::PathBuf::from(h)),
    );
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir(&src) else {
        return Ok(());
    };
    for overlay in entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('-'))
    {
        for (name, version) in packages {
            let dir = overlay.path().join(format!("{name}-{version}"));
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Names and versions.
fn publishable() -> Result<Vec<(String, String)>, String> {
    let meta = metadata()?;
    let names: Vec<(String, String)> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !p["publish"].as_array().is_some_and(Vec::is_empty))
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["version"].as_str()?.to_owned(),
            ))
        })
        .collect();
    if names.is_empty() {
        return Err("cargo metadata lists no publishable crate".into());
    }
    Ok(names)
}
