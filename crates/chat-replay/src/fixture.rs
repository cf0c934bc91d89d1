//! The fixture model and its loader: one JSON Lines file, one scenario (`docs/fixtures.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

/// The fixture format versions this crate understands.
pub const KNOWN_VERSIONS: &[u64] = &[1];

/// A fixture that could not be loaded; the message names the file and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number (0 when the file could not be read at all).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A loaded fixture: header, scripted steps and expected events.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The first line.
    pub header: Header,
    /// The script, in file order.
    pub steps: Vec<Step>,
    /// The expected events (`{"expect": ...}` lines), in order.
    pub expect: Vec<Expectation>,
    /// The raw lines of the file (without line endings), for `--bless`.
    pub lines: Vec<String>,
}

/// The first line of a fixture.
#[derive(Debug, Clone)]
pub struct Header {
    /// Format version (`"fixture": 1`).
    pub version: u64,
    /// Which protocol crate runs it (`"chzzk"`, `"sechat"`, `"livekit"`, `"replay"`, ...).
    pub platform: String,
    /// One-line description.
    pub title: String,
    /// `"hand"`, `"recorded"`, `"har"`, ... (informational).
    pub source: Option<String>,
    /// Free text.
    pub notes: Option<String>,
    /// Client configuration for the scenario (channel id, intervals, ...), interpreted by the
    /// crate's runner.
    pub config: Value,
    /// Client→server frames that may arrive at any time on any connection and are skipped when
    /// they do not match the expected step (keepalives). Patterns, matched partially.
    pub ignore_c2s: Vec<Value>,
    /// Keepalives the server answers on any connection it is reading: a client frame matching
    /// `c2s` is skipped like an `ignore_c2s` one, and `s2c` is sent back (a live server's pong).
    pub keepalive: Vec<Keepalive>,
    /// Part of `cargo xtask demo` (a main-path scenario worth showing).
    pub demo: bool,
}

/// A keepalive the replay server answers by itself (header `keepalive`).
#[derive(Debug, Clone)]
pub struct Keepalive {
    /// Pattern of the client's frame (matched partially).
    pub c2s: Value,
    /// The answer, sent as a text frame.
    pub s2c: Value,
}

/// One expected event.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// 1-based line number.
    pub line: usize,
    /// The event as the crate serialises it.
    pub value: Value,
}

/// One scripted step.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based line number in the fixture.
    pub line: usize,
    /// Milliseconds since the start of the recording (informational only).
    pub t: Option<u64>,
    /// What happens.
    pub kind: StepKind,
}

/// Which side of a WebSocket closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The replay server (a scripted fault or end of session).
    Server,
    /// The client under test (an expectation).
    Client,
}

/// A frame or body payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A JSON value (sent as a text frame / `application/json` body).
    Json(Value),
    /// Exact text.
    Text(String),
    /// Raw bytes (written `b64` in the file).
    Binary(Vec<u8>),
    /// An `application/x-www-form-urlencoded` body: field name → pattern or value.
    Form(BTreeMap<String, Value>),
}

/// What the client must send in an HTTP request (every listed part must match).
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without query; may contain placeholders.
    pub path: String,
    /// Query parameters that must be present (patterns).
    pub query: BTreeMap<String, Value>,
    /// Headers that must be present (names lower-cased; patterns).
    pub headers: BTreeMap<String, Value>,
    /// Cookies that must be sent (patterns).
    pub cookies: BTreeMap<String, Value>,
    /// Body expectation.
    pub body: Option<Payload>,
    /// Exact match of JSON bodies and query (no extra keys allowed).
    pub exact: bool,
}

