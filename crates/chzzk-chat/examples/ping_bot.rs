//! A callback bot that answers `!ping`. Sending needs the `NID_AUT` and `NID_SES` cookies of
//! the bot's NAVER account, read here from the environment.
//!
//! ```sh
//! NID_AUT=... NID_SES=... cargo run -p chzzk-chat --example ping_bot -- <channel id>
//! ```

use chzzk_chat::model::Connected;
use chzzk_chat::{ChatClient, ChatMessage, Context, Credentials, Error, Handler};

struct PingBot;

impl Handler for PingBot {
    async fn on_connect(&self, _ctx: &Context, connected: &Connected) {
        println!(
            "joined {} ({:?})",
            connected.chat_channel_id, connected.auth
        );
    }

    async fn on_chat(&self, ctx: &Context, message: &ChatMessage) {
        if message.content.trim() == "!ping"
            && let Err(e) = message.reply(&ctx.client, "pong").await
        {
            eprintln!("could not answer: {e}");
        }
    }

    async fn on_error(&self, _ctx: &Context, error: &Error) {
        eprintln!("error: {error}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let channel = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "5f1e2d3c4b5a69788796a5b4c3d2e1f0".into());
    let (aut, ses) = (
        std::env::var("NID_AUT").unwrap_or_default(),
        std::env::var("NID_SES").unwrap_or_default(),
    );
    let client = ChatClient::builder(channel)
        .credentials(Credentials::new(aut, ses))
        .build();
    client.run(PingBot).await
}
