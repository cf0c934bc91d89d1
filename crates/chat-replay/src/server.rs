//! [`ReplayServer`]: one loopback port serving the HTTP and WebSocket side of a fixture.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    CONNECTION, CONTENT_TYPE, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE,
};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use crate::fixture::{Fixture, Payload, RequestSpec, ResponseSpec, Side, Step, StepKind, truncate};
use crate::pattern::{self, Mismatch, Vars};

/// Request bodies larger than this are refused (the client under test is misbehaving).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A client action the fixture scripts at a point in the conversation (send, edit, pin, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The fixture line.
    pub line: usize,
    /// The action name; the crate's runner decides what it means.
    pub name: String,
    /// Arguments, with placeholders substituted.
    pub args: Value,
}

/// The scripted actions, in order, as the conversation reaches them.
#[derive(Debug)]
pub struct Actions(mpsc::UnboundedReceiver<Action>);

impl Actions {
    /// The next action; `None` once the server has finished. Cancel-safe.
    pub async fn next(&mut self) -> Option<Action> {
        self.0.recv().await
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Steps in the script.
    pub steps: usize,
    /// Steps that happened.
    pub consumed: usize,
    /// HTTP requests served (WebSocket upgrades excluded).
    pub http_requests: usize,
    /// WebSocket connections accepted.
    pub ws_connections: usize,
}

/// A replay that did not go as scripted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FinishError {
    /// The fixture file.
    pub fixture: String,
    /// What did happen.
    pub report: Report,
    /// Each problem on one line: unexpected requests or frames (naming the nearest expected
    /// step and the difference), then the steps that never happened.
    pub problems: Vec<String>,
}

impl fmt::Display for FinishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay of {} did not follow the script ({} of {} steps happened):",
            self.fixture, self.report.consumed, self.report.steps
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// A loopback server replaying one fixture over HTTP and WebSocket on one port.
///
/// Client→server frames and HTTP requests are expectations; server steps (frames, closes,
/// drops, stalls, actions) happen as soon as every step written above them has happened. See
/// `docs/fixtures.md` for the whole contract.
#[derive(Debug)]
pub struct ReplayServer {
    inner: Arc<Inner>,
    addr: SocketAddr,
    actions: Mutex<Option<Actions>>,
    alive: tokio::sync::Mutex<Option<mpsc::Receiver<()>>>,
}

#[derive(Debug)]
struct Inner {
    fixture: Arc<Fixture>,
    http_base: String,
    ws_base: String,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    alive: Mutex<Option<mpsc::Sender<()>>>,
    actions_taken: Mutex<bool>,
}

#[derive(Debug, Default)]
struct State {
    consumed: Vec<bool>,
    vars: Vars,
    problems: Vec<String>,
    http_requests: usize,
    ws_connections: usize,
}

type Body = Full<Bytes>;

