//! The answering bot in a real LiveKit room (feature `livekit`).
//!
//! ```text
//! LIVEKIT_URL=wss://my-project.livekit.cloud LIVEKIT_TOKEN=<a join token> \
//!     cargo run -p livekit-chat --features livekit --example real_room
//! ```
//!
//! The token comes from your server (or `lk token create --join --room demo --identity bot`).
//! Open the same room in LiveKit Meet or any `useChat` app and type `!ask something`.
//! The bot runs until the room disconnects.

use livekit_chat::{ChatManager, ChatMessage, ChatOptions, Context, Handler, LiveKitTransport};

struct Bot;

impl Handler<LiveKitTransport> for Bot {
    async fn on_message_received(&self, ctx: &Context<LiveKitTransport>, message: &ChatMessage) {
        let Some(question) = message.text().strip_prefix("!ask ") else {
            return;
        };
        let who = message.participant.as_deref().unwrap_or("someone");
        let answer = format!("@{who}: good question ({})", question.trim());
        if let Err(e) = ctx.manager.send(&answer).await {
            eprintln!("could not answer: {e}");
        }
    }

    async fn on_error(&self, _: &Context<LiveKitTransport>, error: &livekit_chat::Error) {
        eprintln!("skipped an undecodable packet: {error}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("LIVEKIT_URL").map_err(|_| "set LIVEKIT_URL")?;
    let token = std::env::var("LIVEKIT_TOKEN").map_err(|_| "set LIVEKIT_TOKEN")?;
    let (room, room_events) =
        livekit::Room::connect(&url, &token, livekit::RoomOptions::default()).await?;
    let room_name = room.name();
    println!(
        "joined {room_name} as {}",
        room.local_participant().identity()
    );

    let chat = ChatManager::new(
        LiveKitTransport::new(room, room_events),
        ChatOptions::default().room_name(room_name),
    );
    chat.send("answer-bot is here; ask me with !ask").await?;
    // Ends when the room disconnects (the manager's subscriptions end with the transport).
    chat.run(Bot).await?;
    Ok(())
}