/// A cookie the server sets (written as a structured field, never as a raw header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// Name.
    pub name: String,
    /// Value (placeholders allowed).
    pub value: String,
    /// `Path` attribute (default `/`).
    pub path: String,
    /// `Domain` attribute, if any.
    pub domain: Option<String>,
    /// `Max-Age` attribute, if any (0 deletes the cookie).
    pub max_age: Option<i64>,
    /// `HttpOnly`.
    pub http_only: bool,
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// Status code (default 200).
    pub status: u16,
    /// Extra headers (placeholders substituted).
    pub headers: BTreeMap<String, String>,
    /// Cookies to set.
    pub set_cookies: Vec<SetCookie>,
    /// The body.
    pub body: Option<Payload>,
    /// Never answer (the connection stays open until the server finishes).
    pub stall: bool,
    /// Close the connection without answering.
    pub drop: bool,
}

/// The kinds of step.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// The client makes this request; the server answers.
    Http {
        /// Expected request.
        request: RequestSpec,
        /// Scripted answer.
        response: ResponseSpec,
    },
    /// The client opens a WebSocket; it becomes connection `conn`.
    WsOpen {
        /// Connection name used by later steps (`"c1"`).
        conn: String,
        /// Expected path.
        path: String,
        /// Expected query parameters (patterns).
        query: BTreeMap<String, Value>,
        /// Expected headers (patterns; names lower-cased).
        headers: BTreeMap<String, Value>,
        /// Refuse the upgrade with this response instead of accepting it.
        reject: Option<ResponseSpec>,
    },
    /// The client sends a frame (an expectation).
    ClientFrame {
        /// Connection.
        conn: String,
        /// Pattern.
        payload: Payload,
        /// No extra keys allowed.
        exact: bool,
    },
    /// The server sends a frame.
    ServerFrame {
        /// Connection.
        conn: String,
        /// Payload; placeholders substituted.
        payload: Payload,
    },
    /// A close handshake.
    Close {
        /// Connection.
        conn: String,
        /// Who closes: the server (a scripted step) or the client (an expectation).
        by: Side,
        /// Close code (the server sends it; for the client, checked when given).
        code: Option<u16>,
        /// Close reason (server side).
        reason: String,
    },
    /// The server drops the TCP connection without a close frame.
    Drop {
        /// Connection.
        conn: String,
        /// Drop in the middle of a text frame carrying this: the frame's header and the first
        /// half of its bytes are sent, then the connection goes.
        mid_frame: Option<String>,
    },
    /// The server stops reading and writing on the connection (it stays open).
    Stall {
        /// Connection.
        conn: String,
    },
    /// The runner performs a client action (send a message, pin, ...) at this point.
    Action {
        /// Action name, interpreted by the crate's runner.
        name: String,
        /// Arguments (placeholders substituted).
        args: Value,
    },
}

impl StepKind {
    /// True for steps the server performs on its own (they wait for every earlier step).
    pub fn is_server_driven(&self) -> bool {
        matches!(
            self,
            Self::ServerFrame { .. }
                | Self::Close {
                    by: Side::Server,
                    ..
                }
                | Self::Drop { .. }
                | Self::Stall { .. }
                | Self::Action { .. }
        )
    }

    /// The WebSocket connection the step belongs to, if any.
    pub fn conn(&self) -> Option<&str> {
        match self {
            Self::WsOpen { conn, .. }
            | Self::ClientFrame { conn, .. }
            | Self::ServerFrame { conn, .. }
            | Self::Close { conn, .. }
            | Self::Drop { conn, .. }
            | Self::Stall { conn } => Some(conn),
            Self::Http { .. } | Self::Action { .. } => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            StepKind::Http { request, .. } => {
                write!(f, "http {} {}", request.method, request.path)?;
                if !request.query.is_empty() {
                    write!(f, " query {}", compact(&request.query))?;
                }
                Ok(())
            }
            StepKind::WsOpen { conn, path, .. } => write!(f, "ws_open {conn} {path}"),
            StepKind::ClientFrame { conn, payload, .. } => {
                write!(f, "ws {conn} c2s {}", payload.describe())
            }
            StepKind::ServerFrame { conn, payload } => {
                write!(f, "ws {conn} s2c {}", payload.describe())
            }
            StepKind::Close { conn, by, code, .. } => {
                let by = if *by == Side::Server {
                    "server"
                } else {
                    "client"
                };
                write!(f, "ws_close {conn} by {by}")?;
                if let Some(code) = code {
                    write!(f, " code {code}")?;
                }
                Ok(())
            }
            StepKind::Drop {
                conn,
                mid_frame: None,
            } => write!(f, "ws_drop {conn}"),
            StepKind::Drop {
                conn,
                mid_frame: Some(_),
            } => write!(f, "ws_drop {conn} mid-frame"),
            StepKind::Stall { conn } => write!(f, "ws_stall {conn}"),
            StepKind::Action { name, .. } => write!(f, "action {name}"),
        }
    }
}

