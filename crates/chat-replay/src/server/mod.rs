//! [`ReplayServer`]: one loopback port serving the HTTP and WebSocket side of a fixture.
//!
//! This file holds the public handle, the replay state every connection shares (which steps
//! happened, the captured variables, the problems seen) and the tasks that accept connections
//! and hand out the scripted actions. `http.rs` matches requests against the script's HTTP
//! steps; `ws.rs` upgrades WebSocket requests and plays each scripted connection.

mod http;
mod ws;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use chatwire_net::lock;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::fixture::{Fixture, Side, StepKind};
use crate::pattern::{self, Vars};

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
            let service = service_fn(move |req| http::handle(Arc::clone(&svc_inner), req));
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
