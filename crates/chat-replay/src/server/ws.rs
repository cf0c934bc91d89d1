//! The WebSocket side of a replay: an upgrade is matched against the script's `ws_open` steps,
//! then each connection is a lane that plays its server steps in order and checks the
//! client's frames against its client steps, answering keepalives and passing over ignored
//! frames on the way.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::Inner;
use super::http::{Body, Seen, build_response, ctx, match_headers, match_pairs, text_response};
use crate::fixture::{Payload, StepKind, truncate};
use crate::pattern::{self, Mismatch, Vars};

pub(super) fn handle_upgrade(
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

impl Inner {
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
