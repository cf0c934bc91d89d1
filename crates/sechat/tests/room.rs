//! The room handle's lifecycle, the same in both modes: `connect()` returns the events,
//! `wait_for`/`wait_for_map` register when called (even before `connect()`), and `close()` ends an anonymous (polling)
//! room's stream with `Disconnected` just as it does a logged-in one.

use std::sync::Arc;
use std::time::Duration;

use chat_replay::{Fixture, ReplayServer};
use sechat::{ChatClient, Error, Event, Server, Timing};

const LONG: Duration = Duration::from_secs(30);

async fn anonymous_room() -> (ReplayServer, sechat::Room) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/sechat/anonymous_polling.jsonl"
    );
    let server = ReplayServer::start(Arc::new(Fixture::load(path).unwrap()))
        .await
        .unwrap();
    let target = Server::stack_exchange().local(server.http_base(), server.ws_base());
    let client = ChatClient::builder(&target)
        .timing(
            Timing::default()
                .poll_interval(Duration::from_millis(5))
                .poll_failure_backoff(Duration::from_millis(5)),
        )
        .build();
    (server, client.room(12345))
}

#[tokio::test]
async fn an_anonymous_room_waits_and_closes_like_a_joined_one() {
    let (_server, room) = anonymous_room().await;
    // Registered before connecting: it sees the stream from its start.
    let text = room.wait_for_map(
        |e| match e {
            Event::MessagePosted(m) => m.text.clone(),
            _ => None,
        },
        LONG,
    );
    let connected = room.wait_for(|e| matches!(e, Event::Connected(_)), LONG);
    let mut events = room
        .connect()
        .await
        .expect("the fixture's room is readable");
    assert!(matches!(connected.await, Ok(Event::Connected(_))));
    assert_eq!(text.await.unwrap(), "polling works");
    let again = room.connect().await.expect_err("one stream per room");
    assert!(matches!(again, Error::InvalidInput(_)), "{again:?}");

    let never = room.wait_for(|_| false, LONG);
    room.close().await.expect("anonymous close does no I/O");
    let mut last = None;
    while let Some(item) = events.next().await {
        if let Ok(e) = item {
            last = Some(e);
        }
    }
    match last {
        Some(Event::Disconnected(d)) => assert_eq!(d.reason, "closed by the client"),
        other => panic!("the stream must end with Disconnected, got {other:?}"),
    }
    let e = never.await.expect_err("the stream ended first");
    assert!(matches!(e, Error::Closed { .. }), "{e:?}");
}
