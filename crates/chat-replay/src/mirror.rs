//! A client that plays the client side of any fixture straight from its script.
//!
//! It proves a fixture is self-consistent (every expectation can be met, every placeholder
//! resolves, the steps are in a playable order) without a protocol crate, and it drives the
//! `replay` self-test fixtures. What it observes (server frames, responses, closes, actions)
//! becomes its list of events.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::fixture::{Payload, RequestSpec, Side, StepKind};
use crate::pattern::{self, Vars};
use crate::server::ReplayServer;
use crate::urlencoded;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the mirror waits for any one thing before calling the fixture unplayable.
const PATIENCE: Duration = Duration::from_secs(10);

/// Plays `server`'s fixture from the client side and returns what it observed.
///
/// # Errors
/// A description of the first step that could not be played.
pub async fn play(server: &ReplayServer) -> Result<Vec<Value>, String> {
    let fixture = std::sync::Arc::clone(server.fixture());
    let mut actions = server.take_actions();
    let mut vars = Vars::new();
    vars.insert("http_base".into(), json!(server.http_base()));
    vars.insert("ws_base".into(), json!(server.ws_base()));
    let mut conns: BTreeMap<String, Ws> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &fixture.steps {
        let at = |e: String| format!("{step}: {e}");
        match &step.kind {
            StepKind::Http { request, response } => {
                if response.stall {
                    // Never answered: send it and move on.
                    out.push(json!({"http": describe(request), "stalled": true}));
                    let server_ref = server;
                    let (server, request, mut v) =
                        (server.http_base().to_owned(), request.clone(), vars.clone());
                    tokio::spawn(async move {
                        let _ = http(&server, &request, &mut v).await;
                    });
                    // Later steps may depend on it: go on once the server has it.
                    server_ref.wait_line(step.line).await;
                    continue;
                }
                match timeout(http(server.http_base(), request, &mut vars))
                    .await
                    .map_err(at)?
                {
                    Ok((status, body)) => {
                        out.push(
                            json!({"http": describe(request), "status": status, "body": body}),
                        );
                    }
                    Err(_) if response.drop => {
                        out.push(json!({"http": describe(request), "dropped": true}));
                    }
                    Err(e) => return Err(at(e)),
                }
            }
            StepKind::WsOpen {
                conn,
                path,
                query,
                headers,
                reject,
            } => {
                let url = format!(
                    "{}{}{}",
                    server.ws_base(),
                    pattern::instantiate_str(path, &mut vars),
                    query_string(query, &mut vars)
                );
                let mut req = url.into_client_request().map_err(|e| at(e.to_string()))?;
                for (k, v) in headers {
                    let v = instantiate_text(v, &mut vars);
                    let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                        .map_err(|e| at(e.to_string()))?;
                    req.headers_mut()
                        .insert(name, v.parse().map_err(|_| at(format!("bad header {k}")))?);
                }
                match timeout(async {
                    Ok(tokio_tungstenite::connect_async(req)
                        .await
                        .map_err(|e| e.to_string()))
                })
                .await
                .map_err(at)?
                {
                    Ok((ws, _)) if reject.is_none() => {
                        conns.insert(conn.clone(), ws);
                    }
                    Ok(_) => {
                        return Err(at(
                            "the upgrade was accepted, but the script rejects it".into()
                        ));
                    }
                    Err(e) if reject.is_some() => out.push(json!({"conn": conn, "rejected": e})),
                    Err(e) => return Err(at(e)),
                }
            }
            StepKind::ClientFrame { conn, payload, .. } => {
                let ws = conns
                    .get_mut(conn)
                    .ok_or_else(|| at("connection is not open".into()))?;
                let msg = match payload {
                    Payload::Json(p) => {
                        Message::text(pattern::instantiate(p, &mut vars).to_string())
                    }
                    Payload::Text(t) => Message::text(pattern::instantiate_str(t, &mut vars)),
                    Payload::Binary(b) => Message::binary(b.clone()),
                    Payload::Form(_) => return Err(at("a form cannot be a frame".into())),
                };
                ws.send(msg).await.map_err(|e| at(e.to_string()))?;
            }
            StepKind::ServerFrame { conn, .. } => {
                let ws = conns
                    .get_mut(conn)
                    .ok_or_else(|| at("connection is not open".into()))?;
                let frame = match timeout(next_data(ws)).await.map_err(at)? {
                    Some(Message::Text(t)) => serde_json::from_str::<Value>(t.as_str())
                        .map_or_else(|_| json!({"text": t.as_str()}), |v| json!({"json": v})),
                    Some(Message::Binary(b)) => json!({"bytes": b.len()}),
                    other => return Err(at(format!("expected a frame, got {other:?}"))),
                };
                let mut frame = frame;
                frame["conn"] = json!(conn);
                out.push(frame);
            }
            StepKind::Close {
                conn,
                by: Side::Server,
                ..
            } => {
                let ws = conns
                    .get_mut(conn)
                    .ok_or_else(|| at("connection is not open".into()))?;
                match timeout(next_data(ws)).await.map_err(at)? {
                    Some(Message::Close(f)) => {
                        out.push(json!({"conn": conn, "closed": f.map(|f| u16::from(f.code))}));
                    }
                    other => return Err(at(format!("expected a close, got {other:?}"))),
                }
                conns.remove(conn);
            }
            StepKind::Close {
                conn,
                by: Side::Client,
                code,
                ..
            } => {
                let mut ws = conns
                    .remove(conn)
                    .ok_or_else(|| at("connection is not open".into()))?;
                let frame = CloseFrame {
                    code: code.unwrap_or(1000).into(),
                    reason: "".into(),
                };
                ws.close(Some(frame)).await.map_err(|e| at(e.to_string()))?;
                while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, ws.next()).await {}
            }
            StepKind::Drop { conn, .. } => {
                let ws = conns
                    .get_mut(conn)
                    .ok_or_else(|| at("connection is not open".into()))?;
                match timeout(next_data(ws)).await.map_err(at)? {
                    None => out.push(json!({"conn": conn, "dropped": true})),
                    other => {
                        return Err(at(format!("expected the socket to vanish, got {other:?}")));
                    }
                }
                conns.remove(conn);
            }
            StepKind::Stall { conn } => {
                out.push(json!({"conn": conn, "stalled": true}));
                conns.remove(conn);
            }
            StepKind::Action { .. } => {
                let actions = actions
                    .as_mut()
                    .ok_or_else(|| at("actions were taken by someone else".into()))?;
                let action = timeout(async { Ok(actions.next().await) })
                    .await
                    .map_err(at)?;
                let action =
                    action.ok_or_else(|| at("the server ended before the action".into()))?;
                out.push(json!({"action": action.name, "args": action.args}));
            }
        }
    }
    Ok(out)
}

