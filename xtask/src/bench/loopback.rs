//! Parts 2 and 3 of `cargo xtask bench`: end to end and at scale, over loopback.
//!
//! Both use one release binary, chzzk-chat's `loopback` bench target, in separate processes:
//! the server (`serve`), our client (`e2e`, `scale`); chzzkpy's client is
//! `interop/bench_chzzkpy_e2e.py` in the interop venv. So each client's CPU time and memory are
//! its own, and the server, built in release, is never what limits a client (this xtask runs
//! as a debug build).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use crate::{cargo, last_json, project_root, stdout_of};

/// The fixture whose chat lines, live status and token the server plays.
const FIXTURE: &str = "fixtures/chzzk/chat_lines.jsonl";

/// Writes the server's spec (`{"channel_id", "live_status", "access_token", "lines"}`) from
/// [`FIXTURE`] and returns how many lines it holds, and the channel id.
///
/// Lines chzzkpy rejects are left out (a new `osType` such as `VISIONOS`: its strict literal
/// fails the line, and with it the rest of its batch), so both clients get the same events.
pub(crate) fn write_spec(path: &Path) -> Result<(usize, String), String> {
    let fixture = project_root().join(FIXTURE);
    let text =
        std::fs::read_to_string(&fixture).map_err(|e| format!("{}: {e}", fixture.display()))?;
    let mut spec = json!({"lines": []});
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{FIXTURE}: {e}"))?;
        if let Some(id) = v["config"]["channel_id"].as_str() {
            spec["channel_id"] = id.into();
        }
        let path = v["http"]["path"].as_str().unwrap_or_default();
        if path.ends_with("/live-status") {
            spec["live_status"] = v["response"]["json"]["content"].clone();
        } else if path.ends_with("/access-token") {
            spec["access_token"] = v["response"]["json"]["content"].clone();
        }
        if v["dir"] == "s2c" && v["json"]["cmd"] == 93101 {
            for l in v["json"]["bdy"].as_array().into_iter().flatten() {
                let extras: Value =
                    serde_json::from_str(l["extras"].as_str().unwrap_or("{}")).unwrap_or_default();
                if matches!(extras["osType"].as_str(), Some("PC" | "AOS" | "IOS")) {
                    lines.push(l.clone());
                }
            }
        }
    }
    for key in ["channel_id", "live_status", "access_token"] {
        if spec[key].is_null() {
            return Err(format!("{FIXTURE}: no {key}"));
        }
    }
    let n = lines.len();
    if n == 0 {
        return Err(format!("{FIXTURE}: no chat lines"));
    }
    let channel_id = spec["channel_id"].as_str().unwrap_or_default().to_owned();
    spec["lines"] = Value::Array(lines);
    std::fs::write(path, spec.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((n, channel_id))
}

/// Builds the `loopback` bench target in release (`cargo bench --no-run`) and returns its path.
pub(crate) fn build() -> Result<PathBuf, String> {
    println!("==> cargo bench --no-run -p chzzk-chat --bench loopback");
    let out = cargo()
        .args([
            "bench",
            "--no-run",
            "--locked",
            "-p",
            "chzzk-chat",
            "--bench",
            "loopback",
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the loopback bench failed ({})",
            out.status
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "loopback")
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo named no loopback executable".into())
}

/// The hard limit on open files (`/proc/self/limits`); `None` when unlimited or unknown.
pub(crate) fn hard_fd_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(4)?
        .parse()
        .ok()
}

/// `program args...` with the soft limit on open files raised to the hard one (a shell's
/// `ulimit`: the workspace forbids the unsafe code `setrlimit` would need).
fn with_fd_limit(program: &Path, args: &[String]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@""#)
        .arg("sh")
        .arg(program)
        .args(args);
    c
}

/// The loopback server, running until dropped or [`Server::stop`]ped.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Server {
    fn start(exe: &Path, spec: &Path, push: u64) -> Result<Server, String> {
        let args = vec![
            "serve".to_owned(),
            "--spec".into(),
            spec.to_string_lossy().into_owned(),
            "--push".into(),
            push.to_string(),
        ];
        let mut child = with_fd_limit(exe, &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the loopback server: {e}"))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no server stdout")?);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .map_err(|e| format!("the loopback server: {e}"))?;
        let port = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("the loopback server printed no port: {line:?}"))?;
        Ok(Server {
            child,
            stdin,
            stdout,
            port,
        })
    }

    /// Closes the server's stdin (its signal to stop) and returns what it reports.
    fn stop(mut self) -> Value {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        let _ = self.child.wait();
        serde_json::from_str(&line).unwrap_or(Value::Null)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Dropping stdin stops it; kill it only if it is still there (it is our child).
        self.stdin.take();
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Part 2: `ours` lines to our client, then `theirs` lines to chzzkpy's, each from a fresh
/// server. Returns both reports.
pub(crate) fn e2e(
    env: &crate::interop::Env,
    exe: &Path,
    spec: &Path,
    channel_id: &str,
    ours: u64,
    theirs: u64,
) -> Result<(Value, Value), String> {
    let spec_arg = spec.to_string_lossy().into_owned();
    println!("==> end to end: {ours} lines to chzzk-chat over loopback");
    let server = Server::start(exe, spec, ours)?;
    let mut c = Command::new(exe);
    c.args(["e2e", "--spec", &spec_arg, "--lines", &ours.to_string()])
        .args(["--port", &server.port.to_string()]);
    let ours = last_json(&stdout_of(c, "the e2e client")?, "the e2e client")?;
    server.stop();

    println!("==> end to end: {theirs} lines to chzzkpy 2.2.0's ChatClient over loopback");
    let server = Server::start(exe, spec, theirs)?;
    let theirs = env.python_json(
        "bench_chzzkpy_e2e.py",
        &[&server.port.to_string(), channel_id, &theirs.to_string()],
    )?;
    server.stop();
    Ok((ours, theirs))
}

/// Part 3: `connections` idle clients in one process, `idle_seconds` of keepalive. Returns
/// the client's report with the server's (`"server"`: joins and PINGs answered).
pub(crate) fn scale(
    exe: &Path,
    spec: &Path,
    connections: u64,
    idle_seconds: u64,
) -> Result<Value, String> {
    println!(
        "==> scale: {connections} idle chzzk-chat connections in one process, {idle_seconds} s idle"
    );
    let server = Server::start(exe, spec, 0)?;
    let args = vec![
        "scale".to_owned(),
        "--spec".into(),
        spec.to_string_lossy().into_owned(),
        "--port".into(),
        server.port.to_string(),
        "--connections".into(),
        connections.to_string(),
        "--idle-seconds".into(),
        idle_seconds.to_string(),
    ];
    let what = "the scale client";
    let mut report = last_json(&stdout_of(with_fd_limit(exe, &args), what)?, what)?;
    report["server"] = server.stop();
    Ok(report)
}
