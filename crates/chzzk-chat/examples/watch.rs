//! Watch a channel's chat: every event, as a stream.
//!
//! ```sh
//! cargo run -p chzzk-chat --example watch -- <channel id>
//! ```

use chzzk_chat::{ChatClient, Event};

#[tokio::main]
async fn main() -> Result<(), chzzk_chat::Error> {
    let channel = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "5f1e2d3c4b5a69788796a5b4c3d2e1f0".into());
    let client = ChatClient::builder(channel).wait_for_live(true).build();
    let mut events = client.connect().await?;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Chat(m)) => println!("{}: {}", m.nickname().unwrap_or("?"), m.content),
            Ok(Event::Donation(d)) => {
                println!(
                    "[{} cheese] {}: {}",
                    d.extras.pay_amount.unwrap_or(0),
                    d.nickname().unwrap_or("anonymous"),
                    d.content
                );
            }
            Ok(Event::Subscription(s)) => println!(
                "[subscribed {} months] {}",
                s.extras.month.unwrap_or(0),
                s.nickname().unwrap_or("?")
            ),
            Ok(Event::Reconnecting(r)) => eprintln!("reconnecting: {}", r.reason),
            Ok(other) => eprintln!("({})", other.kind()),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    Ok(())
}
