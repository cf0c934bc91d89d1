//! `test-fixtures` and `fixtures-check`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use chat_replay::{Fixture, ReplayServer};
use serde_json::Value;

use crate::{cargo, project_root, take_fixture_dirs};

/// A crate with a fixture runner (`tests/replay.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) package: String,
    /// The test-only features the crate has (`unstable-proto`, `testing`): its runner may
    /// inject raw frames through the codec or use the in-memory room's fault injection.
    pub(crate) features: Vec<&'static str>,
}

/// Every crate under `crates/` that has `tests/replay.rs`, by package name.
pub(crate) fn runners() -> Vec<Runner> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(project_root().join("crates")) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for dir in dirs {
        if !dir.join("tests/replay.rs").is_file() {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if let Some(package) = package_name(&manifest) {
            let features = ["unstable-proto", "testing"]
                .into_iter()
                .filter(|f| manifest.lines().any(|l| l.starts_with(&format!("{f} ="))))
                .collect();
            out.push(Runner { package, features });
        }
    }
    out
}

fn package_name(manifest: &str) -> Option<String> {
    let package = manifest.split("[package]").nth(1)?;
    package.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Every `*.jsonl` under the given files or directories, sorted.
pub(crate) fn find_fixtures(roots: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if p.is_file() {
            out.push(p.to_owned());
        } else if let Ok(entries) = std::fs::read_dir(p) {
            let mut entries: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                if e.is_dir() {
                    walk(&e, out);
                } else if e.extension().is_some_and(|x| x == "jsonl") {
                    out.push(e);
                }
            }
        }
    }
    let mut out = Vec::new();
    for r in roots {
        walk(r, &mut out);
    }
    out
}

