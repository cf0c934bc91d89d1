//! The loopback Chzzk server of the end-to-end and scale benches: the two HTTP calls a client
//! makes before it joins (live status, access token) and the chat socket, on one port.
//!
//! After a client's CONNECT it answers CONNECTED, then (when `push` is set) writes `push` chat
//! lines as cmd 93101 frames straight onto the socket, as fast as the socket takes them; after
//! that, and on every connection when `push` is 0, it only answers PINGs.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// Stands for the three times of a template line (`msgTime`, `ctime`, `utime`); never a real
/// time in the fixtures.
const SENTINEL: &str = "1999999999999";

/// What the server plays, from the spec file `cargo xtask bench` writes out of
/// `fixtures/chzzk/chat_lines.jsonl`.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The live-status `content`.
    live_status: Value,
    /// The access-token `content`.
    access_token: Value,
    /// The chat channel of the live status.
    chat_channel_id: String,
    /// Each template line's JSON text, split where its times go.
    templates: Vec<Vec<String>>,
}

impl Spec {
    /// Reads `{"channel_id", "live_status", "access_token", "lines": [line, ...]}`.
    pub(crate) fn load(path: &str) -> Spec {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let chat_channel_id = doc["live_status"]["chatChannelId"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: live_status has no chatChannelId"))
            .to_owned();
        let templates: Vec<Vec<String>> = doc["lines"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no \"lines\" array"))
            .iter()
            .map(|line| {
                let mut line = line.clone();
                let sentinel: u64 = SENTINEL.parse().unwrap_or_default();
                for key in ["msgTime", "ctime", "utime"] {
                    line[key] = sentinel.into();
                }
                line.to_string()
                    .split(SENTINEL)
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        assert!(!templates.is_empty(), "{path}: no lines");
        Spec {
            live_status: doc["live_status"].clone(),
            access_token: doc["access_token"].clone(),
            chat_channel_id,
            templates,
        }
    }
}

/// What every connection gets.
#[derive(Debug)]
struct State {
    spec: Spec,
    /// Chat lines to push after each join (0: none, answer PINGs only).
    push: u64,
    /// The first line's time; line `i` is sent at `base + i` ms, so every line has its own
    /// (author, time) key and none is dropped as a duplicate.
    base_ms: u64,
    joins: AtomicU64,
    pings: AtomicU64,
}

/// Serves on `127.0.0.1` (a free port), printing `{"port": P}` on stdout, until stdin ends;
/// then prints `{"joins", "pings"}` and returns.
pub(crate) fn run(spec: Spec, push: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let state = Arc::new(State {
        spec,
        push,
        base_ms: 1_790_000_000_000,
        joins: AtomicU64::new(0),
        pings: AtomicU64::new(0),
    });
    rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("a bound port").port();
        println!("{}", json!({ "port": port }));
        std::io::stdout().flush().expect("stdout");
        let accept = {
            let state = Arc::clone(&state);
            async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let state = Arc::clone(&state);
                            async move { Ok::<_, Infallible>(answer(req, state)) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .with_upgrades()
                            .await;
                    });
                }
            }
        };
        // The driver closes our stdin to stop us.
        let stdin = tokio::task::spawn_blocking(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        });
        tokio::select! {
            () = accept => {}
            _ = stdin => {}
        }
    });
    println!(
        "{}",
        json!({
            "joins": state.joins.load(Ordering::Relaxed),
            "pings": state.pings.load(Ordering::Relaxed),
        })
    );
}

