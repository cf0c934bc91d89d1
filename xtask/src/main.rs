//! Project automation. Run `cargo xtask help`.

mod bench;
mod ci;
mod demo;
mod faults;
mod fixtures;
mod interop;
mod msrv;

use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "\
cargo xtask <command>

  demo [--fixtures DIR]...           replay recorded-shape sessions on loopback through the real
                                     clients and print a live feed (offline)
  ci                                 everything CI checks: fmt, cargo-deny, MSRV, clippy, docs,
                                     fixtures, packaging, every test (the README's test command)
  test-fixtures [--fixtures DIR]... [-p CRATE]... [--bless]
                                     run every fixture through its crate's client; --bless
                                     rewrites the expected events
  fixtures-check [--fixtures DIR]... every fixture parses, has a known version, holds no
                                     secrets, and plays through the replay server
  bench [--quick]                    the speed and scale goals, side by side with the reference
                                     clients (release builds; a table and target/bench/report.json)
  faults [--seed S] [--rounds N] [--only CRATE]...
                                     fault campaign through chat-replay: drops, closes, stalls,
                                     broken and oversize frames, HTTP errors, crashes; reports
                                     panics, hangs, lost and duplicated messages (N rounds per
                                     crate, default 40)
  deny                               cargo deny check bans licenses sources (installs cargo-deny
                                     from crates.io when missing; a step of ci)
  msrv                               no dependency declares a rust-version above ours, and
                                     clippy.toml agrees (a step of ci)
  interop [--only ORACLE]...         check our crates against the real reference clients
                                     (installs pinned versions into target/interop)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args
        .split_first()
        .map_or(("help", &[][..]), |(c, r)| (c.as_str(), r));
    let result = match cmd {
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        "demo" => demo::run(rest),
        "test-fixtures" => fixtures::test_fixtures(rest),
        "fixtures-check" => fixtures::check(rest),
        "interop" => interop::run(rest),
        "faults" => faults::run(rest),
        "deny" => ci::cargo_deny(),
        "msrv" => msrv::check(),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: xtask lives in the workspace root")
        .to_owned()
}

/// The cargo that runs us (so a rustup toolchain choice carries over).
fn cargo() -> std::process::Command {
    let mut cmd =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

/// Parses repeated `--fixtures DIR` options (made absolute against the current directory) and
/// returns them with the remaining arguments.
fn take_fixture_dirs(args: &[String]) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let mut dirs = Vec::new();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--fixtures" {
            let dir = it.next().ok_or("--fixtures needs a directory or file")?;
            dirs.push(absolute(&cwd, dir)?);
        } else if let Some(dir) = a.strip_prefix("--fixtures=") {
            dirs.push(absolute(&cwd, dir)?);
        } else {
            rest.push(a.clone());
        }
    }
    Ok((dirs, rest))
}

fn absolute(cwd: &Path, dir: &str) -> Result<PathBuf, String> {
    let path = cwd.join(dir);
    path.canonicalize()
        .map_err(|e| format!("--fixtures {}: {e}", path.display()))
}

/// Runs `cmd` with stdin closed; fails naming the command line when it cannot start or fails.
fn exec(mut cmd: impl BorrowMut<Command>) -> Result<(), String> {
    let cmd = cmd.borrow_mut();
    let shown = format!("{cmd:?}");
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}

/// Runs `cmd` with stdin closed and stderr passed through, and returns what it printed on
/// stdout; `what` names it in errors.
fn stdout_of(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last line of a program's output that is a JSON object (its report, after any log
/// lines).
fn last_json(text: &str, what: &str) -> Result<serde_json::Value, String> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).map_err(|e| format!("{what} printed no JSON object: {e}"))
}