fn compact(v: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    truncate(&s, 200)
}

/// Shortens `s` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Payload {
    /// A short one-line rendering for reports.
    pub fn describe(&self) -> String {
        match self {
            Self::Json(v) => compact(v),
            Self::Text(t) => compact(t),
            Self::Binary(b) => format!("<{} bytes>", b.len()),
            Self::Form(f) => format!("form {}", compact(f)),
        }
    }
}

impl Fixture {
    /// Reads and validates a fixture file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            path: path.to_owned(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses fixture text; `path` is used in error messages.
    pub fn parse(path: impl AsRef<Path>, text: &str) -> Result<Self, LoadError> {
        let path = path.as_ref().to_owned();
        let err = |line: usize, message: String| LoadError {
            path: path.clone(),
            line,
            message,
        };
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut header = None;
        let mut steps = Vec::new();
        let mut expect = Vec::new();
        let mut conns = BTreeMap::<String, ConnState>::new();
        for (i, raw) in lines.iter().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(raw).map_err(|e| err(line, format!("not valid JSON: {e}")))?;
            let Value::Object(obj) = value else {
                return Err(err(line, "each line must be a JSON object".into()));
            };
            if header.is_none() {
                header = Some(parse_header(obj).map_err(|m| err(line, m))?);
                continue;
            }
            if let Some(v) = obj.get("expect") {
                if obj.len() != 1 {
                    return Err(err(
                        line,
                        "an expect line holds only {\"expect\": ...}".into(),
                    ));
                }
                expect.push(Expectation {
                    line,
                    value: v.clone(),
                });
                continue;
            }
            let step = parse_step(line, obj).map_err(|m| err(line, m))?;
            check_conn_order(&step, &mut conns).map_err(|m| err(line, m))?;
            steps.push(step);
        }
        let header =
            header.ok_or_else(|| err(1, "empty file: the first line is the header".into()))?;
        Ok(Self {
            path,
            header,
            steps,
            expect,
            lines,
        })
    }

    /// The file name without extension.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The text of the fixture with its expectations replaced by `events` (for `--bless`).
    pub fn blessed_text(&self, events: &[Value]) -> String {
        let mut out = String::new();
        for raw in &self.lines {
            let is_expect = serde_json::from_str::<Value>(raw)
                .ok()
                .and_then(|v| {
                    v.as_object()
                        .map(|o| o.len() == 1 && o.contains_key("expect"))
                })
                .unwrap_or(false);
            let blank_run = raw.trim().is_empty() && out.ends_with("\n\n");
            if !is_expect && !blank_run {
                out.push_str(raw);
                out.push('\n');
            }
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        for ev in events {
            let line = serde_json::json!({ "expect": ev });
            out.push_str(&serde_json::to_string(&line).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ConnState {
    Open,
    Ended,
}

fn check_conn_order(step: &Step, conns: &mut BTreeMap<String, ConnState>) -> Result<(), String> {
    let Some(conn) = step.kind.conn() else {
        return Ok(());
    };
    match (&step.kind, conns.get(conn)) {
        (StepKind::WsOpen { reject, .. }, None) => {
            let state = if reject.is_some() {
                ConnState::Ended
            } else {
                ConnState::Open
            };
            conns.insert(conn.to_owned(), state);
            Ok(())
        }
        (StepKind::WsOpen { .. }, Some(_)) => Err(format!(
            "connection {conn:?} is opened twice; name each connection once (c1, c2, ...)"
        )),
        (_, None) => Err(format!(
            "connection {conn:?} is used before its ws_open step"
        )),
        (_, Some(ConnState::Ended)) => Err(format!(
            "connection {conn:?} is used after it was closed, dropped, stalled or rejected"
        )),
        (StepKind::Close { .. } | StepKind::Drop { .. } | StepKind::Stall { .. }, Some(_)) => {
            conns.insert(conn.to_owned(), ConnState::Ended);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn parse_header(mut obj: Map<String, Value>) -> Result<Header, String> {
    let version = obj
        .remove("fixture")
        .ok_or("the first line must be the header, with \"fixture\": <version>")?
        .as_u64()
        .ok_or("\"fixture\" must be a version number")?;
    if !KNOWN_VERSIONS.contains(&version) {
        return Err(format!(
            "unknown fixture version {version} (known: {KNOWN_VERSIONS:?})"
        ));
    }
    let platform = take_str(&mut obj, "platform")?.ok_or("the header needs \"platform\"")?;
    let title = take_str(&mut obj, "title")?.ok_or("the header needs \"title\"")?;
    let source = take_str(&mut obj, "source")?;
    let notes = take_str(&mut obj, "notes")?;
    let _ = obj.remove("recorded_at");
    let config = obj.remove("config").unwrap_or(Value::Object(Map::new()));
    if !config.is_object() {
        return Err("\"config\" must be an object".into());
    }
    let ignore_c2s = match obj.remove("ignore_c2s") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("\"ignore_c2s\" must be an array of patterns".into()),
    };
    let keepalive = match obj.remove("keepalive") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|k| match k {
                Value::Object(mut k) => {
                    let c2s = k.remove("c2s").ok_or("a keepalive needs \"c2s\"")?;
                    let s2c = k.remove("s2c").ok_or("a keepalive needs \"s2c\"")?;
                    reject_unknown(&k, "keepalive")?;
                    Ok(Keepalive { c2s, s2c })
                }
                _ => Err("a keepalive must be {\"c2s\": PATTERN, \"s2c\": FRAME}".to_owned()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"keepalive\" must be an array".into()),
    };
    let demo = take_bool(&mut obj, "demo")?;
    reject_unknown(&obj, "header")?;
    Ok(Header {
        version,
        platform,
        title,
        source,
        notes,
        config,
        ignore_c2s,
        keepalive,
        demo,
    })
}

fn reject_unknown(obj: &Map<String, Value>, what: &str) -> Result<(), String> {
    match obj.keys().next() {
        Some(k) => Err(format!("unknown key {k:?} in {what}")),
        None => Ok(()),
    }
}

fn take_str(obj: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key:?} must be a string")),
    }
}

fn take_map(
    obj: &mut Map<String, Value>,
    key: &str,
    lower: bool,
) -> Result<BTreeMap<String, Value>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => Ok(m
            .into_iter()
            .map(|(k, v)| (if lower { k.to_ascii_lowercase() } else { k }, v))
            .collect()),
        Some(_) => Err(format!("{key:?} must be an object")),
    }
}

fn take_bool(obj: &mut Map<String, Value>, key: &str) -> Result<bool, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(format!("{key:?} must be true or false")),
    }
}

