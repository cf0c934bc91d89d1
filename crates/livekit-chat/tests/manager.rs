//! The chat manager's own behaviour, over the in-memory room: history, the store hook,
//! subscribers, handlers, closing and input errors. Wire formats are covered by the fixtures
//! (`tests/replay.rs`).

use std::sync::{Arc, Mutex};

use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, ChatStore, Context, Error, Event, Handler, InMemoryRoom,
    MemoryStore, Participant, RoomOptions, SendMode, Transport,
};

fn pair(room: &InMemoryRoom) -> (ChatManager<Participant>, ChatManager<Participant>) {
    let alice = ChatManager::new(room.join("alice"), ChatOptions::default());
    let bob = ChatManager::new(room.join("bob"), ChatOptions::default());
    (alice, bob)
}

/// Everything already delivered to `events` (after the room settled).
fn drain(events: &mut livekit_chat::Events) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(item) = events.try_next() {
        out.push(item.expect("no decode errors in this test"));
    }
    out
}

#[tokio::test]
async fn history_applies_edits_and_deletes_and_keeps_the_original_timestamp() {
    let room = InMemoryRoom::default();
    let (alice, bob) = pair(&room);
    let first = alice.send_message("hello").await.unwrap();
    let second = alice.send_message("typo hree").await.unwrap();
    room.settled().await;

    let mut fixed = second.clone();
    fixed.message = Some("typo here".into());
    let edited = alice.update_message(&fixed).await.unwrap();
    assert_eq!(edited.timestamp, second.timestamp);
    assert!(edited.edit_timestamp.is_some());
    alice.delete_message(&first).await.unwrap();
    room.settled().await;

    for (who, manager) in [("alice", &alice), ("bob", &bob)] {
        let h = manager.history();
        assert_eq!(h.len(), 2, "{who}: {h:?}");
        assert_eq!(
            (h[0].id.as_str(), h[0].deleted),
            (first.id.as_str(), true),
            "{who}"
        );
        assert_eq!(h[1].text(), "typo here", "{who}");
        assert_eq!(h[1].timestamp, second.timestamp, "{who}");
        assert_eq!(h[1].participant.as_deref(), Some("alice"), "{who}");
        assert_eq!(h[1].is_local, who == "alice", "{who}");
    }
}

#[tokio::test]
async fn the_same_id_from_two_senders_is_two_messages() {
    let room = InMemoryRoom::default();
    let (alice, bob) = pair(&room);
    let carol = ChatManager::new(room.join("carol"), ChatOptions::default());
    // Two legacy peers that happen to pick the same id (12 base62 characters are not unique
    // across clients that seed badly): history is keyed by (sender, id).
    for (from, text) in [("alice", "from alice"), ("bob", "from bob")] {
        let json = serde_json::json!({"id": "sameid000001", "message": text, "timestamp": 1});
        let packet = livekit_chat::proto::user_packet(
            serde_json::to_vec(&json).unwrap(),
            livekit_chat::proto::CHAT_TOPIC,
            true,
            &[],
        );
        room.inject(Some(from), &packet, None);
    }
    room.settled().await;
    let texts: Vec<_> = carol
        .history()
        .iter()
        .map(|m| (m.participant.clone(), m.text().to_owned()))
        .collect();
    assert_eq!(
        texts,
        [
            (Some("alice".into()), "from alice".into()),
            (Some("bob".into()), "from bob".into())
        ]
    );
    drop((alice, bob));
}

#[tokio::test]
async fn every_subscriber_gets_every_event_and_close_ends_them() {
    let room = InMemoryRoom::default();
    let (alice, bob) = pair(&room);
    let mut a = bob.subscribe();
    let mut b = bob.subscribe();
    let sent = alice.send_message("to all subscribers").await.unwrap();
    room.settled().await;
    for events in [&mut a, &mut b] {
        let got = drain(events);
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0], Event::Received(m) if m.id == sent.id));
    }

    bob.close();
    assert!(
        a.next().await.is_none(),
        "a closed manager ends its subscriptions"
    );
    assert!(bob.subscribe().next().await.is_none());
    assert!(matches!(
        bob.send_message("late").await,
        Err(Error::Closed { .. })
    ));
}

