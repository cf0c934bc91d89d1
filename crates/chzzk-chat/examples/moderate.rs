//! A moderation helper: hides lines containing a banned word, times their authors out, and
//! pins the channel's rules when a moderator types `!rules`. Needs a manager's cookies.
//!
//! ```sh
//! NID_AUT=... NID_SES=... cargo run -p chzzk-chat --example moderate -- <channel id> <banned word>
//! ```

use chzzk_chat::{ChatClient, Credentials, Event};

#[tokio::main]
async fn main() -> Result<(), chzzk_chat::Error> {
    let mut args = std::env::args().skip(1);
    let channel = args
        .next()
        .unwrap_or_else(|| "5f1e2d3c4b5a69788796a5b4c3d2e1f0".into());
    let banned = args.next().unwrap_or_else(|| "spam".into());
    let (aut, ses) = (
        std::env::var("NID_AUT").unwrap_or_default(),
        std::env::var("NID_SES").unwrap_or_default(),
    );
    let client = ChatClient::builder(channel)
        .credentials(Credentials::new(aut, ses))
        .build();
    let mut events = client.connect().await?;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Chat(m)) if m.content.contains(&banned) => {
                m.blind(&client).await?;
                let restricted = m.temporary_restrict(&client).await?;
                println!(
                    "hid {} and timed out {:?}",
                    m.key(),
                    restricted.map(|u| u.user_id_hash)
                );
            }
            Ok(Event::Chat(m))
                if m.content == "!rules"
                    && m.profile
                        .as_ref()
                        .and_then(|p| p.user_role.as_ref())
                        .is_some_and(chzzk_chat::model::UserRole::is_moderator) =>
            {
                if let Some(rule) = client.manage_self().chat_rule().await? {
                    println!("rules: {rule}");
                }
                m.pin(&client).await?;
            }
            Ok(Event::TemporaryRestrict(r)) => {
                println!("timeout: {:?} for {:?}s", r.user_id_hash, r.duration);
            }
            Ok(_) => {}
            Err(e) => eprintln!("error: {e}"),
        }
    }
    Ok(())
}