impl ReplayServer {
    /// Binds `127.0.0.1:0` and starts replaying `fixture`.
    ///
    /// # Errors
    /// When the loopback socket cannot be bound.
    pub async fn start(fixture: impl Into<Arc<Fixture>>) -> std::io::Result<Self> {
        let fixture = fixture.into();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let http_base = format!("http://{addr}");
        let ws_base = format!("ws://{addr}");
        let mut vars = Vars::new();
        vars.insert("http_base".into(), Value::String(http_base.clone()));
        vars.insert("ws_base".into(), Value::String(ws_base.clone()));
        let (alive_tx, alive_rx) = mpsc::channel(1);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                consumed: vec![false; fixture.steps.len()],
                vars,
                ..State::default()
            }),
            fixture,
            http_base,
            ws_base,
            changed: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
            alive: Mutex::new(Some(alive_tx)),
            actions_taken: Mutex::new(false),
        });
        let (actions_tx, actions_rx) = mpsc::unbounded_channel();
        let token = inner.token();
        tokio::spawn(accept_loop(Arc::clone(&inner), listener, token));
        let token = inner.token();
        tokio::spawn(action_driver(Arc::clone(&inner), actions_tx, token));
        Ok(Self {
            inner,
            addr,
            actions: Mutex::new(Some(Actions(actions_rx))),
            alive: tokio::sync::Mutex::new(Some(alive_rx)),
        })
    }

    /// `http://127.0.0.1:PORT`, what `{{http_base}}` expands to.
    pub fn http_base(&self) -> &str {
        &self.inner.http_base
    }

    /// `ws://127.0.0.1:PORT`, what `{{ws_base}}` expands to.
    pub fn ws_base(&self) -> &str {
        &self.inner.ws_base
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fixture being replayed.
    pub fn fixture(&self) -> &Arc<Fixture> {
        &self.inner.fixture
    }

    /// The scripted client actions. Returns `None` after the first call.
    pub fn take_actions(&self) -> Option<Actions> {
        *lock(&self.inner.actions_taken) = true;
        lock(&self.actions).take()
    }

    /// Resolves once every step has happened except the closing sequence the runner triggers
    /// by closing the client: the last `ws_close` with `"by":"client"` and whatever the client
    /// sends after it (such as a "leave" request), when nothing the server does follows it.
    /// Also resolves as soon as something unexpected happened. Cancel-safe.
    pub async fn wait_done(&self) {
        let inner = &self.inner;
        let steps = &inner.fixture.steps;
        let closing = steps
            .iter()
            .rposition(|s| {
                matches!(
                    s.kind,
                    StepKind::Close {
                        by: Side::Client,
                        ..
                    }
                )
            })
            .filter(|&k| steps[k + 1..].iter().all(|s| !s.kind.is_server_driven()))
            .unwrap_or(steps.len());
        let mut changed = inner.changed.subscribe();
        loop {
            {
                let st = inner.state();
                if st.consumed[..closing].iter().all(|c| *c) || !st.problems.is_empty() {
                    return;
                }
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Resolves once every step has happened (the closing sequence included), or as soon as
    /// something unexpected happened. The harness awaits it, bounded, before
    /// [`finish`](Self::finish): a client may close its socket on its own (after the server
    /// ended the session, say) and return before the server has read that close. Cancel-safe.
    pub async fn wait_all(&self) {
        let inner = &self.inner;
        let mut changed = inner.changed.subscribe();
        loop {
            {
                let st = inner.state();
                if st.consumed.iter().all(|c| *c) || !st.problems.is_empty() {
                    return;
                }
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Resolves once the step written on fixture line `line` has happened, or as soon as
    /// something unexpected happened. Cancel-safe.
    pub async fn wait_line(&self, line: usize) {
        let inner = &self.inner;
        let Some(i) = inner.fixture.steps.iter().position(|s| s.line == line) else {
            return;
        };
        let mut changed = inner.changed.subscribe();
        loop {
            {
                let st = inner.state();
                if st.consumed[i] || !st.problems.is_empty() {
                    return;
                }
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops serving, waits for every connection task to end, and checks the script was
    /// followed: no unexpected request or frame, every step consumed.
    ///
    /// # Errors
    /// [`FinishError`] listing every problem.
    pub async fn finish(&self) -> Result<Report, FinishError> {
        self.inner.shutdown.send_replace(true);
        lock(&self.inner.alive).take();
        if let Some(mut rx) = self.alive.lock().await.take() {
            while rx.recv().await.is_some() {}
        }
        let st = self.inner.state();
        let mut problems = st.problems.clone();
        let taken = *lock(&self.inner.actions_taken);
        for (step, done) in self.inner.fixture.steps.iter().zip(&st.consumed) {
            if !done {
                problems.push(format!("never happened: {step}"));
            } else if !taken && matches!(step.kind, StepKind::Action { .. }) {
                problems.push(format!(
                    "the runner did not take the scripted actions: {step}"
                ));
            }
        }
        let report = Report {
            steps: st.consumed.len(),
            consumed: st.consumed.iter().filter(|c| **c).count(),
            http_requests: st.http_requests,
            ws_connections: st.ws_connections,
        };
        if problems.is_empty() {
            Ok(report)
        } else {
            Err(FinishError {
                fixture: self.inner.fixture.path.display().to_string(),
                report,
                problems,
            })
        }
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.inner.shutdown.send_replace(true);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A clone of the liveness token: `finish` waits until every clone is dropped.
type Token = Option<mpsc::Sender<()>>;

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn token(&self) -> Token {
        lock(&self.alive).clone()
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    fn consume(&self, i: usize) {
        self.state().consumed[i] = true;
        self.bump();
    }

    fn problem(&self, p: String) {
        self.state().problems.push(p);
        self.bump();
    }

    fn is_ready(&self, i: usize) -> bool {
        self.state().consumed[..i].iter().all(|c| *c)
    }

    /// Waits until every step before `i` has happened; false on shutdown.
    async fn wait_ready(&self, i: usize) -> bool {
        let mut changed = self.changed.subscribe();
        let mut shutdown = self.shutdown.subscribe();
        loop {
            if *shutdown.borrow_and_update() {
                return false;
            }
            if self.is_ready(i) {
                return true;
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return false },
                _ = shutdown.changed() => return false,
            }
        }
    }

    fn next_in_lane(&self, lane: &str) -> Option<usize> {
        let st = self.state();
        self.fixture.steps.iter().enumerate().find_map(|(i, s)| {
            (!st.consumed[i]
                && s.kind.conn() == Some(lane)
                && !matches!(s.kind, StepKind::WsOpen { .. }))
            .then_some(i)
        })
    }

    fn vars(&self) -> Vars {
        self.state().vars.clone()
    }

    /// The server's answer to a keepalive frame (header `keepalive`), if `frame` is one.
    fn keepalive_answer(&self, frame: &Frame) -> Option<Message> {
        let v = frame.json()?;
        self.fixture.header.keepalive.iter().find_map(|k| {
            pattern::match_value(&k.c2s, &v, false, &mut Vars::new())
                .is_ok()
                .then(|| Message::text(k.s2c.to_string()))
        })
    }

    fn is_ignored(&self, frame: &Frame) -> bool {
        if self.keepalive_answer(frame).is_some() {
            return true;
        }
        self.fixture.header.ignore_c2s.iter().any(|p| {
            let mut scratch = Vars::new();
            match (p, frame) {
                (Value::String(p), Frame::Text(t)) => {
                    pattern::match_str(p, t, &mut scratch).is_ok()
                }
                (p, f) => f
                    .json()
                    .is_some_and(|v| pattern::match_value(p, &v, false, &mut scratch).is_ok()),
            }
        })
    }
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener, token: Token) {
    let _token = token;
    // `wait_for` looks at the current value first: shutdown may have been signalled before
    // this task first ran (a script without connections can finish that fast), and
    // `changed()` would then wait for a change that already happened.
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        // Scripts send several small frames back to back: without this, Nagle's algorithm and
        // delayed ACKs hold the second one for ~40 ms.
        let _ = stream.set_nodelay(true);
        let conn_inner = Arc::clone(&inner);
        let token = inner.token();
        let mut shutdown = inner.shutdown.subscribe();
        tokio::spawn(async move {
            let _token = token;
            let svc_inner = Arc::clone(&conn_inner);
            let service = service_fn(move |req| handle(Arc::clone(&svc_inner), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        });
    }
}

async fn action_driver(inner: Arc<Inner>, tx: mpsc::UnboundedSender<Action>, token: Token) {
    let _token = token;
    for (i, step) in inner.fixture.steps.iter().enumerate() {
        let StepKind::Action { name, args } = &step.kind else {
            continue;
        };
        if !inner.wait_ready(i).await {
            return;
        }
        match pattern::substitute(args, &inner.vars()) {
            Ok(args) => {
                let _ = tx.send(Action {
                    line: step.line,
                    name: name.clone(),
                    args,
                });
            }
            Err(e) => inner.problem(format!("fixture error at {step}: {e}")),
        }
        inner.consume(i);
    }
}

/// An HTTP request as the matcher sees it.
struct Seen<'a> {
    method: &'a str,
    path: &'a str,
    query: BTreeMap<String, String>,
    headers: &'a hyper::HeaderMap,
    body: &'a [u8],
}

impl Seen<'_> {
    fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(
                &self
                    .query
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&"),
            );
        }
        if !self.body.is_empty() {
            s.push_str(" body ");
            s.push_str(&truncate(&String::from_utf8_lossy(self.body), 300));
        }
        s
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

fn ctx(what: &str, m: Mismatch) -> Mismatch {
    Mismatch {
        path: format!("{what}{}", m.path.trim_start_matches('$')),
        why: m.why,
    }
}

fn match_pairs(
    what: &str,
    spec: &BTreeMap<String, Value>,
    actual: &BTreeMap<String, String>,
    exact: bool,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    for (k, p) in spec {
        let Some(a) = actual.get(k) else {
            return Err(Mismatch {
                path: format!("{what}.{k}"),
                why: "missing".into(),
            });
        };
        let p = match p {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        pattern::match_str(&p, a, vars).map_err(|m| ctx(&format!("{what}.{k}"), m))?;
    }
    if exact && let Some(extra) = actual.keys().find(|k| !spec.contains_key(*k)) {
        return Err(Mismatch {
            path: what.into(),
            why: format!("unexpected {extra:?} (match is exact)"),
        });
    }
    Ok(())
}

fn match_headers(
    spec: &BTreeMap<String, Value>,
    seen: &Seen<'_>,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    let actual = spec
        .keys()
        .filter_map(|k| Some((k.clone(), seen.header(k)?)))
        .collect();
    match_pairs("headers", spec, &actual, false, vars)
}

fn match_request(spec: &RequestSpec, seen: &Seen<'_>, vars: &mut Vars) -> Result<(), Mismatch> {
    if !spec.method.eq_ignore_ascii_case(seen.method) {
        return Err(Mismatch {
            path: "method".into(),
            why: format!("expected {}, got {}", spec.method, seen.method),
        });
    }
    pattern::match_str(&spec.path, seen.path, vars).map_err(|m| ctx("path", m))?;
    match_pairs("query", &spec.query, &seen.query, spec.exact, vars)?;
    match_headers(&spec.headers, seen, vars)?;
    if !spec.cookies.is_empty() {
        let cookies = seen
            .headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .flat_map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(';')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter_map(|kv| {
                kv.trim()
                    .split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        match_pairs("cookies", &spec.cookies, &cookies, false, vars)?;
    }
    match &spec.body {
        None => Ok(()),
        Some(Payload::Json(p)) => {
            let actual: Value = serde_json::from_slice(seen.body).map_err(|_| Mismatch {
                path: "body".into(),
                why: format!(
                    "expected JSON, got {:?}",
                    truncate(&String::from_utf8_lossy(seen.body), 120)
                ),
            })?;
            pattern::match_value(p, &actual, spec.exact, vars).map_err(|m| ctx("body", m))
        }
        Some(Payload::Text(p)) => pattern::match_str(p, &String::from_utf8_lossy(seen.body), vars)
            .map_err(|m| ctx("body", m)),
        Some(Payload::Binary(b)) => {
            (b.as_slice() == seen.body)
                .then_some(())
                .ok_or_else(|| Mismatch {
                    path: "body".into(),
                    why: format!(
                        "expected {} bytes, got {} different bytes",
                        b.len(),
                        seen.body.len()
                    ),
                })
        }
        Some(Payload::Form(p)) => {
            let form = parse_urlencoded(&String::from_utf8_lossy(seen.body));
            match_pairs("form", p, &form, spec.exact, vars)
        }
    }
}

/// Decodes `a=b&c=d` (percent-escapes and `+`); the last of repeated keys wins.
pub(crate) fn parse_urlencoded(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn build_response(spec: &ResponseSpec, vars: &Vars) -> Result<Response<Body>, String> {
    let (body, content_type) = match &spec.body {
        None => (Vec::new(), None),
        Some(Payload::Json(v)) => (
            serde_json::to_vec(&pattern::substitute(v, vars)?).map_err(|e| e.to_string())?,
            Some("application/json"),
        ),
        Some(Payload::Text(t)) => (
            pattern::substitute_str(t, vars)?.into_bytes(),
            Some("text/plain; charset=utf-8"),
        ),
        Some(Payload::Binary(b)) => (b.clone(), Some("application/octet-stream")),
        Some(Payload::Form(f)) => {
            let s = f
                .iter()
                .map(|(k, v)| Ok(format!("{k}={}", pattern::substitute_str(&text(v), vars)?)))
                .collect::<Result<Vec<_>, String>>()?
                .join("&");
            (s.into_bytes(), Some("application/x-www-form-urlencoded"))
        }
    };
    let mut builder = Response::builder().status(spec.status);
    if let Some(ct) = content_type
        && !spec.headers.contains_key("content-type")
    {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    for (k, v) in &spec.headers {
        builder = builder.header(k.as_str(), pattern::substitute_str(v, vars)?);
    }
    for c in &spec.set_cookies {
        let mut s = format!(
            "{}={}; Path={}",
            c.name,
            pattern::substitute_str(&c.value, vars)?,
            c.path
        );
        if let Some(d) = &c.domain {
            s.push_str("; Domain=");
            s.push_str(d);
        }
        if let Some(m) = c.max_age {
            s.push_str("; Max-Age=");
            s.push_str(&m.to_string());
        }
        if c.http_only {
            s.push_str("; HttpOnly");
        }
        builder = builder.header(hyper::header::SET_COOKIE, s);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("invalid response: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    let has = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(CONNECTION, "upgrade") && has(UPGRADE, "websocket")
}

/// Why serving a request ends without a response (the `drop` fault).
#[derive(Debug)]
struct Dropped;
impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scripted drop")
    }
}
impl std::error::Error for Dropped {}

async fn handle(inner: Arc<Inner>, mut req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(parse_urlencoded).unwrap_or_default();
    if is_upgrade(&req) {
        return Ok(handle_upgrade(inner, &mut req, &path, query));
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(text_response(
                StatusCode::BAD_REQUEST,
                format!("chat-replay: cannot read body: {e}"),
            ));
        }
    };
    let seen = Seen {
        method: &method,
        path: &path,
        query,
        headers: &parts.headers,
        body: &body,
    };
    let found = {
        let mut st = inner.state();
        st.http_requests += 1;
        let mut found = None;
        for (i, step) in inner.fixture.steps.iter().enumerate() {
            let StepKind::Http { request, response } = &step.kind else {
                continue;
            };
            if st.consumed[i] {
                continue;
            }
            let mut vars = st.vars.clone();
            if match_request(request, &seen, &mut vars).is_ok() {
                st.vars = vars;
                st.consumed[i] = true;
                found = Some((response.clone(), st.vars.clone()));
                break;
            }
        }
        found
    };
    inner.bump();
    let Some((response, vars)) = found else {
        let msg = format!(
            "unexpected request {}: {}",
            seen.describe(),
            nearest_http(&inner, &seen)
        );
        inner.problem(msg.clone());
        return Ok(text_response(
            StatusCode::NOT_IMPLEMENTED,
            format!("chat-replay: {msg}"),
        ));
    };
    if response.drop {
        return Err(Dropped);
    }
    if response.stall {
        let mut shutdown = inner.shutdown.subscribe();
        let _ = shutdown.wait_for(|s| *s).await;
        return Err(Dropped);
    }
    match build_response(&response, &vars) {
        Ok(r) => Ok(r),
        Err(e) => {
            inner.problem(format!(
                "fixture error in the response to {}: {e}",
                seen.describe()
            ));
            Ok(text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("chat-replay: {e}"),
            ))
        }
    }
}

fn nearest_http(inner: &Inner, seen: &Seen<'_>) -> String {
    let st = inner.state();
    let candidates: Vec<(&Step, &RequestSpec)> = inner
        .fixture
        .steps
        .iter()
        .zip(&st.consumed)
        .filter(|(_, done)| !**done)
        .filter_map(|(s, _)| match &s.kind {
            StepKind::Http { request, .. } => Some((s, request)),
            _ => None,
        })
        .collect();
    if candidates.is_empty() {
        return "no HTTP request was expected any more".into();
    }
    let same_route = |r: &RequestSpec| {
        r.method.eq_ignore_ascii_case(seen.method)
            && pattern::match_str(&r.path, seen.path, &mut st.vars.clone()).is_ok()
    };
    let (step, spec) = candidates
        .iter()
        .find(|(_, r)| same_route(r))
        .or_else(|| candidates.first())
        .copied()
        .expect("invariant: candidates is not empty");
    let why = match_request(spec, seen, &mut st.vars.clone())
        .err()
        .map(|m| m.to_string())
        .unwrap_or_default();
    format!("nearest expected step is {step} ({why})")
}

fn handle_upgrade(
    inner: Arc<Inner>,
    req: &mut Request<Incoming>,
    path: &str,
    query: BTreeMap<String, String>,
) -> Response<Body> {
    let seen = Seen {
        method: "GET",
        path,
        query,
        headers: req.headers(),
        body: &[],
    };
    let matched = {
        let mut st = inner.state();
        let mut matched = None;
        let mut nearest = None;
        for (i, step) in inner.fixture.steps.iter().enumerate() {
            let StepKind::WsOpen {
                conn,
                path: p,
                query: q,
                headers,
                reject,
            } = &step.kind
            else {
                continue;
            };
            if st.consumed[i] {
                continue;
            }
            let mut vars = st.vars.clone();
            let r = pattern::match_str(p, seen.path, &mut vars)
                .map_err(|m| ctx("path", m))
                .and_then(|()| match_pairs("query", q, &seen.query, false, &mut vars))
                .and_then(|()| match_headers(headers, &seen, &mut vars));
            match r {
                Ok(()) => {
                    st.vars = vars;
                    st.consumed[i] = true;
                    st.ws_connections += 1;
                    matched = Some((conn.clone(), reject.clone(), st.vars.clone()));
                    break;
                }
                Err(m) if nearest.is_none() => {
                    nearest = Some(format!("nearest expected step is {step} ({m})"));
                }
                Err(_) => {}
            }
        }
        matched.ok_or_else(|| {
            nearest.unwrap_or_else(|| "no WebSocket connection was expected any more".into())
        })
    };
    inner.bump();
    let (lane, reject, vars) = match matched {
        Ok(m) => m,
        Err(why) => {
            let msg = format!(
                "unexpected WebSocket connection to {}: {why}",
                seen.describe()
            );
            inner.problem(msg.clone());
            return text_response(StatusCode::NOT_FOUND, format!("chat-replay: {msg}"));
        }
    };
    if let Some(reject) = reject {
        return build_response(&reject, &vars).unwrap_or_else(|e| {
            text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("chat-replay: {e}"),
            )
        });
    }
    let Some(key) = req
        .headers()
        .get(SEC_WEBSOCKET_KEY)
        .map(|k| derive_accept_key(k.as_bytes()))
    else {
        inner.problem(format!(
            "WebSocket upgrade to {path} without Sec-WebSocket-Key"
        ));
        return text_response(
            StatusCode::BAD_REQUEST,
            "chat-replay: missing Sec-WebSocket-Key".into(),
        );
    };
    let upgrade = hyper::upgrade::on(req);
    let token = inner.token();
    tokio::spawn(async move {
        let _token = token;
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        run_lane(inner, lane, ws).await;
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&key) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

/// A data frame received from the client.
#[derive(Debug)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl Frame {
    fn json(&self) -> Option<Value> {
        match self {
            Self::Text(t) => serde_json::from_str(t).ok(),
            Self::Binary(b) => serde_json::from_slice(b).ok(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Text(t) => truncate(t, 300),
            Self::Binary(b) => format!("<{} binary bytes>", b.len()),
        }
    }

    fn matches(&self, payload: &Payload, exact: bool, vars: &mut Vars) -> Result<(), Mismatch> {
        match (payload, self) {
            (Payload::Json(p), f) => {
                let v = f.json().ok_or_else(|| Mismatch {
                    path: "$".into(),
                    why: "the frame is not JSON".into(),
                })?;
                pattern::match_value(p, &v, exact, vars)
            }
            (Payload::Text(p), Self::Text(t)) => pattern::match_str(p, t, vars),
            (Payload::Binary(p), Self::Binary(b)) if p == b => Ok(()),
            _ => Err(Mismatch {
                path: "$".into(),
                why: "different frame type or bytes".into(),
            }),
        }
    }
}

/// What reading the socket produced.
enum Read {
    Data(Frame),
    Close(Option<u16>),
    Gone,
    Shutdown,
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn read(ws: &mut Ws, shutdown: &mut watch::Receiver<bool>) -> Read {
    loop {
        if *shutdown.borrow_and_update() {
            return Read::Shutdown;
        }
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = shutdown.changed() => return Read::Shutdown,
        };
        return match msg {
            Some(Ok(Message::Text(t))) => Read::Data(Frame::Text(t.as_str().to_owned())),
            Some(Ok(Message::Binary(b))) => Read::Data(Frame::Binary(b.to_vec())),
            Some(Ok(Message::Close(frame))) => Read::Close(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => Read::Gone,
        };
    }
}

/// Reads the next frame of a scripted connection, answering keepalives on the way.
async fn read_lane(inner: &Inner, ws: &mut Ws, shutdown: &mut watch::Receiver<bool>) -> Read {
    loop {
        match read(ws, shutdown).await {
            Read::Data(f) => match inner.keepalive_answer(&f) {
                Some(answer) => {
                    if ws.send(answer).await.is_err() {
                        return Read::Gone;
                    }
                }
                None => return Read::Data(f),
            },
            other => return other,
        }
    }
}

/// Writes a text frame's header and the first half of its payload straight to the socket
/// (under tungstenite, which only writes whole frames): the connection is then dropped
/// mid-frame.
async fn write_partial_frame(ws: &mut Ws, text: &str) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let payload = text.as_bytes();
    // FIN + text opcode; a server's frames are not masked.
    let mut frame = vec![0x81u8];
    match payload.len() {
        n @ 0..=125 => frame.push(u8::try_from(n).unwrap_or(125)),
        n @ 126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&payload[..payload.len() / 2]);
    let io = ws.get_mut();
    io.write_all(&frame).await?;
    io.flush().await
}

/// Lets the close handshake finish (tungstenite answers a close while we keep reading).
async fn drain(ws: &mut Ws, shutdown: &mut watch::Receiver<bool>) {
    while let Read::Data(_) = read(ws, shutdown).await {}
}

async fn run_lane(inner: Arc<Inner>, lane: String, mut ws: Ws) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        let Some(i) = inner.next_in_lane(&lane) else {
            // The script for this connection is over: anything but keepalives is unexpected.
            match read_lane(&inner, &mut ws, &mut shutdown).await {
                Read::Data(f) if inner.is_ignored(&f) => continue,
                Read::Data(f) => {
                    inner.problem(format!(
                        "unexpected frame on {lane} after its last scripted step: {}",
                        f.describe()
                    ));
                    continue;
                }
                Read::Close(_) => return drain(&mut ws, &mut shutdown).await,
                Read::Gone | Read::Shutdown => return,
            }
        };
        let step = &inner.fixture.steps[i];
        if step.kind.is_server_driven() {
            let mut changed = inner.changed.subscribe();
            while !inner.is_ready(i) {
                tokio::select! {
                    r = changed.changed() => if r.is_err() { return },
                    r = read_lane(&inner, &mut ws, &mut shutdown) => match r {
                        Read::Data(f) if inner.is_ignored(&f) => {}
                        Read::Data(f) => inner.problem(format!(
                            "unexpected frame on {lane}: {} (the server was about to do {step})",
                            f.describe()
                        )),
                        Read::Close(code) => {
                            inner.problem(format!("client closed {lane} (code {code:?}) before {step}"));
                            return drain(&mut ws, &mut shutdown).await;
                        }
                        Read::Gone | Read::Shutdown => return,
                    },
                }
            }
            match &step.kind {
                StepKind::ServerFrame { payload, .. } => {
                    let vars = inner.vars();
                    let msg = match payload {
                        Payload::Json(v) => {
                            pattern::substitute(v, &vars).map(|v| Message::text(v.to_string()))
                        }
                        Payload::Text(t) => pattern::substitute_str(t, &vars).map(Message::text),
                        Payload::Binary(b) => Ok(Message::binary(b.clone())),
                        Payload::Form(_) => Err("a form payload cannot be a frame".into()),
                    };
                    match msg {
                        Ok(msg) => {
                            // The server did its step even when the client is gone (it may
                            // have dropped the connection on purpose: an oversize frame).
                            let sent = ws.send(msg).await;
                            inner.consume(i);
                            if sent.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            inner.problem(format!("fixture error at {step}: {e}"));
                            inner.consume(i);
                        }
                    }
                }
                StepKind::Close { code, reason, .. } => {
                    let frame = CloseFrame {
                        code: code.unwrap_or(1000).into(),
                        reason: reason.clone().into(),
                    };
                    let _ = ws.send(Message::Close(Some(frame))).await;
                    inner.consume(i);
                    return drain(&mut ws, &mut shutdown).await;
                }
                StepKind::Drop { mid_frame, .. } => {
                    if let Some(text) = mid_frame {
                        let _ = write_partial_frame(&mut ws, text).await;
                    }
                    inner.consume(i);
                    return;
                }
                StepKind::Stall { .. } => {
                    inner.consume(i);
                    let _ = shutdown.wait_for(|s| *s).await;
                    return;
                }
                _ => unreachable!(
                    "invariant: server-driven lane steps are frames, closes, drops and stalls"
                ),
            }
            continue;
        }
        // A client-driven step: the next frame (or close) must match it.
        match read_lane(&inner, &mut ws, &mut shutdown).await {
            Read::Data(f) => {
                let StepKind::ClientFrame { payload, exact, .. } = &step.kind else {
                    if !inner.is_ignored(&f) {
                        inner.problem(format!(
                            "unexpected frame on {lane}: {} (expected {step})",
                            f.describe()
                        ));
                    }
                    continue;
                };
                let mut vars = inner.vars();
                match f.matches(payload, *exact, &mut vars) {
                    Ok(()) => {
                        inner.state().vars = vars;
                        inner.consume(i);
                    }
                    Err(_) if inner.is_ignored(&f) => {}
                    Err(m) => inner.problem(format!(
                        "unexpected frame on {lane}: {} (expected {step}: {m})",
                        f.describe()
                    )),
                }
            }
            Read::Close(code) => {
                match &step.kind {
                    StepKind::Close {
                        code: Some(want), ..
                    } if code != Some(*want) => {
                        inner.problem(format!(
                            "client closed {lane} with code {code:?}, expected {step}"
                        ));
                    }
                    StepKind::Close { .. } => inner.consume(i),
                    _ => inner.problem(format!(
                        "client closed {lane} (code {code:?}) but the script expected {step}"
                    )),
                }
                return drain(&mut ws, &mut shutdown).await;
            }
            Read::Gone => {
                if matches!(step.kind, StepKind::Close { code: None, .. }) {
                    inner.consume(i);
                }
                return;
            }
            Read::Shutdown => return,
        }
    }
}
