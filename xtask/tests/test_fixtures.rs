//! `cargo xtask test-fixtures --fixtures DIR` on a fixture outside the repository: it passes,
//! a wrong expectation fails with a readable diff, and `--bless` repairs it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("xtask-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn xtask(args: &[&str], cwd: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_fixture_outside_the_repository_runs_and_a_wrong_expectation_shows_a_diff() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = temp_dir("fixtures");
    let fixture = dir.join("copied.jsonl");
    let original =
        std::fs::read_to_string(root.join("fixtures/replay/session_roundtrip.jsonl")).unwrap();
    std::fs::write(&fixture, &original).unwrap();

    // Relative to the current directory, as a user would type it.
    let (ok, out) = xtask(
        &["test-fixtures", "--fixtures", ".", "-p", "chat-replay"],
        &dir,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("PASS  {}", fixture.display())),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "1 passed, 0 failed"), "{out}");

    let wrong_line = r#"{"expect":{"conn":"c1","json":{"id":"m1","op":"message","text":"hello","user":"Alice Example"}}}"#;
    assert!(original.contains(wrong_line));
    let wrong = original.replace(wrong_line, &wrong_line.replace("\"hello\"", "\"goodbye\""));
    std::fs::write(&fixture, &wrong).unwrap();
    let (ok, out) = xtask(
        &[
            "test-fixtures",
            "--fixtures",
            dir.to_str().unwrap(),
            "-p",
            "chat-replay",
        ],
        root,
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("FAIL  {}", fixture.display())),
        "{out}"
    );
    assert!(out.contains(r#"-{"expect":{"conn":"c1","json":{"id":"m1","op":"message","text":"goodbye","user":"Alice Example"}}}"#), "{out}");
    assert!(out.contains(r#"+{"expect":{"conn":"c1","json":{"id":"m1","op":"message","text":"hello","user":"Alice Example"}}}"#), "{out}");
    assert!(out.lines().any(|l| l == "0 passed, 1 failed"), "{out}");

    let (ok, out) = xtask(
        &[
            "test-fixtures",
            "--fixtures",
            dir.to_str().unwrap(),
            "-p",
            "chat-replay",
            "--bless",
        ],
        root,
    );
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read_to_string(&fixture).unwrap(),
        original,
        "bless restores what the client saw"
    );

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fixture_nobody_runs_is_a_failure() {
    let dir = temp_dir("orphan");
    std::fs::write(
        dir.join("x.jsonl"),
        "{\"fixture\":1,\"platform\":\"irc\",\"title\":\"no such crate\"}\n",
    )
    .unwrap();
    let (ok, out) = xtask(
        &["test-fixtures", "--fixtures", dir.to_str().unwrap()],
        &dir,
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!ok, "{out}");
    assert!(
        out.contains("no crate runs fixtures of platform \"irc\""),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "0 passed, 1 failed"), "{out}");
}
