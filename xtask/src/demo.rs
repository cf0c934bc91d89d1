//! `cargo xtask demo`: the main job, offline. Replays the embedded sessions (fixtures whose
//! header says `"demo": true`) on loopback through each platform's real client and prints a
//! live feed and a summary.
//!
//! Each protocol crate adds its platform to [`PLATFORMS`] when it lands.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chat_replay::{Fixture, ReplayServer};
use chat_streams::{ListQuery, Registry, RegistryOptions};

use crate::fixtures::find_fixtures;
use crate::{project_root, take_fixture_dirs};

/// What the sessions produced.
#[derive(Debug, Default)]
struct Tally {
    sessions: usize,
    events: BTreeMap<String, usize>,
    http_requests: usize,
    ws_connections: usize,
    failures: Vec<String>,
}

type Play = fn(
    Arc<ReplayServer>,
    Arc<Registry>,
) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send>>;

/// A platform the demo can run: its fixture `platform`, and a function that plays one
/// session, printing the feed as it happens and returning the kinds of events it saw.
struct Platform {
    name: &'static str,
    play: Play,
}

const PLATFORMS: &[Platform] = &[
    Platform {
        name: "chzzk",
        play: |server, registry| Box::pin(chzzk::play(server, registry)),
    },
    Platform {
        name: "sechat",
        play: |server, registry| Box::pin(sechat::play(server, registry)),
    },
    Platform {
        name: "livekit",
        play: |server, registry| Box::pin(livekit::play(server, registry)),
    },
];

/// `LiveKit` has no server to replay: its sessions are participants chatting through the
/// crate's wire-accurate in-memory room (real `DataPacket` bytes, server-like routing). The
/// fixture's actions drive the participants; the replay server only hands them out.
/// Every normalised event this run produced, as NDJSON lines, written to
/// [`CORE_EVENTS`] at the end (the `events-schema` interop oracle validates that file).
static CORE_LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Where the demo writes its normalised events (NDJSON), relative to the project root.
pub(crate) const CORE_EVENTS: &str = "target/demo/core-events.jsonl";

fn log_core(core: &chzzk_chat::chatwire_core::ChatEvent) {
    if let Ok(line) = serde_json::to_string(core) {
        CORE_LOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }
}

