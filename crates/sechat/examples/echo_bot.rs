//! An echo bot: answers every mention with what was said.
//!
//! ```sh
//! SE_EMAIL=... SE_PASSWORD=... cargo run -p sechat --example echo_bot -- <room id>
//! ```

use sechat::{ChatClient, Context, Credentials, EventData, Handler, Server};

struct Echo;

impl Handler for Echo {
    async fn on_mention(&self, ctx: &Context, event: &EventData) {
        let text = event.text.clone().unwrap_or_default();
        if let Err(e) = ctx
            .room
            .send(&format!("you said: {text}"), event.message_id)
            .await
        {
            eprintln!("could not answer: {e}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), sechat::Error> {
    let room_id = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let (email, password) = (
        std::env::var("SE_EMAIL").unwrap_or_default(),
        std::env::var("SE_PASSWORD").unwrap_or_default(),
    );
    let creds = Credentials::load_or_authenticate(
        "sechat-credentials.json",
        &email,
        &password,
        &Server::stack_exchange(),
    )
    .await?;
    ChatClient::new(&creds).room(room_id).run(Echo).await
}
