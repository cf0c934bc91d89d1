//! Two participants chatting through the in-memory room: a components-js style client
//! (text streams plus a legacy copy) and a Python-SDK style client (legacy JSON only).
//!
//! ```text
//! cargo run -p livekit-chat --example two_participants
//! ```

use livekit_chat::{ChatManager, ChatOptions, Event, InMemoryRoom, SendMode};

#[tokio::main]
async fn main() -> Result<(), livekit_chat::Error> {
    let room = InMemoryRoom::default();
    let web = ChatManager::new(room.join("web-user"), ChatOptions::default());
    let python = ChatManager::new(
        room.join("python-agent"),
        ChatOptions::default().mode(SendMode::LegacyOnly),
    );
    let mut web_events = web.subscribe();
    let mut python_events = python.subscribe();

    let hello = web.send_message("hello from the browser").await?;
    python.send_message("hello from Python").await?;
    let mut fixed = hello.clone();
    fixed.message = Some("hello from the browser (edited)".into());
    web.update_message(&fixed).await?;
    room.settled().await;

    for (who, events) in [
        ("web-user", &mut web_events),
        ("python-agent", &mut python_events),
    ] {
        while let Some(item) = events.try_next() {
            match item {
                Ok(Event::Received(m)) => println!(
                    "{who} received {:?} from {} ({:?})",
                    m.text(),
                    m.participant.as_deref().unwrap_or("?"),
                    m.format
                ),
                Ok(Event::Edited(m)) => println!("{who} saw an edit: {:?}", m.text()),
                Ok(Event::Deleted(m)) => println!("{who} saw {} deleted", m.id),
                Ok(other) => println!("{who}: {other:?}"),
                Err(e) => println!("{who}: undecodable packet: {e}"),
            }
        }
    }
    for m in python.history() {
        println!(
            "python-agent history: {}: {}",
            m.participant.as_deref().unwrap_or("?"),
            m.text()
        );
    }
    Ok(())
}
