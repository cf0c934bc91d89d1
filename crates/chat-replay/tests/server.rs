//! The replay server's own tests, each driving it with a plain hyper / tungstenite client.

use std::sync::Arc;

use chat_replay::{Fixture, ReplayServer};
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

const HEADER: &str = r#"{"fixture":1,"platform":"replay","title":"inline"}"#;

async fn start(steps: &str) -> ReplayServer {
    let fixture =
        Fixture::parse("inline.jsonl", &format!("{HEADER}\n{steps}")).expect("fixture parses");
    ReplayServer::start(Arc::new(fixture))
        .await
        .expect("binds loopback")
}

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

async fn request(
    base: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let authority = base.trim_start_matches("http://");
    let stream = TcpStream::connect(authority).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn ws_connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade accepted")
        .0
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.expect("a frame").expect("no error") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn scripted_http_exchange() {
    let server = start(concat!(
        r#"{"http":{"method":"POST","path":"/chats/{{capture:room}}/messages/new","form":{"text":"hello","fkey":"{{any}}"}},"response":{"status":200,"json":{"id":65000040,"room":"{{room}}"},"set_cookies":[{"name":"acct","value":"fake-acct","http_only":true}]}}"#,
        "\n",
        r#"{"http":{"method":"GET","path":"/rooms/{{room}}","query":{"page":2}},"response":{"status":409,"text":"You can perform this action again in 3 seconds."}}"#,
        "\n",
    ))
    .await;
    let r = request(
        server.http_base(),
        "POST",
        "/chats/12345/messages/new",
        Some("application/x-www-form-urlencoded"),
        "text=hello&fkey=fake-fkey-1",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"id": 65000040, "room": "12345"})
    );
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["set-cookie"], "acct=fake-acct; Path=/; HttpOnly");
    let r = request(
        server.http_base(),
        "GET",
        "/rooms/12345?page=2&extra=1",
        None,
        "",
    )
    .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body, "You can perform this action again in 3 seconds.");
    server.wait_done().await;
    let report = server.finish().await.expect("script followed");
    assert_eq!(
        (report.steps, report.consumed, report.http_requests),
        (2, 2, 2)
    );
}

#[tokio::test]
async fn websocket_conversation_reuses_a_capture() {
    let server = start(concat!(
        r#"{"ws_open":"c1","path":"/chat"}"#, "\n",
        r#"{"ws":"c1","dir":"c2s","json":{"cmd":100,"tid":"{{capture:tid}}","bdy":{"accTkn":"{{any}}"}}}"#, "\n",
        r#"{"ws":"c1","dir":"s2c","json":{"cmd":10100,"tid":"{{str:tid}}","retCode":0,"bdy":{"sid":"fake-sid"}}}"#, "\n",
        r#"{"ws":"c1","dir":"c2s","json":{"cmd":5101,"tid":"{{tid}}"},"match":"partial"}"#, "\n",
        r#"{"ws_close":"c1","by":"client","code":1000}"#, "\n",
    ))
    .await;
    let mut ws = ws_connect(&format!("{}/chat", server.ws_base())).await;
    ws.send(Message::text(
        json!({"cmd": 100, "tid": 7, "bdy": {"accTkn": "fake-token", "uid": null}}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"cmd": 10100, "tid": "7", "retCode": 0, "bdy": {"sid": "fake-sid"}})
    );
    ws.send(Message::text(
        json!({"cmd": 5101, "tid": 7, "sid": "fake-sid"}).to_string(),
    ))
    .await
    .unwrap();
    // wait_done leaves the client's own close to us.
    server.wait_done().await;
    ws.close(Some(CloseFrame {
        code: 1000.into(),
        reason: "".into(),
    }))
    .await
    .unwrap();
    while let Some(Ok(_)) = ws.next().await {}
    let report = server.finish().await.expect("script followed");
    assert_eq!((report.consumed, report.ws_connections), (5, 1));
}

