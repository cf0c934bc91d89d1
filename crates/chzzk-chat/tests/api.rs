//! The public API beyond the event stream: callbacks, `wait_for`, the normalised stream, all
//! against the replay server and the repository's fixtures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_replay::{Fixture, ReplayServer};
use chatwire_core::{ChatEvent, Platform};
use chzzk_chat::model::{Connected, Disconnected};
use chzzk_chat::{
    ChatClient, ChatMessage, Context, DonationMessage, Endpoints, Event, Handler, ReconnectPolicy,
    Timing,
};
use futures_util::StreamExt as _;

const CHANNEL: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn serve(name: &str) -> Arc<ReplayServer> {
    let path = format!(
        "{}/../../fixtures/chzzk/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    Arc::new(
        ReplayServer::start(Arc::new(Fixture::load(path).unwrap()))
            .await
            .unwrap(),
    )
}

fn client(server: &ReplayServer) -> ChatClient {
    let timing = Timing::default().live_poll(None);
    ChatClient::builder(CHANNEL)
        .endpoints(Endpoints::local(server.http_base(), server.ws_base()))
        .reconnect(ReconnectPolicy::immediate())
        .timing(timing)
        .build()
}

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

struct Rec(Arc<Recorder>);

impl Handler for Rec {
    async fn on_event(&self, _ctx: &Context, event: &Event) {
        self.0
            .calls
            .lock()
            .unwrap()
            .push(format!("event:{}", event.kind()));
    }
    async fn on_connect(&self, ctx: &Context, c: &Connected) {
        assert_eq!(*ctx.client.channel_id(), c.channel_id);
        self.0.calls.lock().unwrap().push("on_connect".into());
    }
    async fn on_donation(&self, _ctx: &Context, d: &DonationMessage) {
        self.0
            .calls
            .lock()
            .unwrap()
            .push(format!("on_donation:{}", d.extras.pay_amount.unwrap_or(0)));
    }
    async fn on_chat(&self, _ctx: &Context, m: &ChatMessage) {
        self.0
            .calls
            .lock()
            .unwrap()
            .push(format!("on_chat:{}", m.content));
    }
    async fn on_disconnect(&self, _ctx: &Context, d: &Disconnected) {
        self.0
            .calls
            .lock()
            .unwrap()
            .push(format!("on_disconnect:{}", d.reason));
    }
}

#[tokio::test]
async fn callbacks_run_in_order_for_their_events() {
    let server = serve("donations").await;
    let client = client(&server);
    let recorder = Arc::new(Recorder::default());
    let run = tokio::spawn({
        let client = client.clone();
        let recorder = Arc::clone(&recorder);
        async move { client.run(Rec(recorder)).await }
    });
    server.wait_done().await;
    client.close().await.unwrap();
    run.await.unwrap().unwrap();
    server.finish().await.unwrap();
    let calls = recorder.calls.lock().unwrap().clone();
    let specific: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|c| !c.starts_with("event:"))
        .collect();
    assert_eq!(
        specific,
        [
            "on_connect",
            "on_donation:1000",
            "on_donation:1000",
            "on_donation:1820",
            "on_donation:20000",
            "on_donation:5000",
            "on_donation:10000",
            "on_donation:3000",
            "on_donation:100000",
            "on_donation:500",
            "on_donation:0",
            "on_disconnect:closed by the client",
        ]
    );
    // on_event sees everything first.
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("event:")).count(),
        specific.len()
    );
    assert_eq!(calls[0], "event:connected");
}

#[tokio::test]
async fn wait_for_sees_what_arrives_after_the_call() {
    let server = serve("chzzkpy_recent_chat_system_line").await;
    let client = client(&server);
    let mut actions = server.take_actions().unwrap();
    let mut events = client.connect().await.unwrap();
    let drain = tokio::spawn(async move { while events.next().await.is_some() {} });
    let action = actions.next().await.unwrap();
    assert_eq!(action.name, "request_recent_chat");
    let waiting = client.wait_for(
        |e| matches!(e, Event::RecentChat(_)),
        Duration::from_secs(5),
    );
    client.request_recent_chat(50).unwrap();
    let Event::RecentChat(recent) = waiting.await.unwrap() else {
        panic!("the predicate chose a recent chat")
    };
    assert_eq!(
        recent.messages.len(),
        2,
        "the system line does not sink the answer"
    );
    assert_eq!(recent.messages[1].content(), "그 다음 채팅");
    let late = client.wait_for(|_| false, Duration::from_millis(1)).await;
    assert!(
        matches!(late, Err(chzzk_chat::Error::Timeout { .. })),
        "{late:?}"
    );
    server.wait_done().await;
    client.close().await.unwrap();
    drain.await.unwrap();
    server.finish().await.unwrap();
}

#[tokio::test]
async fn the_normalised_stream_carries_messages_and_lifecycle() {
    let server = serve("pins_and_blinds").await;
    let client = client(&server);
    let events = client.connect().await.unwrap().into_core();
    let collect = tokio::spawn(events.collect::<Vec<_>>());
    server.wait_done().await;
    client.close().await.unwrap();
    let events: Vec<ChatEvent> = collect
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    server.finish().await.unwrap();
    assert!(
        matches!(&events[0], ChatEvent::Connected { platform: Platform::Chzzk, channel } if channel.id == CHANNEL)
    );
    let hidden: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::MessageHidden { message_id, .. } => Some(message_id.as_str()),
            _ => None,
        })
        .collect();
    // Clean-bot, blind, hidden, blind of a donation, and the unknown kind; the CANCEL restores.
    assert_eq!(hidden.len(), 5, "{hidden:?}");
    assert_eq!(hidden[0], "00000008c0ffee00f1bbcd880badf00d:1790000000008");
    let restored = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::MessageRestored { .. }))
        .count();
    assert_eq!(restored, 1, "the CANCEL");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ChatEvent::Pinned { message, .. } if !message.text.is_empty())),
        "the pin is a Pinned event with its line"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ChatEvent::MessageDeleted { .. })),
        "a blind hides; it does not delete"
    );
    assert!(matches!(
        events.last(),
        Some(ChatEvent::Disconnected { .. })
    ));
}

#[tokio::test]
async fn a_second_connect_is_refused_and_commands_need_a_connection() {
    let server = serve("duplicate_push").await;
    let client = client(&server);
    assert!(matches!(
        client.request_recent_chat(5),
        Err(chzzk_chat::Error::NotConnected)
    ));
    let mut events = client.connect().await.unwrap();
    assert!(client.is_connected());
    assert!(matches!(
        client.connect().await,
        Err(chzzk_chat::Error::InvalidInput(_))
    ));
    assert!(matches!(
        client.send_chat("  ").await,
        Err(chzzk_chat::Error::InvalidInput(_))
    ));
    server.wait_done().await;
    client.close().await.unwrap();
    let mut n = 0;
    while let Some(e) = events.next().await {
        e.unwrap();
        n += 1;
    }
    assert_eq!(n, 4, "connected, two lines, disconnected");
    assert!(!client.is_connected());
    server.finish().await.unwrap();
}