fn take_exact(obj: &mut Map<String, Value>) -> Result<bool, String> {
    match take_str(obj, "match")?.as_deref() {
        None | Some("partial") => Ok(false),
        Some("exact") => Ok(true),
        Some(other) => Err(format!(
            "\"match\" must be \"partial\" or \"exact\", not {other:?}"
        )),
    }
}

/// Takes the payload keys (`json`, `text`, `b64`, and `form` when allowed) out of `obj`.
fn take_payload(obj: &mut Map<String, Value>, allow_form: bool) -> Result<Option<Payload>, String> {
    let _ = obj.remove("decoded");
    let mut found = Vec::new();
    if let Some(v) = obj.remove("json") {
        found.push(Payload::Json(v));
    }
    if let Some(v) = obj.remove("text") {
        found.push(Payload::Text(
            v.as_str().ok_or("\"text\" must be a string")?.to_owned(),
        ));
    }
    if let Some(v) = obj.remove("b64") {
        let s = v.as_str().ok_or("\"b64\" must be a string")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("\"b64\" is not valid base64: {e}"))?;
        found.push(Payload::Binary(bytes));
    }
    if allow_form {
        let form = take_map(obj, "form", false)?;
        if !form.is_empty() {
            found.push(Payload::Form(form));
        }
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err("give only one of \"json\", \"text\", \"b64\" (or \"form\")".into()),
    }
}