fn display(path: &Path) -> String {
    let root = project_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `cargo xtask test-fixtures [--fixtures DIR]... [-p CRATE]... [--bless]`
pub(crate) fn test_fixtures(args: &[String]) -> Result<(), String> {
    let (dirs, rest) = take_fixture_dirs(args)?;
    let mut packages = Vec::new();
    let mut bless = false;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-p" | "--package" => packages.push(it.next().ok_or("-p needs a crate name")?.clone()),
            "--bless" => bless = true,
            other => return Err(format!("unknown argument {other:?} for test-fixtures")),
        }
    }
    let all = runners();
    for p in &packages {
        if !all.iter().any(|r| &r.package == p) {
            let names: Vec<_> = all.iter().map(|r| r.package.as_str()).collect();
            return Err(format!(
                "{p:?} has no fixture runner (crates with tests/replay.rs: {names:?})"
            ));
        }
    }
    let selected: Vec<&Runner> = all
        .iter()
        .filter(|r| packages.is_empty() || packages.contains(&r.package))
        .collect();
    let roots = if dirs.is_empty() {
        vec![project_root().join("fixtures")]
    } else {
        dirs
    };
    let report_path = project_root().join(format!(
        "target/xtask/test-fixtures-{}.jsonl",
        std::process::id()
    ));
    std::fs::create_dir_all(report_path.parent().expect("invariant: has a parent"))
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&report_path);

    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut seen = BTreeSet::new();
    for runner in &selected {
        let joined = std::env::join_paths(&roots).map_err(|e| e.to_string())?;
        // Runners may inject raw frames through the crate's codec (livekit-chat does).
        let features = runner
            .features
            .iter()
            .map(|f| format!("{}/{f}", runner.package))
            .collect::<Vec<_>>()
            .join(",");
        let mut args = vec!["test", "--quiet", "-p", &runner.package];
        if !features.is_empty() {
            args.extend(["--features", &features]);
        }
        args.extend(["--test", "replay", "--", "--test-threads=2"]);
        let out = cargo()
            .args(args)
            .env("REPLAY_FIXTURES", &joined)
            .env("REPLAY_REPORT", &report_path)
            .env("REPLAY_BLESS", if bless { "1" } else { "0" })
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        let lines = std::fs::read_to_string(&report_path).unwrap_or_default();
        let _ = std::fs::remove_file(&report_path);
        let results: Vec<Value> = lines
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if results.is_empty() && !out.status.success() {
            failed += 1;
            println!("FAIL  {} (its fixture runner did not run)", runner.package);
            println!("{}", indent(&String::from_utf8_lossy(&out.stderr)));
            println!("{}", indent(&String::from_utf8_lossy(&out.stdout)));
            continue;
        }
        for r in results {
            let path = PathBuf::from(r["fixture"].as_str().unwrap_or_default());
            seen.insert(path.clone());
            if r["passed"].as_bool() == Some(true) {
                passed += 1;
                println!(
                    "{}  {}  ({})",
                    if bless { "BLESS" } else { "PASS" },
                    display(&path),
                    runner.package
                );
            } else {
                failed += 1;
                println!("FAIL  {}  ({})", display(&path), runner.package);
                println!(
                    "{}",
                    indent(r["message"].as_str().unwrap_or("(no message)"))
                );
            }
        }
    }
    if packages.is_empty() {
        for path in find_fixtures(&roots) {
            if !seen.contains(&path) {
                failed += 1;
                let platform =
                    chat_replay::harness::header_platform(&path).unwrap_or_else(|| "?".into());
                println!(
                    "FAIL  {}  (no crate runs fixtures of platform {platform:?})",
                    display(&path)
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        Err(format!("{failed} fixture(s) failed"))
    } else {
        Ok(())
    }
}

fn indent(s: &str) -> String {
    s.trim_end()
        .lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `cargo xtask fixtures-check [--fixtures DIR]...`
pub(crate) fn check(args: &[String]) -> Result<(), String> {
    let (dirs, rest) = take_fixture_dirs(args)?;
    if let Some(a) = rest.first() {
        return Err(format!("unknown argument {a:?} for fixtures-check"));
    }
    let default_root = project_root().join("fixtures");
    let roots = if dirs.is_empty() {
        vec![default_root.clone()]
    } else {
        dirs
    };
    let files = find_fixtures(&roots);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut bad = 0;
    for path in &files {
        let problems = check_one(&rt, path, &default_root);
        if problems.is_empty() {
            println!("ok    {}", display(path));
        } else {
            bad += 1;
            println!("FAIL  {}", display(path));
            for p in problems {
                println!("{}", indent(&p));
            }
        }
    }
    println!(
        "fixtures-check: {} fixture(s), {bad} with problems",
        files.len()
    );
    if bad > 0 {
        Err(format!("{bad} fixture(s) have problems"))
    } else {
        Ok(())
    }
}

/// Everything wrong with one fixture (empty when it is fine).
pub(crate) fn check_one(
    rt: &tokio::runtime::Runtime,
    path: &Path,
    default_root: &Path,
) -> Vec<String> {
    let fixture = match Fixture::load(path) {
        Ok(f) => f,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems: Vec<String> = chat_replay::lint::check_secrets(&fixture)
        .into_iter()
        .map(|f| format!("{}:{}: {}", display(path), f.line, f.what))
        .collect();
    if let Ok(rel) = path.strip_prefix(default_root) {
        let dir = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        if rel.components().count() != 2 || dir.as_deref() != Some(fixture.header.platform.as_str())
        {
            problems.push(format!(
                "fixtures/<platform>/<name>.jsonl: this file's header says platform {:?}",
                fixture.header.platform
            ));
        }
    }
    // The script must play through: the mirror client performs its client side.
    let fixture = Arc::new(fixture);
    let played = rt.block_on(async {
        let server = ReplayServer::start(Arc::clone(&fixture))
            .await
            .map_err(|e| e.to_string())?;
        let mirror = chat_replay::mirror::play(&server).await;
        // A hang guard, not a synchronisation: finish() resolves as soon as the server's
        // tasks end.
        let finish = tokio::time::timeout(std::time::Duration::from_secs(30), server.finish())
            .await
            .map_err(|_| "the replay server did not shut down within 30 s".to_owned())?;
        mirror.map_err(|e| format!("does not play through: {e}"))?;
        finish
            .map(|_| ())
            .map_err(|e| format!("does not play through: {e}"))
    });
    if let Err(e) = played {
        problems.push(e);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's own fixtures pass `fixtures-check` (rust-analyzer's tidy, as a test).
    #[test]
    fn repository_fixtures_are_clean() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let root = project_root().join("fixtures");
        let files = find_fixtures(std::slice::from_ref(&root));
        assert!(!files.is_empty());
        for path in files {
            let problems = check_one(&rt, &path, &root);
            assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
        }
    }

    #[test]
    fn a_secret_and_a_broken_script_are_reported() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("xtask-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leaky.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"fixture":1,"platform":"replay","title":"leaky"}"#, "\n",
                r#"{"http":{"path":"/login","form":{"email":"someone@gmail.com"}},"response":{"json":{"url":"{{nope}}"}}}"#, "\n",
            ),
        )
        .unwrap();
        let problems = check_one(&rt, &path, Path::new("/nonexistent"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].contains("someone@gmail.com"), "{problems:#?}");
        assert!(
            problems[1].contains("{{nope}} is not a captured value"),
            "{problems:#?}"
        );
    }

    #[test]
    fn package_names_are_read_from_manifests() {
        assert_eq!(
            package_name("[package]\nname = \"chzzk-chat\"\n"),
            Some("chzzk-chat".into())
        );
        assert!(runners().iter().any(|r| r.package == "chat-replay"));
    }
}
