//! Secrets never print. livekit-chat holds no credential of its own: the room URL and the
//! access token go to `livekit::Room::connect`, which the application calls, and the
//! `livekit` feature's `LiveKitTransport` shows only `livekit::Room`'s own `Debug` (sid, name,
//! connection state). What it does hold is what participants send, which may be private (a
//! pasted token, say). So: the `Debug` and `Display` of every option, manager, participant,
//! room and error, and every log line of a chat session over the in-memory room (captured at
//! trace level), contain no message text.

use std::fmt::Write as _;

use chat_replay::secrets::LogCapture;

use livekit_chat::{
    ChatManager, ChatOptions, Error, InMemoryRoom, Participant, RoomOptions, SendMode,
    TransportError,
};

/// What participants send: it must show up nowhere but in messages and events.
const SECRET: &str = "fake-livekit-access-token-1";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows a secret: {text}");
}

/// `Display`, `Debug`, every source, and the chatwire-core conversion of an error.
fn assert_error_clean(what: &str, e: Error) {
    let mut text = format!("{e} {e:?}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let _ = write!(text, " {s} {s:?}");
        source = s.source();
    }
    let core: livekit_chat::chatwire_core::Error = e.into();
    let _ = write!(text, " {core} {core:?}");
    assert_clean(what, &text);
}

fn options(mode: SendMode) -> ChatOptions {
    ChatOptions::default().mode(mode).send_proto(true)
}

#[tokio::test]
async fn no_secret_in_debug_display_or_logs() {
    let capture = LogCapture::default();
    tracing::subscriber::set_global_default(capture.clone()).expect("the only subscriber");

    let room = InMemoryRoom::new(RoomOptions::default());
    let alice = ChatManager::new(room.join("alice"), options(SendMode::Compatible));
    let bob = ChatManager::new(room.join("bob"), options(SendMode::LegacyOnly));
    // A legacy copy too large to send: logged, and sent as a stream only.
    let small = options(SendMode::Compatible).legacy_max_bytes(64);
    let carol = ChatManager::new(room.join("carol"), small.clone());
    let mut events = [alice.subscribe(), bob.subscribe(), carol.subscribe()];

    let text = format!("my token is {SECRET}");
    let sent = alice.send_message(&text).await.unwrap();
    let reply = bob.send_message(&text).await.unwrap();
    let long = carol
        .send_message(&format!("{text} {}", "x".repeat(100)))
        .await
        .unwrap();
    let private = alice.send_to(&text, vec!["bob".into()]).await.unwrap();
    room.settled().await;
    let mut edited = sent.clone();
    edited.message = Some(format!("{text} (edited)"));
    alice.update_message(&edited).await.unwrap();
    alice.delete_message(&private).await.unwrap();
    carol.delete_message(&long).await.unwrap();
    room.settled().await;
    for events in &mut events {
        let mut n = 0;
        while let Some(item) = events.try_next() {
            item.expect("no decode error in this session");
            n += 1;
        }
        assert!(n > 0, "every participant received something");
    }

    // The session's objects, after it (the history holds the secret).
    for (what, debug) in [
        ("ChatManager", format!("{alice:?} {bob:?} {carol:?}")),
        ("ChatOptions", format!("{:?}", carol.options())),
        ("Participant", format!("{:?}", room.join("dave"))),
        ("InMemoryRoom", format!("{room:?}")),
        ("RoomOptions", format!("{:?}", RoomOptions::default())),
        ("Events", format!("{:?}", alice.subscribe())),
    ] {
        assert_clean(what, &debug);
    }
    assert!(alice.history().iter().any(|m| m.text().contains(SECRET)));

    // Every error a sender sees.
    let err = alice.send_message("").await.unwrap_err();
    assert_error_clean("an empty message", err);
    let err = alice.update_message(&reply).await.unwrap_err();
    assert_error_clean("editing another's message", err);
    let legacy = options(SendMode::LegacyOnly).legacy_max_bytes(64);
    let erin = ChatManager::new(room.join("erin"), legacy);
    let err = erin.send_message(&text.repeat(4)).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_error_clean("a message too large", err);
    let tiny = InMemoryRoom::new(RoomOptions::default().max_packet_size(64));
    let frank: ChatManager<Participant> =
        ChatManager::new(tiny.join("frank"), options(SendMode::LegacyOnly));
    let err = frank.send_message(&text.repeat(2)).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::TooLarge { .. })),
        "{err}"
    );
    assert_error_clean("a packet the room refuses", err);
    tiny.leave("frank");
    let err = frank.send_message(&text).await.unwrap_err();
    assert_error_clean("a participant who left", err);
    erin.close();
    let err = erin.send_message(&text).await.unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert_error_clean("a closed manager", err);

    let lines = capture.lines();
    assert!(
        lines.iter().any(|l| l.contains("legacy copy too large")),
        "the session logged its fallback: {lines:?}"
    );
    for line in &lines {
        assert_clean("a log line", line);
    }
}
