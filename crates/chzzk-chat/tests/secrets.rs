//! Secrets never print: the Debug and Display of everything holding the login cookies or the
//! chat access token, and every log line of a logged-in session (captured at trace level),
//! contain none of their values.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chat_replay::{Fixture, ReplayServer};
use chzzk_chat::{ChatClient, Credentials, Endpoints, ReconnectPolicy};
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