fn take_conn(obj: &mut Map<String, Value>, key: &str) -> Result<String, String> {
    let conn = take_str(obj, key)?.ok_or_else(|| format!("{key:?} must name a connection"))?;
    if conn.is_empty() {
        return Err(format!("{key:?} must name a connection"));
    }
    Ok(conn)
}

fn parse_response(v: Value) -> Result<ResponseSpec, String> {
    let Value::Object(mut obj) = v else {
        return Err("a response must be an object".into());
    };
    let status = match obj.remove("status") {
        None => 200,
        Some(v) => v
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..=599).contains(s))
            .ok_or("\"status\" must be an HTTP status code")?,
    };
    let headers = take_map(&mut obj, "headers", true)?
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(format!("response header {k:?} must be a string")),
        })
        .collect::<Result<_, String>>()?;
    let mut set_cookies = Vec::new();
    match obj.remove("set_cookies") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Value::Object(mut c) = item else {
                    return Err("each of \"set_cookies\" must be an object".into());
                };
                let name = take_str(&mut c, "name")?.ok_or("a cookie needs \"name\"")?;
                let value = take_str(&mut c, "value")?.unwrap_or_default();
                let path = take_str(&mut c, "path")?.unwrap_or_else(|| "/".into());
                let domain = take_str(&mut c, "domain")?;
                let max_age = c.remove("max_age").and_then(|v| v.as_i64());
                let http_only = take_bool(&mut c, "http_only")?;
                reject_unknown(&c, "cookie")?;
                set_cookies.push(SetCookie {
                    name,
                    value,
                    path,
                    domain,
                    max_age,
                    http_only,
                });
            }
        }
        Some(_) => return Err("\"set_cookies\" must be an array".into()),
    }
    let body = take_payload(&mut obj, false)?;
    let stall = take_bool(&mut obj, "stall")?;
    let drop = take_bool(&mut obj, "drop")?;
    reject_unknown(&obj, "response")?;
    Ok(ResponseSpec {
        status,
        headers,
        set_cookies,
        body,
        stall,
        drop,
    })
}