/// The next data or close frame; `None` when the socket vanished without a close frame.
async fn next_data(ws: &mut Ws) -> Result<Option<Message>, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(m)) => return Ok(Some(m)),
            Some(Err(_)) | None => return Ok(None),
        }
    }
}

async fn timeout<T>(f: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(PATIENCE, f)
        .await
        .map_err(|_| "the replay server did not answer (timed out)".to_owned())?
}

fn describe(r: &RequestSpec) -> String {
    format!("{} {}", r.method, r.path)
}

fn instantiate_text(v: &Value, vars: &mut Vars) -> String {
    match v {
        Value::String(s) => pattern::instantiate_str(s, vars),
        other => other.to_string(),
    }
}

fn query_string(q: &BTreeMap<String, Value>, vars: &mut Vars) -> String {
    if q.is_empty() {
        return String::new();
    }
    let pairs = q.iter().map(|(k, v)| (k, instantiate_text(v, vars)));
    format!("?{}", urlencoded::join(pairs))
}

/// One HTTP/1.1 request over a fresh connection; returns status and body (JSON when it parses).
async fn http(
    base: &str,
    spec: &RequestSpec,
    vars: &mut Vars,
) -> Result<Result<(u16, Value), String>, String> {
    let authority = base.trim_start_matches("http://").to_owned();
    let path = format!(
        "{}{}",
        pattern::instantiate_str(&spec.path, vars),
        query_string(&spec.query, vars)
    );
    // Headers first: a body may reuse what a header pattern captures (a multipart boundary).
    let headers: Vec<(String, String)> = spec
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), instantiate_text(v, vars)))
        .collect();
    let (body, content_type) = match &spec.body {
        None => (Vec::new(), None),
        Some(Payload::Json(p)) => (
            pattern::instantiate(p, vars).to_string().into_bytes(),
            Some("application/json"),
        ),
        Some(Payload::Text(t)) => (
            pattern::instantiate_str(t, vars).into_bytes(),
            Some("text/plain"),
        ),
        Some(Payload::Binary(b)) => (b.clone(), Some("application/octet-stream")),
        Some(Payload::Form(f)) => {
            let pairs = f.iter().map(|(k, v)| (k, instantiate_text(v, vars)));
            (
                urlencoded::join(pairs).into_bytes(),
                Some("application/x-www-form-urlencoded"),
            )
        }
    };
    let mut req = hyper::Request::builder()
        .method(spec.method.as_str())
        .uri(path)
        .header("host", authority.as_str());
    if let Some(ct) = content_type.filter(|_| !headers.iter().any(|(k, _)| k == "content-type")) {
        req = req.header("content-type", ct);
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    if !spec.cookies.is_empty() {
        let c: Vec<String> = spec
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={}", instantiate_text(v, vars)))
            .collect();
        req = req.header("cookie", c.join("; "));
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let stream = TcpStream::connect(&authority)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = match sender.send_request(req).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Ok((status, body)))
}
