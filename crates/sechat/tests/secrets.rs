//! Secrets never print, are stored privately, and never go to an unverified server.
//!
//! - The e-mail, the password, the login and chat cookies and both fkeys appear in no `Debug`
//!   or `Display` of a config, credential, client, room or error, and in no log line of a
//!   logged-in session replayed on loopback (captured at trace level).
//! - The credentials file is written with mode 0600 (also over an existing 0644 file),
//!   atomically: no temporary file remains, even when the save fails, and a reader never sees a
//!   partial file, even with saves racing each other.
//! - `https://` endpoints verify certificates: a loopback server with a self-signed
//!   certificate is refused with a TLS error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chat_replay::secrets::{LogCapture, SelfSignedServer, rustls_error};
use chat_replay::{Fixture, ReplayServer};
use sechat::{
    ChatClient, ClientBuilder, Credentials, RateLimitPolicy, ReconnectPolicy, Server, Timing,
};

const EMAIL: &str = "examplebot@example.com";
const PASSWORD: &str = "fake-password-1";
/// What the fixtures' servers hand out: the login cookies, the chat session cookie, the fkeys.
const SERVER_SECRETS: [&str; 6] = [
    "fake-prov-0001",
    "fake-acct-0001",
    "fake-acct-session",
    "fake-chat-session-0001",
    "fake-login-fkey-1",
    "fake-chat-fkey-1",
];

fn assert_clean(what: &str, text: &str) {
    for secret in [EMAIL, PASSWORD].iter().chain(&SERVER_SECRETS) {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

/// `Display`, `Debug`, every source, and the chatwire-core conversion of an error.
fn assert_error_clean(what: &str, e: sechat::Error) {
    let mut text = format!("{e} {e:?}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let _ = write!(text, " {s} {s:?}");
        source = s.source();
    }
    let core = chatwire_core_error(e);
    let _ = write!(text, " {core} {core:?}");
    assert_clean(what, &text);
}

fn chatwire_core_error(e: sechat::Error) -> sechat::chatwire_core::Error {
    e.into()
}

fn fixture(name: &str) -> Arc<Fixture> {
    let path = format!(
        "{}/../../fixtures/sechat/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    Arc::new(Fixture::load(&path).unwrap())
}

async fn replay(name: &str) -> (ReplayServer, Server) {
    let server = ReplayServer::start(fixture(name)).await.unwrap();
    let target = Server::stack_exchange().local(server.http_base(), server.ws_base());
    (server, target)
}

/// The tests' settings on `target`.
fn options(target: &Server) -> ClientBuilder {
    ChatClient::builder(target)
        .timing(
            Timing::default()
                .refresh_every(None)
                .request_timeout(Duration::from_secs(5)),
        )
        .rate_limit(
            RateLimitPolicy::default()
                .second(Duration::from_millis(5))
                .margin(Duration::ZERO),
        )
        .reconnect(ReconnectPolicy::none())
}

/// An anonymous client with the tests' settings, to log in or load through.
fn via(target: &Server) -> ChatClient {
    options(target).build()
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "sechat-secrets-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Logs in on the `commands` fixture (its server sets every cookie and hands out both fkeys).
async fn logged_in() -> (ReplayServer, Server, Credentials) {
    let (server, target) = replay("commands").await;
    let creds = Credentials::authenticate_with(EMAIL, PASSWORD, &via(&target))
        .await
        .expect("the fixture's server accepts the login");
    (server, target, creds)
}

#[tokio::test]
async fn no_secret_in_debug_display_or_logs() {
    let capture = LogCapture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");

    for config in [
        format!("{:?}", Server::stack_exchange()),
        format!("{:?}", options(&Server::stack_exchange())),
        format!("{:?}", Timing::default()),
        format!("{:?}", RateLimitPolicy::default()),
        format!("{:?}", ReconnectPolicy::default()),
    ] {
        assert_clean("a config", &config);
    }

    // A logged-in session: login, join (chat fkey), send.
    let (_server, target, creds) = logged_in().await;
    assert_clean("Credentials", &format!("{creds:?}"));
    let client = options(&target).credentials(&creds).build();
    let room = client.room(12345);
    let _events = room.connect().await.expect("the fixture's room");
    let sent = room
        .send("hello from the bot", None)
        .await
        .expect("the fixture accepts the message");
    assert_clean("SendResult", &format!("{sent:?}"));
    // The session now holds the cookies and the chat fkey.
    assert_clean("ChatClient", &format!("{client:?}"));
    assert_clean("Room", &format!("{room:?}"));
    assert_clean("Profile", &format!("{:?}", client.profile().unwrap()));
    assert_clean("Server", &format!("{:?}", client.server()));

    // Saved and loaded back (the file holds the cookies: the test would see a leak).
    let dir = temp_dir("session");
    let path = dir.join("creds.json");
    creds.save(&path).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("fake-chat-session-0001"), "{text}");
    let (_reuse, reuse_target) = replay("saved_credentials_reused").await;
    let loaded = Credentials::load_with(&path, &via(&reuse_target))
        .await
        .unwrap()
        .expect("still valid");
    assert_clean("loaded Credentials", &format!("{loaded:?}"));
    room.close().await.unwrap();
    drop(target);

    // Every login failure.
    for name in [
        "login_bad_password",
        "login_captcha",
        "login_no_chat_cookie",
        "login_not_accepted_by_chat",
    ] {
        let (_server, target) = replay(name).await;
        let e = Credentials::authenticate_with(EMAIL, PASSWORD, &via(&target))
            .await
            .expect_err(name);
        assert_error_clean(name, e);
    }

    // A corrupted credentials file whose cookie value sits in the wrong field: the decode
    // error names the place, not the value.
    let broken = dir.join("broken.json");
    for cookie in [
        r#"{"name":"sechatusr","value":"v","domain":"chat.stackexchange.com","host_only":true,"path":"/","expires":"fake-chat-session-0001","secure":true,"http_only":true}"#,
        r#"{"name":"sechatusr","value":"fake-chat-session-0001","domain":"chat.stackexchange.com","host_only":true,"path":"/","expires":null,"secure":"fake-acct-session","http_only":true}"#,
    ] {
        std::fs::write(
            &broken,
            format!(
                r#"{{"format":"sechat-credentials","version":1,"server":"https://chat.stackexchange.com","user_id":200002,"cookies":[{cookie}]}}"#
            ),
        )
        .unwrap();
        let e = Credentials::load_with(&broken, &via(&reuse_target))
            .await
            .expect_err("a malformed file");
        assert!(
            matches!(e, sechat::Error::Decode { .. }),
            "a decode error: {e}"
        );
        assert_error_clean("a malformed credentials file", e);
    }
    // The same file on the way to logging in again: its error is logged.
    let (_relogin, relogin_target) = replay("login_stackexchange").await;
    let again =
        Credentials::load_or_authenticate_with(&broken, EMAIL, PASSWORD, &via(&relogin_target))
            .await
            .expect("logs in again and saves");
    assert_clean("Credentials", &format!("{again:?}"));
    let e = Credentials::load(dir.join("missing.json"))
        .await
        .expect_err("no file");
    assert_error_clean("a missing credentials file", e);

    let lines = capture.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("could not use saved credentials")),
        "the failed load was logged: {lines:?}"
    );
    for line in &lines {
        assert_clean("a log line", line);
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Only `names` are left in `dir` (no temporary file).
fn assert_only(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, names, "files left in {}", dir.display());
}

#[tokio::test]
async fn the_credentials_file_is_private_and_replaced_atomically() {
    let (_server, _target, creds) = logged_in().await;
    let dir = temp_dir("file");
    let path = dir.join("creds.json");

    // An existing world-readable file ends up private.
    std::fs::write(&path, "{}").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(mode(&path), 0o644);
    }
    creds.save(&path).await.unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600, "the saved file is private");
    assert_only(&dir, &["creds.json"]);
    let whole = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str::<serde_json::Value>(&whole).unwrap();

    // A failed save (the target is a directory) leaves no temporary file behind.
    let blocked = dir.join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("keep"), "x").unwrap();
    let e = creds
        .save(&blocked)
        .await
        .expect_err("cannot replace a directory");
    assert!(matches!(e, sechat::Error::File { .. }), "{e}");
    assert_only(&dir, &["blocked", "creds.json"]);

    // Saves racing each other and a reader: every read is a whole file, every save succeeds.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, stop, whole) = (path.clone(), Arc::clone(&stop), whole.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let text = std::fs::read_to_string(&path).expect("the file always exists");
                assert_eq!(text, whole, "a reader saw a partial file");
                reads += 1;
            }
            reads
        })
    };
    let mut saves = Vec::new();
    for _ in 0..4 {
        let (creds, path) = (creds.clone(), path.clone());
        saves.push(tokio::spawn(async move {
            for _ in 0..50 {
                creds.save(&path).await.expect("a racing save");
            }
        }));
    }
    for save in saves {
        save.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.join().expect("the reader saw only whole files");
    assert!(reads > 0);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    assert_only(&dir, &["blocked", "creds.json"]);
}