fn parse_step(line: usize, mut obj: Map<String, Value>) -> Result<Step, String> {
    let t = obj.remove("t").and_then(|v| v.as_u64());
    let _ = obj.remove("note");
    let kind = if let Some(req) = obj.remove("http") {
        let Value::Object(mut r) = req else {
            return Err("\"http\" must be an object".into());
        };
        let method = take_str(&mut r, "method")?
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        let path = take_str(&mut r, "path")?.ok_or("\"http\" needs \"path\"")?;
        if !path.starts_with('/') && !path.starts_with("{{") {
            return Err(format!("the path {path:?} must start with '/'"));
        }
        let query = take_map(&mut r, "query", false)?;
        let headers = take_map(&mut r, "headers", true)?;
        let cookies = take_map(&mut r, "cookies", false)?;
        let exact = take_exact(&mut r)?;
        let body = take_payload(&mut r, true)?;
        reject_unknown(&r, "\"http\"")?;
        let response = parse_response(
            obj.remove("response")
                .ok_or("an http step needs \"response\"")?,
        )?;
        StepKind::Http {
            request: RequestSpec {
                method,
                path,
                query,
                headers,
                cookies,
                body,
                exact,
            },
            response,
        }
    } else if obj.contains_key("ws_open") {
        let conn = take_conn(&mut obj, "ws_open")?;
        let path = take_str(&mut obj, "path")?.unwrap_or_else(|| "/".into());
        let query = take_map(&mut obj, "query", false)?;
        let headers = take_map(&mut obj, "headers", true)?;
        let reject = obj.remove("reject").map(parse_response).transpose()?;
        StepKind::WsOpen {
            conn,
            path,
            query,
            headers,
            reject,
        }
    } else if obj.contains_key("ws") {
        let conn = take_conn(&mut obj, "ws")?;
        let dir =
            take_str(&mut obj, "dir")?.ok_or("a ws step needs \"dir\": \"c2s\" or \"s2c\"")?;
        let exact = take_exact(&mut obj)?;
        let repeat = match obj.remove("repeat") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| (1..=1 << 28).contains(n))
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or("\"repeat\" must be a count from 1 to 2^28")?,
            ),
        };
        let mut payload = take_payload(&mut obj, false)?
            .ok_or("a ws step needs one of \"json\", \"text\", \"b64\"")?;
        if let Some(n) = repeat {
            // Oversize frames without a fixture line of that size.
            match (&payload, dir.as_str()) {
                (Payload::Text(t), "s2c") => payload = Payload::Text(t.repeat(n)),
                _ => return Err("\"repeat\" is for server text frames only".into()),
            }
        }
        match dir.as_str() {
            "c2s" => StepKind::ClientFrame {
                conn,
                payload,
                exact,
            },
            "s2c" => StepKind::ServerFrame { conn, payload },
            other => return Err(format!("\"dir\" must be \"c2s\" or \"s2c\", not {other:?}")),
        }
    } else if obj.contains_key("ws_close") {
        let conn = take_conn(&mut obj, "ws_close")?;
        let by = match take_str(&mut obj, "by")?.as_deref() {
            Some("server") => Side::Server,
            Some("client") => Side::Client,
            _ => return Err("ws_close needs \"by\": \"server\" or \"client\"".into()),
        };
        let code = match obj.remove("code") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|c| u16::try_from(c).ok())
                    .ok_or("\"code\" must be a close code")?,
            ),
        };
        let reason = take_str(&mut obj, "reason")?.unwrap_or_default();
        StepKind::Close {
            conn,
            by,
            code,
            reason,
        }
    } else if obj.contains_key("ws_drop") {
        StepKind::Drop {
            conn: take_conn(&mut obj, "ws_drop")?,
            mid_frame: take_str(&mut obj, "mid_frame")?,
        }
    } else if obj.contains_key("ws_stall") {
        StepKind::Stall {
            conn: take_conn(&mut obj, "ws_stall")?,
        }
    } else if obj.contains_key("action") {
        let name = take_str(&mut obj, "action")?.ok_or("\"action\" must be a name")?;
        let args = obj.remove("args").unwrap_or(Value::Null);
        StepKind::Action { name, args }
    } else {
        let keys: BTreeSet<_> = obj.keys().collect();
        return Err(format!(
            "unknown step {keys:?}: expected one of http, ws_open, ws, ws_close, ws_drop, ws_stall, action, expect"
        ));
    };
    reject_unknown(&obj, "step")?;
    Ok(Step { line, t, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Fixture, LoadError> {
        Fixture::parse("x.jsonl", text)
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}\n{\"ws\":\"c1\",\"dir\":\"s2c\",\"json\":{}}\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.to_string()
                .starts_with("x.jsonl:2: connection \"c1\" is used before"),
            "{e}"
        );

        let e = parse("{\"fixture\":9,\"platform\":\"p\",\"title\":\"t\"}\n").unwrap_err();
        assert!(e.to_string().contains("unknown fixture version 9"), "{e}");

        let e = parse("{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}\n\n{\"wat\":1}\n")
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("unknown step"), "{e}");

        let e =
            parse("{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}\nnot json\n").unwrap_err();
        assert!(
            e.to_string().starts_with("x.jsonl:2: not valid JSON"),
            "{e}"
        );
    }

    #[test]
    fn parses_every_step_kind() {
        let f = parse(concat!(
            "{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\",\"config\":{\"a\":1}}\n",
            "{\"t\":0,\"http\":{\"method\":\"post\",\"path\":\"/x\",\"form\":{\"k\":\"v\"}},\"response\":{\"json\":{\"ok\":true}}}\n",
            "{\"ws_open\":\"c1\",\"path\":\"/chat\"}\n",
            "{\"ws\":\"c1\",\"dir\":\"c2s\",\"json\":{\"cmd\":100},\"match\":\"exact\"}\n",
            "{\"ws\":\"c1\",\"dir\":\"s2c\",\"b64\":\"AAE=\"}\n",
            "{\"action\":\"send\",\"args\":{\"text\":\"hi\"}}\n",
            "{\"ws_close\":\"c1\",\"by\":\"server\",\"code\":1000}\n",
            "{\"expect\":{\"type\":\"x\"}}\n",
        ))
        .unwrap();
        assert_eq!(f.steps.len(), 6);
        assert_eq!(f.expect.len(), 1);
        assert!(
            matches!(&f.steps[0].kind, StepKind::Http { request, .. } if request.method == "POST")
        );
        assert!(matches!(
            &f.steps[2].kind,
            StepKind::ClientFrame { exact: true, .. }
        ));
        assert!(
            matches!(&f.steps[3].kind, StepKind::ServerFrame { payload: Payload::Binary(b), .. } if b == &[0, 1])
        );
        assert!(f.steps[5].kind.is_server_driven());
        assert_eq!(
            f.steps[5].to_string(),
            "line 7: ws_close c1 by server code 1000"
        );
    }

    #[test]
    fn repeat_builds_an_oversize_server_frame_and_keepalives_parse() {
        let f = parse(concat!(
            "{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\",",
            "\"keepalive\":[{\"c2s\":{\"cmd\":0},\"s2c\":{\"cmd\":10000}}]}\n",
            "{\"ws_open\":\"c1\",\"path\":\"/\"}\n",
            "{\"ws\":\"c1\",\"dir\":\"s2c\",\"text\":\"ab\",\"repeat\":3}\n",
        ))
        .unwrap();
        assert!(
            matches!(&f.steps[1].kind, StepKind::ServerFrame { payload: Payload::Text(t), .. } if t == "ababab")
        );
        assert_eq!(f.header.keepalive.len(), 1);
        for bad in [
            "{\"ws\":\"c1\",\"dir\":\"c2s\",\"text\":\"ab\",\"repeat\":3}",
            "{\"ws\":\"c1\",\"dir\":\"s2c\",\"json\":{},\"repeat\":3}",
            "{\"ws\":\"c1\",\"dir\":\"s2c\",\"text\":\"ab\",\"repeat\":0}",
        ] {
            let text = format!(
                "{{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}}\n{{\"ws_open\":\"c1\",\"path\":\"/\"}}\n{bad}\n"
            );
            assert!(parse(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn bless_replaces_expectations() {
        let f =
            parse("{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}\n{\"expect\":1}\n").unwrap();
        let text = f.blessed_text(&[serde_json::json!({"a": 2})]);
        assert_eq!(
            text,
            "{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}\n{\"expect\":{\"a\":2}}\n"
        );
        assert_eq!(parse(&text).unwrap().expect[0].value["a"], 2);
    }
}
