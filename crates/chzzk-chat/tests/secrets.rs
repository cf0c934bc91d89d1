//! Secrets never print: the Debug and Display of everything holding the login cookies or the
//! chat access token, and every log line of a logged-in session (captured at trace level),
//! contain none of their values. And they never go to an unverified server: `https://` and
//! `wss://` endpoints with a self-signed certificate are refused with a TLS error.

use std::fmt::Write as _;
use std::sync::Arc;

use chat_replay::secrets::{LogCapture, SelfSignedServer, rustls_error};
use chat_replay::{Fixture, ReplayServer};
use chzzk_chat::{ChatClient, Credentials, Endpoints, ReconnectPolicy, Timing};

const NID_AUT: &str = "fake-nid-aut";
const NID_SES: &str = "fake-nid-ses";
/// What the fixture's server hands out.
const TOKENS: [&str; 2] = ["fake-access-token-1", "fake-extra-token-1"];

fn assert_clean(what: &str, text: &str) {
    for secret in [NID_AUT, NID_SES].iter().chain(&TOKENS) {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[tokio::test]
async fn no_secret_in_debug_display_or_logs() {
    let capture = LogCapture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");

    let credentials = Credentials::new(NID_AUT, NID_SES);
    assert_clean("Credentials", &format!("{credentials:?}"));

    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/chzzk/send_and_history.jsonl"
    );
    let server = ReplayServer::start(Arc::new(Fixture::load(dir).unwrap()))
        .await
        .unwrap();
    let builder = ChatClient::builder("5f1e2d3c4b5a69788796a5b4c3d2e1f0")
        .endpoints(Endpoints::local(server.http_base(), server.ws_base()))
        .reconnect(ReconnectPolicy::immediate())
        .credentials(credentials);
    assert_clean("ClientBuilder", &format!("{builder:?}"));
    let client = builder.build();
    let mut events = client
        .connect()
        .await
        .expect("the fixture's server accepts the login");
    // The join used the cookies and the access token: the client holds them now.
    assert_clean("ChatClient", &format!("{client:?}"));
    let first = events.next().await.expect("an event");
    match &first {
        Ok(e) => assert_clean("an event", &format!("{e:?}")),
        Err(e) => assert_clean("an error", &format!("{e} {e:?}")),
    }
    let _ = client.close().await; // the fixture scripts more; only the logs so far matter

    let lines = capture.lines();
    for line in &lines {
        assert_clean("a log line", line);
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../fixtures/chzzk/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// `Display`, `Debug`, every source, and the chatwire-core conversion of an error.
fn assert_error_clean(what: &str, e: chzzk_chat::Error) {
    let mut text = format!("{e} {e:?}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let _ = write!(text, " {s} {s:?}");
        source = s.source();
    }
    let core: chzzk_chat::chatwire_core::Error = e.into();
    let _ = write!(text, " {core} {core:?}");
    assert_clean(what, &text);
}

#[tokio::test]
async fn no_secret_in_configs_or_errors() {
    let credentials = Credentials::new(NID_AUT, NID_SES);
    for config in [
        format!("{:?}", Endpoints::production()),
        format!(
            "{:?}",
            Endpoints::local("http://127.0.0.1:1", "ws://127.0.0.1:1")
        ),
        format!("{:?}", ReconnectPolicy::default()),
        format!("{:?}", Timing::default()),
        format!(
            "{:?}",
            ChatClient::builder("c").credentials(credentials.clone())
        ),
    ] {
        assert_clean("a config", &config);
    }
    let client = ChatClient::builder("5f1e2d3c4b5a69788796a5b4c3d2e1f0")
        .credentials(credentials.clone())
        .build();
    assert_clean("ManageClient", &format!("{:?}", client.manage(None)));
    assert_clean("ManageClient", &format!("{:?}", client.manage_self()));

    // A token answer the client cannot use (the field renamed): the decode error keeps what
    // went wrong, not the tokens.
    let text: String = fixture("send_and_history")
        .lines()
        .take(4)
        .map(|line| line.replace(r#"{"accessToken":"#, r#"{"accTkn":"#) + "\n")
        .collect();
    assert!(text.contains("accTkn"));
    let server = ReplayServer::start(Arc::new(
        Fixture::parse("renamed_token.jsonl", &text).unwrap(),
    ))
    .await
    .unwrap();
    let client = ChatClient::builder("5f1e2d3c4b5a69788796a5b4c3d2e1f0")
        .endpoints(Endpoints::local(server.http_base(), server.ws_base()))
        .reconnect(ReconnectPolicy::immediate())
        .credentials(credentials)
        .build();
    let e = client.connect().await.expect_err("no usable token");
    assert!(matches!(e, chzzk_chat::Error::Decode { .. }), "{e}");
    assert_error_clean("an undecodable token answer", e);
}

// ---------------------------------------------------------------------------------------------
// TLS

fn assert_unknown_issuer(what: &str, e: &chzzk_chat::Error) {
    assert!(
        matches!(
            rustls_error(e),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{what}: not a certificate error: {e:?}"
    );
}

#[tokio::test]
async fn https_and_wss_servers_with_a_self_signed_certificate_are_refused() {
    let mut tls = SelfSignedServer::start().await.unwrap();
    let addr = tls.addr;

    // The server works: a client that trusts the certificate completes the handshake.
    assert_eq!(tls.connect_trusting().await, Ok(()));

    for host in ["127.0.0.1", "localhost"] {
        let https = format!("https://{host}:{}", addr.port());
        let wss = format!("wss://{host}:{}", addr.port());
        // The REST API over https.
        let client = ChatClient::builder("5f1e2d3c4b5a69788796a5b4c3d2e1f0")
            .endpoints(Endpoints::local(&https, &wss))
            .reconnect(ReconnectPolicy::immediate())
            .credentials(Credentials::new(NID_AUT, NID_SES))
            .build();
        let e = client
            .connect()
            .await
            .expect_err("an unverified API server");
        assert_unknown_issuer(&https, &e);
        assert!(
            tls.handshakes.recv().await.unwrap().is_err(),
            "{host}: the handshake fails before any request"
        );

        // The chat socket over wss (the REST calls replayed over plain loopback HTTP).
        let server = ReplayServer::start(Arc::new(
            Fixture::parse("chat_lines.jsonl", &fixture("chat_lines")).unwrap(),
        ))
        .await
        .unwrap();
        let policy = ReconnectPolicy::none();
        let client = ChatClient::builder("5f1e2d3c4b5a69788796a5b4c3d2e1f0")
            .endpoints(Endpoints::local(server.http_base(), &wss))
            .reconnect(policy)
            .build();
        let e = client
            .connect()
            .await
            .expect_err("an unverified chat server");
        assert_unknown_issuer(&wss, &e);
        assert!(tls.handshakes.recv().await.unwrap().is_err(), "{host}");
    }
}