fn reply(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn answer(mut req: Request<Incoming>, state: Arc<State>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == "/chat" {
        let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
            return reply(StatusCode::BAD_REQUEST, &json!({"code": 400}));
        };
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            // Small buffers: the server holds thousands of idle sockets in the scale bench.
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            session(ws, &state).await;
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
            .body(Full::new(Bytes::new()))
            .unwrap_or_default();
    }
    let content = if path.ends_with("/live-status") {
        &state.spec.live_status
    } else if path == "/nng_main/v1/chats/access-token" {
        &state.spec.access_token
    } else {
        return reply(
            StatusCode::NOT_FOUND,
            &json!({"code": 404, "message": "not found", "content": null}),
        );
    };
    reply(
        StatusCode::OK,
        &json!({"code": 200, "message": null, "content": content}),
    )
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn session(mut ws: Ws, state: &State) {
    // Wait for CONNECT, answer CONNECTED.
    loop {
        let Some(Ok(msg)) = ws.next().await else {
            return;
        };
        let Message::Text(text) = msg else { continue };
        let frame: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        match frame["cmd"].as_i64() {
            Some(100) => {
                let n = state.joins.fetch_add(1, Ordering::Relaxed);
                let tid = match &frame["tid"] {
                    Value::Null => Value::Null,
                    Value::String(s) => Value::String(s.clone()),
                    other => Value::String(other.to_string()),
                };
                let connected = json!({
                    "svcid": "game",
                    "bdy": {"accTkn": null, "auth": "READ", "uuid": format!("bench-{n}"), "sid": format!("bench-sid-{n}")},
                    "cmd": 10100, "retCode": 0, "retMsg": "SUCCESS", "tid": tid,
                    "cid": state.spec.chat_channel_id,
                });
                if ws.send(Message::text(connected.to_string())).await.is_err() {
                    return;
                }
                break;
            }
            Some(0) if pong(&mut ws, state).await.is_err() => return,
            _ => {}
        }
    }
    if state.push > 0 && push(&mut ws, state).await.is_err() {
        return;
    }
    // Then only keepalive: answer every PING until the client leaves.
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(text) = msg
            && serde_json::from_str::<Value>(text.as_str()).unwrap_or_default()["cmd"].as_i64()
                == Some(0)
            && pong(&mut ws, state).await.is_err()
        {
            return;
        }
    }
}

async fn pong(ws: &mut Ws, state: &State) -> Result<(), ()> {
    state.pings.fetch_add(1, Ordering::Relaxed);
    ws.send(Message::text(r#"{"ver":"2","cmd":10000}"#))
        .await
        .map_err(drop)
}

/// Writes `state.push` lines as cmd 93101 frames of 1, 2, 3, 4, 5, 1, 2, ... lines (the live
/// server batches 1–5 lines a frame), templates in turn, straight onto the socket (the frames
/// are encoded here, not by tungstenite, so the server costs little next to the client).
async fn push(ws: &mut Ws, state: &State) -> std::io::Result<()> {
    const CHUNK: usize = 256 * 1024;
    let spec = &state.spec;
    let head = r#"{"svcid":"game","ver":"1","bdy":["#;
    let tail = format!(
        r#"],"cmd":93101,"tid":null,"cid":"{}"}}"#,
        spec.chat_channel_id
    );
    let mut out = Vec::with_capacity(CHUNK + 64 * 1024);
    let mut payload = String::new();
    let mut sent = 0u64;
    let mut batch = 0u64;
    while sent < state.push {
        let lines = (batch % 5 + 1).min(state.push - sent);
        batch += 1;
        payload.clear();
        payload.push_str(head);
        for k in 0..lines {
            if k > 0 {
                payload.push(',');
            }
            let i = sent + k;
            let time = (state.base_ms + i).to_string();
            let parts = &spec.templates[usize::try_from(i).unwrap_or(0) % spec.templates.len()];
            for (j, part) in parts.iter().enumerate() {
                if j > 0 {
                    payload.push_str(&time);
                }
                payload.push_str(part);
            }
        }
        payload.push_str(&tail);
        sent += lines;
        // An unmasked, final text frame.
        out.push(0x81);
        let len = payload.len();
        if len < 126 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else if let Ok(short) = u16::try_from(len) {
            out.push(126);
            out.extend_from_slice(&short.to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(payload.as_bytes());
        if out.len() >= CHUNK {
            ws.get_mut().write_all(&out).await?;
            out.clear();
        }
    }
    ws.get_mut().write_all(&out).await?;
    ws.get_mut().flush().await
}
