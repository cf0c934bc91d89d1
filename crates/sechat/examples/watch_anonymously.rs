//! Watch a room without an account (HTTP polling).
//!
//! ```sh
//! cargo run -p sechat --example watch_anonymously -- <room id>
//! ```

use sechat::{ChatClient, Event, Server};

#[tokio::main]
async fn main() -> Result<(), sechat::Error> {
    let room_id = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let client = ChatClient::anonymous(&Server::stack_exchange());
    let mut events = client.room(room_id).connect().await?;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::MessagePosted(m)) => {
                println!(
                    "{}: {}",
                    m.user_name.unwrap_or_default(),
                    m.text.unwrap_or_default()
                );
            }
            Ok(other) => eprintln!("({})", other.kind()),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    Ok(())
}