#[tokio::test]
async fn a_capture_that_does_not_match_later_fails() {
    let server = start(concat!(
        r#"{"ws_open":"c1","path":"/chat"}"#,
        "\n",
        r#"{"ws":"c1","dir":"c2s","json":{"tid":"{{capture:tid}}"}}"#,
        "\n",
        r#"{"ws":"c1","dir":"c2s","json":{"tid":"{{tid}}"}}"#,
        "\n",
    ))
    .await;
    let mut ws = ws_connect(&format!("{}/chat", server.ws_base())).await;
    ws.send(Message::text(r#"{"tid":1}"#)).await.unwrap();
    ws.send(Message::text(r#"{"tid":2}"#)).await.unwrap();
    server.wait_done().await;
    let err = server.finish().await.unwrap_err().to_string();
    assert!(err.contains(r#"unexpected frame on c1: {"tid":2} (expected line 4: ws c1 c2s {"tid":"{{tid}}"}: at $.tid: expected captured tid = 1, got 2)"#), "{err}");
    assert!(err.contains("never happened: line 4"), "{err}");
}

#[tokio::test]
async fn an_unexpected_request_fails_naming_the_nearest_step() {
    let server = start(concat!(
        r#"{"http":{"method":"GET","path":"/status","query":{"channel":"abc"}},"response":{"json":{"ok":true}}}"#, "\n",
        r#"{"http":{"method":"POST","path":"/send","json":{"text":"hi"}},"response":{"json":"ok"}}"#, "\n",
    ))
    .await;
    assert_eq!(
        request(server.http_base(), "GET", "/status?channel=abc", None, "")
            .await
            .status,
        200
    );
    let r = request(
        server.http_base(),
        "POST",
        "/send",
        Some("application/json"),
        r#"{"text":"bye"}"#,
    )
    .await;
    assert_eq!(r.status, 501);
    assert!(r.body.contains("unexpected request"), "{}", r.body);
    server.wait_done().await;
    let err = server.finish().await.unwrap_err();
    assert_eq!(err.report.consumed, 1);
    let text = err.to_string();
    assert!(
        text.contains(r#"unexpected request POST /send body {"text":"bye"}: nearest expected step is line 3: http POST /send (at body.text: expected "hi", got "bye")"#),
        "{text}"
    );
    assert!(
        text.contains("never happened: line 3: http POST /send"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unconsumed_step_fails() {
    let server = start(concat!(
        r#"{"http":{"path":"/one"},"response":{"json":1}}"#,
        "\n",
        r#"{"http":{"path":"/two"},"response":{"json":2}}"#,
        "\n",
    ))
    .await;
    assert_eq!(
        request(server.http_base(), "GET", "/one", None, "")
            .await
            .body,
        "1"
    );
    let err = server.finish().await.unwrap_err();
    assert_eq!(
        err.problems,
        vec!["never happened: line 3: http GET /two".to_owned()]
    );
}

#[tokio::test]
async fn a_server_drop_then_a_reconnect() {
    let server = start(concat!(
        r#"{"ws_open":"c1","path":"/chat"}"#,
        "\n",
        r#"{"ws":"c1","dir":"s2c","json":{"n":1}}"#,
        "\n",
        r#"{"ws_drop":"c1"}"#,
        "\n",
        r#"{"ws_open":"c2","path":"/chat"}"#,
        "\n",
        r#"{"ws":"c2","dir":"s2c","json":{"n":2}}"#,
        "\n",
        r#"{"ws_close":"c2","by":"server","code":4000,"reason":"bye"}"#,
        "\n",
    ))
    .await;
    let url = format!("{}/chat", server.ws_base());
    let mut ws = ws_connect(&url).await;
    assert_eq!(next_json(&mut ws).await, json!({"n": 1}));
    // The socket vanishes without a close frame.
    match ws.next().await {
        None | Some(Err(_)) => {}
        Some(Ok(m)) => panic!("expected the socket to vanish, got {m:?}"),
    }
    let mut ws = ws_connect(&url).await;
    assert_eq!(next_json(&mut ws).await, json!({"n": 2}));
    match ws.next().await {
        Some(Ok(Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 4000);
            assert_eq!(f.reason.as_str(), "bye");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    server.wait_done().await;
    assert_eq!(
        server
            .finish()
            .await
            .expect("script followed")
            .ws_connections,
        2
    );
}

#[tokio::test]
async fn ws_base_is_substituted_into_server_payloads() {
    let server = start(concat!(
        r#"{"http":{"method":"POST","path":"/ws-auth","form":{"roomid":"12345"}},"response":{"json":{"url":"{{ws_base}}/events/12345/fake-key"}}}"#, "\n",
        r#"{"ws_open":"c1","path":"/events/12345/fake-key","query":{"l":"{{any}}"},"headers":{"origin":"https://chat.example.com"}}"#, "\n",
        r#"{"ws":"c1","dir":"s2c","json":{"r12345":{"t":1,"home":"{{http_base}}/rooms/12345"}}}"#, "\n",
    ))
    .await;
    let r = request(
        server.http_base(),
        "POST",
        "/ws-auth",
        Some("application/x-www-form-urlencoded"),
        "roomid=12345&fkey=fake",
    )
    .await;
    let url = serde_json::from_str::<Value>(&r.body).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(url, format!("{}/events/12345/fake-key", server.ws_base()));
    assert!(url.starts_with("ws://127.0.0.1:"));
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("{url}?l=99"),
    )
    .unwrap();
    req.headers_mut()
        .insert("origin", "https://chat.example.com".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let frame = next_json(&mut ws).await;
    assert_eq!(
        frame["r12345"]["home"],
        json!(format!("{}/rooms/12345", server.http_base()))
    );
    server.wait_done().await;
    server.finish().await.expect("script followed");
}

#[tokio::test]
async fn an_upgrade_without_the_expected_header_is_refused() {
    let server = start(concat!(
        r#"{"ws_open":"c1","path":"/events","headers":{"origin":"https://chat.example.com"}}"#,
        "\n",
    ))
    .await;
    let err = tokio_tungstenite::connect_async(format!("{}/events", server.ws_base()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let err = server.finish().await.unwrap_err().to_string();
    assert!(err.contains("unexpected WebSocket connection to GET /events: nearest expected step is line 2: ws_open c1 /events (at headers.origin: missing)"), "{err}");
}

#[tokio::test]
async fn keepalives_are_ignored_and_actions_are_delivered_in_order() {
    let fixture = format!(
        "{}\n{}",
        r#"{"fixture":1,"platform":"replay","title":"inline","ignore_c2s":[{"cmd":0}]}"#,
        concat!(
            r#"{"ws_open":"c1","path":"/chat"}"#,
            "\n",
            r#"{"ws":"c1","dir":"s2c","json":{"cmd":10100}}"#,
            "\n",
            r#"{"action":"send_chat","args":{"text":"hi","url":"{{http_base}}"}}"#,
            "\n",
            r#"{"ws":"c1","dir":"c2s","json":{"cmd":3101,"bdy":{"msg":"hi"}}}"#,
            "\n",
            r#"{"ws":"c1","dir":"s2c","json":{"cmd":93101}}"#,
            "\n",
        )
    );
    let server = ReplayServer::start(Arc::new(Fixture::parse("inline.jsonl", &fixture).unwrap()))
        .await
        .unwrap();
    let mut actions = server.take_actions().unwrap();
    let mut ws = ws_connect(&format!("{}/chat", server.ws_base())).await;
    ws.send(Message::text(r#"{"cmd":0}"#)).await.unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"cmd": 10100}));
    let action = actions.next().await.unwrap();
    assert_eq!((action.line, action.name.as_str()), (4, "send_chat"));
    assert_eq!(
        action.args,
        json!({"text": "hi", "url": server.http_base()})
    );
    ws.send(Message::text(r#"{"cmd":0}"#)).await.unwrap();
    ws.send(Message::text(r#"{"cmd":3101,"tid":3,"bdy":{"msg":"hi"}}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"cmd": 93101}));
    ws.send(Message::text(r#"{"cmd":0}"#)).await.unwrap();
    server.wait_done().await;
    server.finish().await.expect("keepalives are not failures");
}

#[tokio::test]
async fn keepalives_are_answered_while_the_server_waits_and_reads() {
    let fixture = format!(
        "{}\n{}",
        r#"{"fixture":1,"platform":"replay","title":"inline","keepalive":[{"c2s":{"cmd":0},"s2c":{"cmd":10000}}]}"#,
        concat!(
            r#"{"ws_open":"c1","path":"/chat"}"#,
            "\n",
            r#"{"ws":"c1","dir":"c2s","json":{"cmd":100}}"#,
            "\n",
            r#"{"ws":"c1","dir":"s2c","json":{"cmd":10100}}"#,
            "\n",
        )
    );
    let server = ReplayServer::start(Arc::new(Fixture::parse("inline.jsonl", &fixture).unwrap()))
        .await
        .unwrap();
    let mut ws = ws_connect(&format!("{}/chat", server.ws_base())).await;
    // Answered while the server expects a client frame...
    ws.send(Message::text(r#"{"cmd":0}"#)).await.unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"cmd": 10000}));
    ws.send(Message::text(r#"{"cmd":100}"#)).await.unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"cmd": 10100}));
    // ...and after the script for the connection is over.
    ws.send(Message::text(r#"{"cmd":0,"ver":"2"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await, json!({"cmd": 10000}));
    server.wait_done().await;
    server.finish().await.expect("keepalives are not failures");
}

#[tokio::test]
async fn a_drop_mid_frame_sends_half_a_frame_then_nothing() {
    let server = start(concat!(
        r#"{"ws_open":"c1","path":"/chat"}"#,
        "\n",
        r#"{"ws":"c1","dir":"s2c","json":{"n":1}}"#,
        "\n",
        r#"{"ws_drop":"c1","mid_frame":"{\"n\":2,\"pad\":\"0123456789\"}"}"#,
        "\n",
    ))
    .await;
    let mut ws = ws_connect(&format!("{}/chat", server.ws_base())).await;
    assert_eq!(next_json(&mut ws).await, json!({"n": 1}));
    // The half frame never becomes a message: the read fails or the stream ends.
    assert!(!matches!(ws.next().await, Some(Ok(Message::Text(_)))));
    server.wait_done().await;
    server.finish().await.expect("script followed");
}

#[tokio::test]
async fn a_stalled_connection_stays_silent_until_finish() {
    let server = start(concat!(
        r#"{"ws_open":"c1","path":"/chat"}"#,
        "\n",
        r#"{"ws_stall":"c1"}"#,
        "\n",
        r#"{"ws_open":"c2","path":"/chat"}"#,
        "\n",
        r#"{"ws":"c2","dir":"s2c","json":{"n":2}}"#,
        "\n",
    ))
    .await;
    let url = format!("{}/chat", server.ws_base());
    let mut stalled = ws_connect(&url).await;
    // The stalled server reads nothing; the client gives up on it and reconnects.
    stalled.send(Message::text(r#"{"ping":1}"#)).await.unwrap();
    let mut ws = ws_connect(&url).await;
    assert_eq!(next_json(&mut ws).await, json!({"n": 2}));
    server.wait_done().await;
    server.finish().await.expect("script followed");
    // After finish the stalled socket is closed, never answered.
    assert!(!matches!(stalled.next().await, Some(Ok(Message::Text(_)))));
}

/// A server finished before its accept loop has ever run (nothing awaited between `start`
/// and `finish` on a single-threaded runtime) must still shut down: the loop has to see a
/// shutdown signalled before it subscribed. (The timeout is a hang guard, not a wait.)
#[tokio::test]
async fn finish_right_after_start_does_not_hang() {
    let server = start(r#"{"action":"noop","args":{}}"#).await;
    let finished = tokio::time::timeout(std::time::Duration::from_secs(10), server.finish()).await;
    let report = finished.expect("finish() returned instead of hanging");
    // The action was never taken, so the script was not followed; what matters is the answer.
    assert!(report.is_err());
}

#[tokio::test]
async fn drive_records_the_events_then_each_action_result() {
    use chat_replay::harness::{AfterClose, drive};
    let server = start(concat!(
        r#"{"action":"send","args":{"text":"hi"}}"#,
        "\n",
        r#"{"action":"fail"}"#,
        "\n",
    ))
    .await;
    let actions = server.take_actions().unwrap();
    let perform = |a: chat_replay::Action| async move {
        match a.name.as_str() {
            "send" => Ok(a.args["text"].clone()),
            _ => Err(format!("no {}", a.name)),
        }
    };
    // A stream the client never ends: `Stop` keeps what is queued and stops reading.
    let events = futures_util::stream::iter([1, 2]).chain(futures_util::stream::pending());
    let out = drive(
        &server,
        actions,
        events,
        |n| json!({ "n": n }),
        perform,
        async { AfterClose::Stop },
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        [
            json!({"n": 1}),
            json!({"n": 2}),
            json!({"type": "action", "action": "send", "ok": "hi"}),
            json!({"type": "action", "action": "fail", "error": "no fail"}),
        ]
    );
    server.finish().await.unwrap();

    // `ReadToEnd` reads a stream that ends by itself to its end.
    let server = start("").await;
    let actions = server.take_actions().unwrap();
    let mut closed = false;
    let out = drive(
        &server,
        actions,
        futures_util::stream::iter(["a", "b", "c"]),
        |s| json!(s),
        perform,
        async {
            closed = true;
            AfterClose::ReadToEnd
        },
    )
    .await
    .unwrap();
    assert!(closed, "drive runs the close future");
    assert_eq!(out, [json!("a"), json!("b"), json!("c")]);
    server.finish().await.unwrap();
}