/// How the feed shows a support event (donation, subscription, gift), from its normalised
/// form: one format whatever the platform.
fn support_line(core: &chzzk_chat::chatwire_core::ChatEvent) -> Option<String> {
    use chzzk_chat::chatwire_core::ChatEvent;
    let name = |a: &chzzk_chat::chatwire_core::Author| {
        a.name.clone().unwrap_or_else(|| {
            if a.id.is_empty() {
                "?".into()
            } else {
                a.id.clone()
            }
        })
    };
    Some(match core {
        ChatEvent::Donation(d) => format!(
            "DONATION {} {} ({:?}) from {}{}",
            d.amount,
            d.unit,
            d.kind,
            if d.anonymous {
                "anonymous".into()
            } else {
                name(&d.author)
            },
            d.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        ChatEvent::Subscription(s) => format!(
            "SUBSCRIPTION {}{} month(s), tier {}{}{}",
            name(&s.author),
            s.months.map_or_else(String::new, |m| format!(" {m}")),
            s.tier.map_or_else(|| "?".into(), |t| t.to_string()),
            s.gifted_by
                .as_ref()
                .map(|g| format!(", a gift from {}", name(g)))
                .unwrap_or_default(),
            s.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        ChatEvent::Gift(g) => format!(
            "GIFT of {} subscription(s) from {}",
            g.quantity,
            name(&g.author)
        ),
        _ => return None,
    })
}

mod livekit {
    use std::collections::HashMap;
    use std::sync::Arc;

    use chat_replay::ReplayServer;
    use chat_streams::Registry;
    use livekit_chat::{
        ChatManager, ChatMessage, ChatOptions, Event, Events, InMemoryRoom, Participant,
        RoomOptions, SendMode,
    };

    struct Member {
        identity: String,
        chat: ChatManager<Participant>,
        events: Events,
    }

    fn line(at: &str, e: &Event) -> String {
        let m = e.message();
        let from = m.participant.as_deref().unwrap_or("(server)");
        match e {
            Event::Received(_) => format!("{at} ← {from}: {} [{:?}]", m.text(), m.format),
            Event::Edited(_) => format!("{at} sees {from} edit: {}", m.text()),
            Event::Deleted(_) => format!("{at} sees {from} delete {}", m.id),
            _ => format!("{at}: {} event", e.kind()),
        }
    }

    pub(super) async fn play(
        server: Arc<ReplayServer>,
        registry: Arc<Registry>,
    ) -> Result<Vec<String>, String> {
        let c = server.fixture().header.config.clone();
        let room_name = c["room"]["name"].as_str().unwrap_or("demo-room").to_owned();
        let mut room_options = RoomOptions::default();
        if let Some(v) = c["room"]["server_version"].as_str() {
            room_options = room_options.server_version(v.into());
        }
        let room = InMemoryRoom::new(room_options);
        let mut members = Vec::new();
        for p in c["participants"]
            .as_array()
            .ok_or("config.participants is required")?
        {
            let identity = p["identity"]
                .as_str()
                .ok_or("a participant needs an identity")?;
            let mode = match p["mode"].as_str() {
                Some("legacy_only") => SendMode::LegacyOnly,
                Some("streams_only") => SendMode::StreamsOnly,
                _ => SendMode::Compatible,
            };
            let options = ChatOptions::default()
                .mode(mode)
                .room_name(room_name.clone());
            let chat = ChatManager::new(room.join(identity), options);
            let events = chat.subscribe();
            println!("  [livekit] {identity} joined {room_name} ({mode:?})");
            members.push(Member {
                identity: identity.to_owned(),
                chat,
                events,
            });
        }
        let mut labels: HashMap<String, ChatMessage> = HashMap::new();
        let mut kinds = Vec::new();
        let mut actions = server.take_actions().ok_or("actions already taken")?;
        while let Some(action) = actions.next().await {
            let a = &action.args;
            let text = a["text"].as_str().unwrap_or_default();
            let label = a["label"].as_str().unwrap_or_default();
            let Some(member) = a["from"]
                .as_str()
                .and_then(|f| members.iter().find(|m| m.identity == f))
            else {
                // History dumps and raw injections are test-only; the demo shows chat.
                continue;
            };
            let sent = match action.name.as_str() {
                "send" => {
                    let to: Vec<String> = a["to"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                    if !to.is_empty() {
                        println!(
                            "  [livekit] {} → {} (direct)",
                            member.identity,
                            to.join(", ")
                        );
                    }
                    member
                        .chat
                        .send_to(text, to.into_iter().map(Into::into).collect())
                        .await
                }
                "edit" | "delete" => {
                    let original = labels.get(label).ok_or("unknown label")?;
                    let mut m = original.clone();
                    if action.name == "edit" {
                        m.message = Some(text.to_owned());
                        member.chat.update_message(&m).await
                    } else {
                        member.chat.delete_message(&m).await
                    }
                }
                _ => continue,
            };
            match sent {
                Ok(m) if !label.is_empty() => {
                    labels.insert(label.to_owned(), m);
                }
                Ok(_) => {}
                Err(e) => println!(
                    "  [livekit] {} could not {}: {e}",
                    member.identity, action.name
                ),
            }
            room.settled().await;
            for m in &mut members {
                while let Some(item) = m.events.try_next() {
                    match item {
                        Ok(e) => {
                            let core = e.to_core(&room_name);
                            let _ = registry.register_event(&core);
                            super::log_core(&core);
                            kinds.push(e.kind().to_owned());
                            println!("  [livekit] {}", line(&m.identity, &e));
                        }
                        Err(e) => {
                            kinds.push("error".into());
                            println!("  [livekit] {} ! {e}", m.identity);
                        }
                    }
                }
            }
        }
        for m in &members {
            m.chat.close();
        }
        Ok(kinds)
    }
}

mod sechat {
    use std::sync::Arc;
    use std::time::Duration;

    use ::sechat::{ChatClient, Credentials, Event, ReconnectPolicy, Server, Timing};
    use chat_replay::ReplayServer;
    use chat_streams::Registry;

    fn line(e: &Event) -> String {
        let who = |d: &::sechat::EventData| d.user_name.clone().unwrap_or_else(|| "?".into());
        match e {
            Event::Connected(c) => format!("following room {} from event {}", c.room_id, c.since),
            Event::MessagePosted(d) => format!("{}: {}", who(d), d.text.as_deref().unwrap_or("")),
            Event::MessageEdited(d) => {
                format!("{} edited: {}", who(d), d.text.as_deref().unwrap_or(""))
            }
            Event::MessageDeleted(d) => format!(
                "message {} deleted",
                d.message_id.map_or(0, ::sechat::MessageId::get)
            ),
            Event::UserMentioned(d) => format!("{} mentioned the bot", who(d)),
            Event::MessageReply(d) => format!("{} replied to the bot", who(d)),
            Event::MessageStarred(d) => format!(
                "message {} has {} star(s), {} pin(s)",
                d.message_id.map_or(0, ::sechat::MessageId::get),
                d.message_stars,
                d.message_owner_stars
            ),
            Event::UserEntered(d) => format!("{} entered", who(d)),
            Event::UserLeft(d) => format!("{} left", who(d)),
            Event::Invitation(d) => format!("invited to {}", d.room_name.as_deref().unwrap_or("?")),
            Event::Reconnecting(r) => format!("reconnecting (attempt {}): {}", r.attempt, r.reason),
            Event::Disconnected(d) => format!("left: {}", d.reason),
            other => match other.data().and_then(|d| d.text.clone()) {
                Some(t) if !t.is_empty() => format!("{}: {t}", other.kind()),
                _ => format!("{} event", other.kind()),
            },
        }
    }

    pub(super) async fn play(
        server: Arc<ReplayServer>,
        registry: Arc<Registry>,
    ) -> Result<Vec<String>, String> {
        let c = server.fixture().header.config.clone();
        let target = Server::stack_exchange().local(server.http_base(), server.ws_base());
        let builder = ChatClient::builder(&target)
            .reconnect(ReconnectPolicy::immediate())
            .timing(Timing::default().poll_interval(Duration::from_millis(5)));
        let room_id = c["room_id"].as_u64().ok_or("no room_id")?;
        let (room, mut events) = if c["mode"] == "anonymous" {
            let room = builder.build().room(room_id);
            let events = room.connect().await.map_err(|e| e.to_string())?;
            (None, events)
        } else {
            let email = c["email"].as_str().unwrap_or_default();
            let password = c["password"].as_str().unwrap_or_default();
            let creds = Credentials::authenticate_with(email, password, &builder.clone().build())
                .await
                .map_err(|e| e.to_string())?;
            println!("  [sechat] logged in as chat user {}", creds.user_id());
            let room = builder.credentials(&creds).build().room(room_id);
            let events = room.connect().await.map_err(|e| e.to_string())?;
            (Some(room), events)
        };
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let feed = tokio::spawn(async move {
            let mut kinds = Vec::new();
            let show = |item: Result<Event, ::sechat::Error>, kinds: &mut Vec<String>| match item {
                Ok(e) => {
                    if let Some(core) = e.to_core() {
                        let _ = registry.register_event(&core);
                        super::log_core(&core);
                    }
                    kinds.push(e.kind().to_owned());
                    println!("  [sechat] {}", line(&e));
                }
                Err(e) => {
                    kinds.push("error".into());
                    println!("  [sechat] ! {e}");
                }
            };
            loop {
                tokio::select! {
                    biased;
                    item = events.next() => match item {
                        Some(item) => show(item, &mut kinds),
                        None => return kinds,
                    },
                    _ = &mut stop_rx => break,
                }
            }
            while let Some(Some(item)) = futures_util::FutureExt::now_or_never(events.next()) {
                show(item, &mut kinds);
            }
            kinds
        });
        server.wait_done().await;
        match room {
            Some(room) => room.close().await.map_err(|e| e.to_string())?,
            None => {
                let _ = stop_tx.send(());
            }
        }
        feed.await.map_err(|e| e.to_string())
    }
}

mod chzzk {
    use std::sync::Arc;
    use std::time::Duration;

    use chat_replay::ReplayServer;
    use chat_streams::Registry;
    use chzzk_chat::{ChatClient, Credentials, Endpoints, Event, ReconnectPolicy, Timing};

    /// Who wrote a line: the nickname; without one, the author's id, whole when it is one of
    /// Chzzk's special authors (`anonymous`, `SYSTEM_MESSAGE`, anything that is not a 32-hex
    /// user hash), else its first 8 characters marked as cut (`00000065…`).
    pub(super) fn who(nick: Option<&str>, user: &str) -> String {
        if let Some(nick) = nick {
            return nick.to_owned();
        }
        let is_hash = user.len() == 32 && user.bytes().all(|b| b.is_ascii_hexdigit());
        if is_hash {
            format!("{}…", &user[..8])
        } else {
            user.to_owned()
        }
    }

    fn line(event: &Event) -> String {
        // Donations, subscriptions and gifts print from their normalised form.
        if let Some(l) = event.to_core().as_ref().and_then(super::support_line) {
            return l;
        }
        match event {
            Event::Connected(c) => format!("joined chat {} ({:?} mode)", c.chat_channel_id, c.auth),
            Event::Chat(m) => format!("{}: {}", who(m.nickname(), &m.user_id), m.content),
            Event::SystemMessage(m) => format!("system: {}", m.content),
            Event::Pin(n) => format!("pinned: {}", n.content),
            Event::Unpin(_) => "pin removed".into(),
            Event::Blind(b) if b.kind.restores() => format!("line {} restored", b.message_key()),
            Event::Blind(b) => format!("line {} hidden ({:?})", b.message_key(), b.kind),
            Event::SubscriptionGiftStarted(g) => format!(
                "GIFT of {} subscription(s) to the channel",
                g.quantity.map_or_else(|| "?".into(), |q| q.to_string())
            ),
            Event::SubscriptionGiftReceived(g) => {
                format!(
                    "gift received by {}",
                    g.receiver_nickname.as_deref().unwrap_or("?")
                )
            }
            Event::RecentChat(r) => format!("recent chat: {} line(s)", r.messages.len()),
            Event::MissionPending(m)
            | Event::MissionApproved(m)
            | Event::MissionRejected(m)
            | Event::MissionCompleted(m)
            | Event::MissionExpired(m)
            | Event::MissionUpdated(m)
            | Event::MissionParticipation(m) => format!(
                "mission {:?}: {} ({} cheese in total)",
                m.status,
                m.mission_text.as_deref().unwrap_or(""),
                m.total_pay_amount.unwrap_or(0)
            ),
            Event::TemporaryRestrict(r) => format!(
                "timeout {}s for {}",
                r.duration.unwrap_or(0),
                r.user_id_hash.as_deref().unwrap_or("?")
            ),
            Event::ChatModeChanged(m) => format!("chat mode: {:?}", m.chat_available_group),
            Event::BroadcastOpened(b) => format!(
                "broadcast opened: {}",
                b.live_title.as_deref().unwrap_or("")
            ),
            Event::BroadcastClosed(_) => "broadcast closed".into(),
            Event::ChatChannelChanged(b) => {
                format!(
                    "new chat channel {}",
                    b.new_chat_channel_id.as_deref().unwrap_or("?")
                )
            }
            Event::Reconnecting(r) => format!("reconnecting (attempt {}): {}", r.attempt, r.reason),
            Event::Disconnected(d) => format!("left: {}", d.reason),
            other => format!("{} event", other.kind()),
        }
    }

    pub(super) async fn play(
        server: Arc<ReplayServer>,
        registry: Arc<Registry>,
    ) -> Result<Vec<String>, String> {
        let config = server.fixture().header.config.clone();
        let channel = config["channel_id"]
            .as_str()
            .ok_or("no channel_id")?
            .to_owned();
        let timing =
            Timing::default().live_poll(config["live_poll_ms"].as_u64().map(Duration::from_millis));
        let mut builder = ChatClient::builder(channel)
            .endpoints(Endpoints::local(server.http_base(), server.ws_base()))
            .reconnect(ReconnectPolicy::immediate())
            .timing(timing);
        if config["login"].as_bool().unwrap_or(false) {
            builder = builder.credentials(Credentials::new("fake-nid-aut", "fake-nid-ses"));
        }
        if let Some(n) = config["gap_fill"].as_u64() {
            builder = builder.gap_fill(u32::try_from(n).unwrap_or(50));
        }
        let client = builder.build();
        let mut actions = server.take_actions().ok_or("actions taken")?;
        let mut events = client.connect().await.map_err(|e| e.to_string())?;
        let actor = {
            let client = client.clone();
            tokio::spawn(async move {
                while let Some(a) = actions.next().await {
                    let count = u32::try_from(a.args["count"].as_u64().unwrap_or(50)).unwrap_or(50);
                    let result = match a.name.as_str() {
                        "send_chat" => client
                            .send_chat(a.args["text"].as_str().unwrap_or(""))
                            .await
                            .map(|()| "sent".to_owned()),
                        "history" => client
                            .history(count)
                            .await
                            .map(|r| format!("history: {} line(s)", r.messages.len())),
                        other => Ok(format!("(the demo skips {other})")),
                    };
                    println!(
                        "  > {}: {}",
                        a.name,
                        result.unwrap_or_else(|e| e.to_string())
                    );
                }
            })
        };
        let feed = tokio::spawn(async move {
            let mut kinds = Vec::new();
            while let Some(item) = events.next().await {
                match item {
                    Ok(e) => {
                        if let Some(core) = e.to_core() {
                            let _ = registry.register_event(&core);
                            super::log_core(&core);
                        }
                        kinds.push(e.kind().to_owned());
                        println!("  [chzzk] {}", line(&e));
                    }
                    Err(e) => {
                        kinds.push("error".into());
                        println!("  [chzzk] ! {e}");
                    }
                }
            }
            kinds
        });
        server.wait_done().await;
        let _ = client.close().await;
        let kinds = feed.await.map_err(|e| e.to_string())?;
        actor.abort();
        Ok(kinds)
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let (dirs, rest) = take_fixture_dirs(args)?;
    if let Some(a) = rest.first() {
        return Err(format!("unknown argument {a:?} for demo"));
    }
    let roots: Vec<PathBuf> = if dirs.is_empty() {
        vec![project_root().join("fixtures")]
    } else {
        dirs
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut tally = Tally::default();
    // Every platform's sessions feed one registry, persisted where a user would keep it.
    let db = project_root().join("target/demo/streams.db");
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let registry =
        Arc::new(Registry::open(&db, RegistryOptions::default()).map_err(|e| e.to_string())?);
    for path in find_fixtures(&roots) {
        let fixture = match Fixture::load(&path) {
            Ok(f) if f.header.demo => Arc::new(f),
            Ok(_) => continue,
            Err(e) => {
                tally.failures.push(e.to_string());
                continue;
            }
        };
        let Some(platform) = PLATFORMS.iter().find(|p| p.name == fixture.header.platform) else {
            continue;
        };
        println!(
            "\n▶ {} · {} — {}",
            platform.name,
            fixture.name(),
            fixture.header.title
        );
        let outcome = rt.block_on(async {
            let server = Arc::new(
                ReplayServer::start(Arc::clone(&fixture))
                    .await
                    .map_err(|e| e.to_string())?,
            );
            let played = tokio::time::timeout(
                Duration::from_secs(30),
                (platform.play)(Arc::clone(&server), Arc::clone(&registry)),
            )
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
            // Let the server read a close the client sent on its own just before returning.
            let _ = tokio::time::timeout(Duration::from_secs(2), server.wait_all()).await;
            let finish = server.finish().await;
            let kinds = played?;
            let report = finish.map_err(|e| e.to_string())?;
            Ok::<_, String>((kinds, report))
        });
        tally.sessions += 1;
        match outcome {
            Ok((kinds, report)) => {
                for k in kinds {
                    *tally
                        .events
                        .entry(format!("{}:{k}", platform.name))
                        .or_default() += 1;
                }
                tally.http_requests += report.http_requests;
                tally.ws_connections += report.ws_connections;
            }
            Err(e) => {
                println!("  ✗ {e}");
                tally.failures.push(format!("{}: {e}", path.display()));
            }
        }
    }
    println!("\n── summary ──");
    let total: usize = tally.events.values().sum();
    println!(
        "{} session(s) replayed on loopback through the real clients: {total} event(s), {} HTTP request(s), {} WebSocket connection(s), {} failure(s)",
        tally.sessions,
        tally.http_requests,
        tally.ws_connections,
        tally.failures.len()
    );
    let kinds: Vec<String> = tally
        .events
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("by kind: {}", kinds.join(", "));
    print_streams(&registry)?;
    println!(
        "(registry persisted to {})",
        db.strip_prefix(project_root()).unwrap_or(&db).display()
    );
    let lines = std::mem::take(
        &mut *CORE_LOG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(project_root().join(CORE_EVENTS), text).map_err(|e| e.to_string())?;
    println!(
        "({} normalised events written to {CORE_EVENTS})",
        lines.len()
    );
    if tally.failures.is_empty() {
        Ok(())
    } else {
        Err(tally.failures.join("\n"))
    }
}

fn print_streams(registry: &Registry) -> Result<(), String> {
    registry.close().map_err(|e| e.to_string())?;
    let summary = registry.get_streams_summary();
    println!("\n── chat streams ──");
    println!(
        "{}",
        serde_json::to_string(&summary).map_err(|e| e.to_string())?
    );
    println!(
        "{:<34} {:<14} {:<8} {:<34} {:<20} last active (UTC)",
        "stream id", "platform", "type", "target", "name"
    );
    for s in registry.list(&ListQuery::new()) {
        let when = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(s.last_active_at_ms) * 1_000_000,
        )
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
        println!(
            "{:<34} {:<14} {:<8} {:<34} {:<20} {when}",
            s.stream_id,
            s.platform,
            Registry::get_stream_type(&s).as_str(),
            s.key.target,
            s.name().unwrap_or_default(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn chzzk_authors_without_a_nickname() {
        // Issue 19: an anonymous gift's sender showed as "anonymou".
        assert_eq!(super::chzzk::who(None, "anonymous"), "anonymous");
        assert_eq!(super::chzzk::who(None, "SYSTEM_MESSAGE"), "SYSTEM_MESSAGE");
        assert_eq!(
            super::chzzk::who(None, "00000065c0ffee006be302d50badf00d"),
            "00000065…"
        );
        assert_eq!(
            super::chzzk::who(Some("시청자"), "00000065c0ffee006be302d50badf00d"),
            "시청자"
        );
    }
}