// ---------------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn an_https_server_with_a_self_signed_certificate_is_refused() {
    let mut tls = SelfSignedServer::start().await.unwrap();
    let addr = tls.addr;

    // The server works: a client that trusts the certificate completes the handshake.
    assert_eq!(tls.connect_trusting().await, Ok(()));

    // sechat refuses it, on every name the certificate is valid for.
    for host in ["127.0.0.1", "localhost"] {
        let base = format!("https://{host}:{}", addr.port());
        let wss = format!("wss://{host}:{}", addr.port());
        let target = Server::stack_exchange().local(&base, &wss);
        let e = Credentials::authenticate_with(EMAIL, PASSWORD, &via(&target))
            .await
            .expect_err("an unverified server must be refused");
        assert!(matches!(e, sechat::Error::Transport { .. }), "{host}: {e}");
        assert!(
            matches!(
                rustls_error(&e),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            ),
            "{host}: not a certificate error: {e:?}"
        );
        assert!(
            tls.handshakes.recv().await.unwrap().is_err(),
            "{host}: the handshake must fail before any request"
        );
        // Anonymous reading goes through the same connector.
        let e = via(&target)
            .room(1)
            .connect()
            .await
            .expect_err("anonymous reading must refuse it too");
        assert!(rustls_error(&e).is_some(), "{host}: {e:?}");
        assert!(tls.handshakes.recv().await.unwrap().is_err());
    }
}
