//! A bot that answers: it runs a [`Handler`] and replies to every message that asks it
//! something. Any [`Transport`](livekit_chat::Transport) works; here, the in-memory room.
//!
//! ```text
//! cargo run -p livekit-chat --example answer_bot
//! ```

use livekit_chat::{
    ChatManager, ChatMessage, ChatOptions, Context, Event, Handler, InMemoryRoom, Transport,
};

struct Bot;

impl<T: Transport> Handler<T> for Bot {
    async fn on_message_received(&self, ctx: &Context<T>, message: &ChatMessage) {
        let Some(question) = message.text().strip_prefix("!ask ") else {
            return;
        };
        let who = message.participant.as_deref().unwrap_or("someone");
        let answer = format!("@{who}: you asked {:?}; the answer is 42", question.trim());
        if let Err(e) = ctx.manager.send(&answer).await {
            eprintln!("could not answer: {e}");
        }
    }

    async fn on_error(&self, _: &Context<T>, error: &livekit_chat::Error) {
        eprintln!("skipped an undecodable packet: {error}");
    }
}

#[tokio::main]
async fn main() -> Result<(), livekit_chat::Error> {
    let room = InMemoryRoom::default();
    let bot = ChatManager::new(room.join("answer-bot"), ChatOptions::default());
    let user = ChatManager::new(room.join("visitor"), ChatOptions::default());
    let mut seen = user.subscribe();

    let running = bot.spawn_handler(Bot);

    user.send("just chatting").await?;
    user.send("!ask what is six times seven?").await?;
    // Wait for the bot's answer (a real bot would never stop; this example does).
    while let Some(item) = seen.next().await {
        if let Ok(Event::Received(m)) = item {
            let from = m.participant.as_deref().unwrap_or("?");
            println!("visitor sees {from}: {}", m.text());
            if from == "answer-bot" {
                break;
            }
        }
    }

    bot.close();
    running.await.expect("the bot task ends when closed")
}