#[tokio::test]
async fn leaving_the_room_ends_the_subscriptions() {
    let room = InMemoryRoom::default();
    let (alice, bob) = pair(&room);
    let mut events = bob.subscribe();
    alice.send_message("before leaving").await.unwrap();
    room.leave("bob");
    assert!(matches!(events.next().await, Some(Ok(Event::Received(_)))));
    assert!(
        events.next().await.is_none(),
        "the transport ended, so the subscription ends"
    );
    assert!(matches!(
        bob.send_message("after").await,
        Err(Error::Closed { .. })
    ));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl<T: Transport> Handler<T> for Recorder {
    async fn on_event(&self, _: &Context<T>, event: &Event) {
        self.0
            .lock()
            .unwrap()
            .push(format!("event {}", event.kind()));
    }
    async fn on_message_received(&self, ctx: &Context<T>, message: &ChatMessage) {
        self.0.lock().unwrap().push(format!(
            "received {} as {}",
            message.text(),
            ctx.manager.identity()
        ));
    }
    async fn on_message_edited(&self, _: &Context<T>, message: &ChatMessage) {
        self.0
            .lock()
            .unwrap()
            .push(format!("edited {}", message.text()));
    }
    async fn on_message_deleted(&self, _: &Context<T>, message: &ChatMessage) {
        self.0
            .lock()
            .unwrap()
            .push(format!("deleted {}", message.id));
    }
}

#[tokio::test]
async fn a_handler_sees_received_edited_and_deleted() {
    let room = InMemoryRoom::default();
    let (alice, bob) = pair(&room);
    let recorder = Arc::new(Recorder::default());
    let run = bob.spawn_handler(Arc::clone(&recorder));
    let mut marker = bob.subscribe();

    let mut m = alice.send_message("one").await.unwrap();
    room.settled().await;
    m.message = Some("one, edited".into());
    alice.update_message(&m).await.unwrap();
    room.settled().await;
    alice.delete_message(&m).await.unwrap();
    room.settled().await;
    assert_eq!(drain(&mut marker).len(), 3);

    // Closing ends the handler's subscription after the events already queued for it, and
    // `run` ends with `Ok` (nothing in a LiveKit chat is fatal).
    bob.close();
    run.await.unwrap().expect("a closed chat ends run cleanly");
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            "event received",
            "received one as bob",
            "event edited",
            "edited one, edited",
            "event deleted",
            format!("deleted {}", m.id).as_str()
        ]
    );
}

#[tokio::test]
async fn wait_for_registers_at_the_call_and_ends_with_the_chat() {
    let room = InMemoryRoom::default();
    let (alice, bob) = pair(&room);
    let long = std::time::Duration::from_secs(30);
    let text = bob.wait_for_map(
        |e| match e {
            Event::Received(m) => Some(m.text().to_owned()),
            _ => None,
        },
        long,
    );
    let edited = bob.wait_for(|e| matches!(e, Event::Edited(_)), long);
    let never = bob.wait_for(|_| false, long);
    let mut m = alice.send("first").await.unwrap();
    m.message = Some("first, edited".into());
    alice.update(&m).await.unwrap();
    assert_eq!(text.await.unwrap(), "first");
    assert_eq!(edited.await.unwrap().message().text(), "first, edited");
    bob.close();
    let e = never.await.expect_err("the chat ended first");
    assert!(matches!(e, Error::Closed { .. }), "{e}");
}

#[tokio::test]
async fn the_store_sees_every_change_and_restores_the_history() {
    let room = InMemoryRoom::default();
    let store = Arc::new(MemoryStore::default());
    let alice = ChatManager::new(room.join("alice"), ChatOptions::default());
    let bob = ChatManager::with_store(
        room.join("bob"),
        ChatOptions::default(),
        Some(Arc::clone(&store) as Arc<dyn ChatStore>),
    );
    let mut m = alice.send_message("remember me").await.unwrap();
    room.settled().await;
    m.message = Some("remember me, edited".into());
    alice.update_message(&m).await.unwrap();
    room.settled().await;
    bob.send_message("mine too").await.unwrap();
    room.settled().await;

    let saved: Vec<_> = store.saved().iter().map(|m| m.text().to_owned()).collect();
    assert_eq!(saved, ["remember me", "remember me, edited", "mine too"]);

    bob.close();
    let again = ChatManager::with_store(
        room.join("bob"),
        ChatOptions::default(),
        Some(Arc::clone(&store) as Arc<dyn ChatStore>),
    );
    let texts: Vec<_> = again
        .history()
        .iter()
        .map(|m| m.text().to_owned())
        .collect();
    assert_eq!(texts, ["remember me, edited", "mine too"]);
}

#[tokio::test]
async fn history_is_bounded_by_its_capacity() {
    let room = InMemoryRoom::default();
    let options = ChatOptions::default().history_capacity(3);
    let alice = ChatManager::new(room.join("alice"), options);
    for i in 0..5 {
        alice.send_message(&format!("m{i}")).await.unwrap();
    }
    let texts: Vec<_> = alice
        .history()
        .iter()
        .map(|m| m.text().to_owned())
        .collect();
    assert_eq!(texts, ["m2", "m3", "m4"]);
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let room = InMemoryRoom::new(RoomOptions::default());
    let (alice, bob) = pair(&room);
    assert!(matches!(
        alice.send_message("").await,
        Err(Error::InvalidInput(_))
    ));

    let theirs = bob.send_message("bob's words").await.unwrap();
    let mut forged = theirs.clone();
    forged.message = Some("alice's words".into());
    let err = alice.update_message(&forged).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("another participant"), "{err}");

    let legacy = ChatManager::new(
        room.join("old-client"),
        ChatOptions::default()
            .mode(SendMode::LegacyOnly)
            .legacy_max_bytes(1000),
    );
    let big = "x".repeat(1000);
    let err = legacy.send_message(&big).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(
        legacy.history().is_empty(),
        "a refused message is not recorded"
    );
}
