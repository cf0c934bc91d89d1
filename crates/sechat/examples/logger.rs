//! A room logger: every message, edit and deletion as one JSON line on stdout.
//!
//! ```sh
//! SE_EMAIL=... SE_PASSWORD=... cargo run -p sechat --example logger -- <room id> > room.jsonl
//! ```

use sechat::{ChatClient, Credentials, Event, Server};

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
    let room = ChatClient::new(&creds).room(room_id);
    let mut events = room.connect().await?;
    while let Some(event) = events.next().await {
        match event {
            Ok(
                e @ (Event::MessagePosted(_) | Event::MessageEdited(_) | Event::MessageDeleted(_)),
            ) => {
                println!("{}", serde_json::to_string(&e).unwrap_or_default());
            }
            Ok(Event::Reconnecting(r)) => eprintln!("reconnecting: {}", r.reason),
            Ok(_) => {}
            Err(e) => eprintln!("error: {e}"),
        }
    }
    Ok(())
}
