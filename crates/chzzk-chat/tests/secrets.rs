//! Secrets never print: the Debug and Display of everything holding the login cookies or the
//! chat access token, and every log line of a logged-in session (captured at trace level),
//! contain none of their values. And they never go to an unverified server: `https://` and
//! `wss://` endpoints with a self-signed certificate are refused with a TLS error.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chat_replay::{Fixture, ReplayServer};
use chzzk_chat::{ChatClient, Credentials, Endpoints, ReconnectPolicy, Timing};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const NID_AUT: &str = "fake-nid-aut";
const NID_SES: &str = "fake-nid-ses";
/// What the fixture's server hands out.
const TOKENS: [&str; 2] = ["fake-access-token-1", "fake-extra-token-1"];

/// Every event and span field, formatted, as a log line would show it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {} ", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record ");
        values.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = format!(
            "{} {} ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn assert_clean(what: &str, text: &str) {
    for secret in [NID_AUT, NID_SES].iter().chain(&TOKENS) {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[tokio::test]
async fn no_secret_in_debug_display_or_logs() {
    let capture = Capture::default();
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

    let lines = capture.0.lock().unwrap().clone();
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

/// Test data, not a secret: a throwaway self-signed certificate for `localhost` and
/// `127.0.0.1` (valid 2000 to 2999, not a CA) and its private key, generated for this test
/// only (Python `cryptography`, P-256). No client trusts it, which is the point.
const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBfjCCASOgAwIBAgIUFEfF5q1CDjThdqXM+lUJ+dradKYwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTAwMDEwMTAwMDAwMFoYDzI5OTkxMjMx
MDAwMDAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASNtAejzY85DkheFdIJqGE9qnzoReAjwjdtNlUN1YUkiKDMqmePapZK
F9j2cv8EUZo8TkPHWV/sKMN8xFQpnTnDo1EwTzAaBgNVHREEEzARgglsb2NhbGhv
c3SHBH8AAAEwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAww
CgYIKwYBBQUHAwEwCgYIKoZIzj0EAwIDSQAwRgIhAIC0C292zttoyedoJUW7X9dL
EVxbQmiKrPSQpfvmaUfGAiEA+PKB3DIyQp0X3NO7bp6p7Xax3ovEjonrHHWYzWj6
SE0=
-----END CERTIFICATE-----
";
const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVINKyLzZWkeWrVvm
m4+xG+wSO5SD6SrhWshjd5OwVrahRANCAASNtAejzY85DkheFdIJqGE9qnzoReAj
wjdtNlUN1YUkiKDMqmePapZKF9j2cv8EUZo8TkPHWV/sKMN8xFQpnTnD
-----END PRIVATE KEY-----
";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn cert() -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).unwrap()
}

/// A TLS server on loopback presenting the self-signed certificate; reports the outcome of
/// every handshake.
async fn self_signed_server() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Result<(), String>>,
) {
    use rustls::pki_types::pem::PemObject as _;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let outcome = acceptor
                .accept(tcp)
                .await
                .map(drop)
                .map_err(|e| e.to_string());
            if tx.send(outcome).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

/// The rustls error somewhere in `e`'s chain (I/O errors wrap it without exposing it as a
/// source).
fn rustls_error(e: &(dyn std::error::Error + 'static)) -> Option<rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r.clone());
        }
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r.clone());
        }
        next = e.source();
    }
    None
}

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
    let (addr, mut handshakes) = self_signed_server().await;

    // The server works: a client that trusts the certificate completes the handshake.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert()).unwrap();
    let trusting = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(trusting))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .expect("a client trusting the certificate connects");
    assert_eq!(handshakes.recv().await.unwrap(), Ok(()));

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
            handshakes.recv().await.unwrap().is_err(),
            "{host}: the handshake fails before any request"
        );

        // The chat socket over wss (the REST calls replayed over plain loopback HTTP).
        let server = ReplayServer::start(Arc::new(
            Fixture::parse("chat_lines.jsonl", &fixture("chat_lines")).unwrap(),
        ))
        .await
        .unwrap();
        let mut policy = ReconnectPolicy::immediate();
        policy.max_attempts = Some(0);
        let client = ChatClient::builder("5f1e2d3c4b5a69788796a5b4c3d2e1f0")
            .endpoints(Endpoints::local(server.http_base(), &wss))
            .reconnect(policy)
            .build();
        let e = client
            .connect()
            .await
            .expect_err("an unverified chat server");
        assert_unknown_issuer(&wss, &e);
        assert!(handshakes.recv().await.unwrap().is_err(), "{host}");
    }
}
