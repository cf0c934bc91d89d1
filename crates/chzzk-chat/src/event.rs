//! The typed events, the callback trait generated from the same table, and the mapping to
//! chatwire-core's normalised events.

use std::collections::BTreeMap;

use chatwire_core::{
    Author, Badge, ChannelRef, ChatEvent, Donation, DonationKind, Fragment, Gift, Platform, Role,
    RoomMode, Subscription,
};
use serde::Serialize;
use serde_json::Value;

use crate::model::{
    Blind, BroadcastChange, ChannelEvent, ChannelId, ChatMessage, ChatMode, Connected,
    Disconnected, DonationMessage, Message, Mission, Moderation, NoticeMessage, RecentChat,
    Reconnecting, SessionEnded, SubscriptionGift, SubscriptionGiftMessage, SubscriptionMessage,
    SystemMessage, TemporaryRestrict, Unpin, UserRole,
};
use crate::{ChatClient, Error};

/// What the handler methods receive besides the event: the client, to answer with.
#[derive(Debug, Clone)]
pub struct Context {
    /// The client that produced the event.
    pub client: ChatClient,
}

chatwire_net::event_model! {
    /// Everything a chat client reports, in arrival order.
    ///
    /// Serialised (for fixtures and logs) as `{"type": "<snake_case name>", ...payload}`.
    /// Unknown frames are kept whole and reachable through [`Event::kind`] and
    /// [`Event::raw`].
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    #[non_exhaustive]
    #[allow(clippy::large_enum_variant, reason = "events are moved once, from the socket task to the consumer")]
    pub enum Event;

    /// Callbacks in chzzkpy's style: one method per event, each a no-op by default.
    ///
    /// Implement the ones you need with plain `async fn`; run them with
    /// [`ChatClient::run`]. Events are dispatched one at a time, in order (unlike chzzkpy,
    /// which schedules each callback as its own task): spawn inside a handler for
    /// concurrency.
    pub trait Handler(Context, Error);

    /// The client joined the chat channel (first join and every rejoin).
    Connected(Connected) => on_connect, "connected";
    /// A text chat line.
    Chat(ChatMessage) => on_chat, "chat";
    /// A donation (chat, video, mission, participation, party, or an unknown kind).
    Donation(DonationMessage) => on_donation, "donation";
    /// A subscription announcement.
    Subscription(SubscriptionMessage) => on_subscription, "subscription";
    /// A subscription-gift line (one per receiver).
    SubscriptionGift(SubscriptionGiftMessage) => on_subscription_gift, "subscription_gift";
    /// A system line (chat mode changes, restrictions); `visible_roles` tells manager-only ones.
    SystemMessage(SystemMessage) => on_system_message, "system_message";
    /// The answer to a recent-chat request ([`ChatClient::request_recent_chat`], [`ChatClient::history`]).
    RecentChat(RecentChat) => on_recent_chat, "recent_chat";
    /// A line was pinned.
    Pin(NoticeMessage) => on_pin, "pin";
    /// The pin was removed.
    Unpin(Unpin) => on_unpin, "unpin";
    /// A line was hidden, or restored (`kind` = cancel).
    Blind(Blind) => on_blind, "blind";
    /// A mission donation waits for the streamer.
    MissionPending(Mission) => on_mission_pending, "mission_pending";
    /// A mission was approved.
    MissionApproved(Mission) => on_mission_approved, "mission_approved";
    /// A mission was rejected.
    MissionRejected(Mission) => on_mission_rejected, "mission_rejected";
    /// A mission ended (see `success`).
    MissionCompleted(Mission) => on_mission_completed, "mission_completed";
    /// A mission ran out of time (chzzkpy drops these).
    MissionExpired(Mission) => on_mission_expired, "mission_expired";
    /// A mission in a state this version does not know.
    MissionUpdated(Mission) => on_mission_updated, "mission_updated";
    /// Someone added to a mission.
    MissionParticipation(Mission) => on_mission_participation, "mission_participation";
    /// Someone gifted subscriptions to the channel (then one receiver event per receiver).
    SubscriptionGiftStarted(SubscriptionGift) => on_subscription_gift_started, "subscription_gift_started";
    /// One receiver of a gift.
    SubscriptionGiftReceived(SubscriptionGift) => on_subscription_gift_received, "subscription_gift_received";
    /// A user was timed out.
    TemporaryRestrict(TemporaryRestrict) => on_temporary_restrict, "temporary_restrict";
    /// The chat settings changed.
    ChatModeChanged(ChatMode) => on_chat_mode_changed, "chat_mode_changed";
    /// Another named channel event (donation settings, party donations, penalties, ...).
    ChannelEvent(ChannelEvent) => on_channel_event, "channel_event";
    /// A kick frame (94005; its body is undocumented).
    Kick(Moderation) => on_kick, "kick";
    /// A block frame (94006; its body is undocumented).
    Block(Moderation) => on_block, "block";
    /// A penalty frame (94015; its body is undocumented).
    Penalty(Moderation) => on_penalty, "penalty";
    /// The server ended the session (90102); the client stops after it.
    SessionEnded(SessionEnded) => on_session_ended, "session_ended";
    /// The broadcast went on air (live-status poll).
    BroadcastOpened(BroadcastChange) => on_broadcast_open, "broadcast_opened";
    /// The broadcast went off air (live-status poll).
    BroadcastClosed(BroadcastChange) => on_broadcast_close, "broadcast_closed";
    /// A new broadcast has a new chat channel; the client rejoins on its own.
    ChatChannelChanged(BroadcastChange) => on_chat_channel_changed, "chat_channel_changed";
    /// The connection was lost and will be retried.
    Reconnecting(Reconnecting) => on_reconnecting, "reconnecting";
    /// The client stopped for good; the stream ends after this.
    Disconnected(Disconnected) => on_disconnect, "disconnected";
}

impl Event {
    /// The frame, line or body this event was decoded from (`None` for lifecycle events and
    /// the others the client makes itself).
    pub fn raw(&self) -> Option<&Value> {
        Some(match self {
            Self::Chat(m) => m.raw(),
            Self::Donation(m) => m.raw(),
            Self::Subscription(m) => m.raw(),
            Self::SubscriptionGift(m) => m.raw(),
            Self::SystemMessage(m) => m.raw(),
            Self::Pin(m) => m.raw(),
            Self::Blind(b) => b.raw(),
            Self::ChannelEvent(e) => &e.body,
            Self::Kick(m) | Self::Block(m) | Self::Penalty(m) => &m.body,
            Self::Unknown(u) => u.raw(),
            _ => return None,
        })
    }

    /// The streamer's channel the event concerns, when the event carries it.
    pub fn channel_id(&self) -> Option<&ChannelId> {
        Some(match self {
            Self::Chat(m) => &m.channel_id,
            Self::Donation(m) => &m.channel_id,
            Self::Subscription(m) => &m.channel_id,
            Self::SubscriptionGift(m) => &m.channel_id,
            Self::SystemMessage(m) => &m.channel_id,
            Self::Pin(m) => &m.channel_id,
            Self::Unpin(u) => &u.channel_id,
            Self::Blind(b) => &b.channel_id,
            Self::TemporaryRestrict(r) => &r.channel_id,
            Self::ChatModeChanged(c) => &c.channel_id,
            Self::Connected(c) => &c.channel_id,
            Self::SessionEnded(e) => &e.channel_id,
            Self::BroadcastOpened(b) | Self::BroadcastClosed(b) | Self::ChatChannelChanged(b) => {
                &b.channel_id
            }
            Self::Reconnecting(r) => &r.channel_id,
            Self::Disconnected(d) => &d.channel_id,
            _ => return None,
        })
    }

    /// The normalised form, for code that handles every platform alike: chat and system
    /// lines as messages (with emotes, badges, roles and name colour), donations with their
    /// amount in cheese (1 cheese = 1 KRW), subscriptions and gifts, blinds as hidden or
    /// restored, pins, timeouts, chat-mode changes and the lifecycle; everything else as
    /// [`ChatEvent::Platform`] with its kind and raw JSON. The mapping is tabled in
    /// `docs/events.md`. `Some` for every event.
    pub fn to_core(&self) -> Option<ChatEvent> {
        let p = Platform::Chzzk;
        let channel = |id: &ChannelId| ChannelRef::group(id.to_string());
        Some(match self {
            Self::Chat(m) => ChatEvent::Message(
                core_message(m).with_fragments(fragments(&m.content, &m.extras.emojis)),
            ),
            Self::SystemMessage(m) => ChatEvent::Message(core_message(m)),
            Self::Donation(m) => ChatEvent::Donation(core_donation(m)),
            Self::Subscription(m) => {
                let mut s =
                    Subscription::new(p, channel(&m.channel_id), author(m)).with_id(m.key());
                if let Some(tier) = m.extras.tier_no.and_then(|t| u32::try_from(t).ok()) {
                    s = s.with_tier(tier);
                }
                if let Some(months) = m.extras.month.and_then(|t| u32::try_from(t).ok()) {
                    s = s.with_months(months);
                }
                if !m.content.is_empty() {
                    s = s.with_message(m.content.clone());
                }
                if let Some(t) = m.time() {
                    s = s.with_timestamp(t);
                }
                ChatEvent::Subscription(s)
            }
            Self::SubscriptionGift(m) => core_gift_line(m),
            Self::Pin(m) => ChatEvent::Pinned {
                platform: p,
                channel: channel(&m.channel_id),
                message: core_message(m),
            },
            Self::Unpin(u) => ChatEvent::Unpinned {
                platform: p,
                channel: channel(&u.channel_id),
            },
            Self::Blind(b) if b.kind.restores() => ChatEvent::MessageRestored {
                platform: p,
                channel: channel(&b.channel_id),
                message_id: b.message_key(),
            },
            Self::Blind(b) => ChatEvent::MessageHidden {
                platform: p,
                channel: channel(&b.channel_id),
                message_id: b.message_key(),
            },
            Self::TemporaryRestrict(r) if r.user_id_hash.is_some() => ChatEvent::UserRestricted {
                platform: p,
                channel: channel(&r.channel_id),
                user: Author::new(r.user_id_hash.clone().unwrap_or_default(), None),
                duration: r.duration.map(std::time::Duration::from_secs),
            },
            Self::ChatModeChanged(c) => ChatEvent::RoomChanged {
                platform: p,
                channel: channel(&c.channel_id),
                name: None,
                topic: None,
                mode: room_mode(c),
            },
            Self::Connected(c) => ChatEvent::Connected {
                platform: p,
                channel: channel(&c.channel_id),
            },
            Self::Reconnecting(r) => ChatEvent::Reconnecting {
                platform: p,
                channel: channel(&r.channel_id),
                attempt: r.attempt,
                delay: std::time::Duration::from_millis(r.delay_ms),
            },
            Self::Disconnected(d) => ChatEvent::Disconnected {
                platform: p,
                channel: channel(&d.channel_id),
                reason: Some(d.reason.clone()),
            },
            other => ChatEvent::Platform {
                platform: p,
                channel: other
                    .channel_id()
                    .map_or_else(|| ChannelRef::group(""), channel),
                kind: other.kind().to_owned(),
                raw: other.raw().map(Value::to_string).unwrap_or_default(),
            },
        })
    }
}

/// A chat line in chatwire-core's shape: the channel is the streamer's channel id, the message
/// id is `"{user_id}:{time_ms}"`.
impl<E> From<&Message<E>> for chatwire_core::ChatMessage {
    fn from(m: &Message<E>) -> Self {
        core_message(m)
    }
}

fn core_message<E>(m: &Message<E>) -> chatwire_core::ChatMessage {
    let mut out = chatwire_core::ChatMessage::new(
        Platform::Chzzk,
        ChannelRef::group(m.channel_id.to_string()),
        author(m),
        m.content.clone(),
    )
    .with_id(m.key());
    if let Some(t) = m.time() {
        out = out.with_timestamp(t);
    }
    out
}

/// The author of a line with what the profile says: roles, badges in the web client's order,
/// the name colour's code.
fn author<E>(m: &Message<E>) -> Author {
    let mut a = Author::new(m.user_id.to_string(), m.nickname().map(str::to_owned));
    let Some(p) = &m.profile else {
        return a;
    };
    let mut roles = Vec::new();
    match &p.user_role {
        Some(UserRole::Streamer) => roles.push(Role::Broadcaster),
        Some(
            UserRole::StreamingChatManager | UserRole::StreamingChannelManager | UserRole::Manager,
        ) => roles.push(Role::Moderator),
        _ => {}
    }
    if p.streaming_property.subscription.is_some() {
        roles.push(Role::Subscriber);
    }
    if p.verified_mark {
        roles.push(Role::Verified);
    }
    a = a
        .with_roles(roles)
        .with_badges(p.badge_images().into_iter().map(Badge::new));
    if let Some(c) = &p.streaming_property.nickname_color {
        a = a.with_color(c.clone());
    }
    a
}

/// The text split at `{:name:}` emote tokens that `emojis` names (others stay text).
fn fragments(content: &str, emojis: &BTreeMap<String, String>) -> Vec<Fragment> {
    if emojis.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = content;
    while let Some(start) = rest.find("{:") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(":}") else { break };
        let name = &after[..end];
        match emojis.get(name) {
            Some(url) => {
                text.push_str(&rest[..start]);
                if !text.is_empty() {
                    out.push(Fragment::Text {
                        text: std::mem::take(&mut text),
                    });
                }
                out.push(Fragment::Emote {
                    id: name.to_owned(),
                    name: format!("{{:{name}:}}"),
                    image_url: url.clone(),
                });
            }
            None => text.push_str(&rest[..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Fragment::Text { text });
    }
    out
}

fn core_donation(m: &DonationMessage) -> Donation {
    let e = &m.extras;
    let kind = match e.kind {
        crate::model::DonationKind::Chat => DonationKind::Chat,
        crate::model::DonationKind::Video => DonationKind::Video,
        crate::model::DonationKind::Mission | crate::model::DonationKind::MissionParticipation => {
            DonationKind::Mission
        }
        crate::model::DonationKind::Party => DonationKind::Party,
        _ => DonationKind::Other,
    };
    let donor = if e.is_anonymous {
        Author::new("", None)
    } else {
        let mut a = author(m);
        if a.name.is_none() {
            a.name.clone_from(&e.nickname);
        }
        a
    };
    let amount = e
        .pay_amount
        .and_then(|a| i64::try_from(a).ok())
        .unwrap_or(0);
    let mut d = Donation::new(
        Platform::Chzzk,
        ChannelRef::group(m.channel_id.to_string()),
        donor,
        amount,
        "cheese",
        kind,
    )
    .with_id(m.key())
    .with_anonymous(e.is_anonymous);
    if !m.content.is_empty() {
        d = d.with_message(m.content.clone());
    }
    if let Some(t) = m.time() {
        d = d.with_timestamp(t);
    }
    d
}

/// A gift line: one receiver's subscription when it names the receiver, else the gift.
fn core_gift_line(m: &SubscriptionGiftMessage) -> ChatEvent {
    let e = &m.extras;
    let channel = ChannelRef::group(m.channel_id.to_string());
    let tier = e.gift_tier_no.and_then(|t| u32::try_from(t).ok());
    if let Some(receiver) = &e.receiver_user_id_hash {
        let mut s = Subscription::new(
            Platform::Chzzk,
            channel,
            Author::new(receiver.clone(), e.receiver_nickname.clone()),
        )
        .with_id(m.key())
        .with_gifted_by(author(m));
        if let Some(tier) = tier {
            s = s.with_tier(tier);
        }
        if let Some(t) = m.time() {
            s = s.with_timestamp(t);
        }
        return ChatEvent::Subscription(s);
    }
    let quantity = e.quantity.and_then(|q| u32::try_from(q).ok()).unwrap_or(1);
    let mut g = Gift::new(Platform::Chzzk, channel, author(m), quantity).with_id(m.key());
    if let Some(tier) = tier {
        g = g.with_tier(tier);
    }
    if let Some(t) = m.time() {
        g = g.with_timestamp(t);
    }
    ChatEvent::Gift(g)
}

/// Who may chat after a chat-mode change (`chatAvailableGroup`, then the emote mode).
fn room_mode(c: &ChatMode) -> Option<RoomMode> {
    if c.chat_emoji_mode == Some(true) {
        return Some(RoomMode::EmotesOnly);
    }
    match c.chat_available_group.as_deref()? {
        "ALL" => Some(RoomMode::Open),
        "FOLLOWER" => Some(RoomMode::FollowersOnly),
        "SUBSCRIBER" => Some(RoomMode::SubscribersOnly),
        "MANAGER" => Some(RoomMode::ModeratorsOnly),
        _ => None,
    }
}

impl chatwire_net::ToCore for Event {
    fn to_core(&self) -> Option<ChatEvent> {
        Event::to_core(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::proto::{DecodedFrame, decode_frame};

    const CHANNEL: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0";

    fn core_of(cmd: i64, line: &Value) -> ChatEvent {
        let frame =
            json!({"svcid": "game", "ver": "1", "cmd": cmd, "cid": "N2xQ7a", "bdy": [line]});
        let Ok(DecodedFrame::Events(events)) = decode_frame(CHANNEL, "N2xQ7a", &frame.to_string())
        else {
            panic!("a line frame")
        };
        let event = events.into_iter().next().unwrap().unwrap();
        event.to_core().unwrap()
    }

    fn line(uid: &str, profile: &Value, msg: &str, code: i64, extras: &Value) -> Value {
        json!({
            "svcid": "game", "cid": "N2xQ7a", "uid": uid, "msg": msg, "msgTypeCode": code,
            "msgStatusType": "NORMAL", "profile": profile.to_string(), "extras": extras.to_string(),
            "ctime": 1_790_000_000_000_i64, "utime": 1_790_000_000_000_i64,
            "msgTime": 1_790_000_000_000_i64,
        })
    }

    fn manager() -> Value {
        json!({
            "userIdHash": "u1", "nickname": "매니저", "userRoleCode": "streaming_chat_manager",
            "verifiedMark": true, "activityBadges": [],
            "badge": {"imageUrl": "https://example.invalid/role.png"},
            "streamingProperty": {
                "nicknameColor": {"colorCode": "SG002"},
                "subscription": {"accumulativeMonth": 2, "tier": 1,
                                 "badge": {"imageUrl": "https://example.invalid/sub.png"}},
            },
        })
    }

    #[test]
    fn a_chat_line_keeps_emotes_roles_badges_and_colour() {
        let extras = json!({"emojis": {"d_1": "https://example.invalid/d_1.png"}});
        let ChatEvent::Message(m) = core_of(
            93101,
            &line("u1", &manager(), "hi {:d_1:} {:x:}", 1, &extras),
        ) else {
            panic!("a message")
        };
        assert_eq!(
            m.author.roles,
            [Role::Moderator, Role::Subscriber, Role::Verified]
        );
        assert_eq!(m.author.color.as_deref(), Some("SG002"));
        assert_eq!(
            m.author
                .badges
                .iter()
                .map(|b| b.image_url.as_str())
                .collect::<Vec<_>>(),
            [
                "https://example.invalid/role.png",
                "https://example.invalid/sub.png"
            ]
        );
        assert_eq!(
            m.fragments,
            [
                Fragment::Text { text: "hi ".into() },
                Fragment::Emote {
                    id: "d_1".into(),
                    name: "{:d_1:}".into(),
                    image_url: "https://example.invalid/d_1.png".into(),
                },
                Fragment::Text {
                    text: " {:x:}".into()
                },
            ]
        );
        assert_eq!(m.id.as_deref(), Some("u1:1790000000000"));
    }

    #[test]
    fn donations_carry_amount_unit_kind_and_anonymity() {
        let named = json!({"donationType": "VIDEO", "payAmount": 1820, "isAnonymous": false, "nickname": "후원자"});
        let ChatEvent::Donation(d) = core_of(93102, &line("u1", &manager(), "노래", 10, &named))
        else {
            panic!("a donation")
        };
        assert_eq!(
            (d.amount, d.unit.as_str(), d.kind),
            (1820, "cheese", DonationKind::Video)
        );
        assert!(!d.anonymous);
        assert_eq!(d.message.as_deref(), Some("노래"));
        assert_eq!(d.author.name.as_deref(), Some("매니저"));

        let anon = json!({"donationType": "MISSION_PARTICIPATION", "payAmount": 5000, "isAnonymous": true});
        let ChatEvent::Donation(d) =
            core_of(93102, &line("anonymous", &Value::Null, "", 10, &anon))
        else {
            panic!("a donation")
        };
        assert_eq!(
            (d.amount, d.kind, d.anonymous),
            (5000, DonationKind::Mission, true)
        );
        assert_eq!((d.author.id.as_str(), d.message.as_deref()), ("", None));
    }

    #[test]
    fn a_subscription_has_tier_and_months() {
        let extras = json!({"month": 7, "tierNo": 2, "tierName": "팬"});
        let ChatEvent::Subscription(s) =
            core_of(93102, &line("u1", &manager(), "축하", 11, &extras))
        else {
            panic!("a subscription")
        };
        assert_eq!(
            (s.tier, s.months, s.message.as_deref()),
            (Some(2), Some(7), Some("축하"))
        );
    }

    #[test]
    fn every_event_has_a_core_form() {
        let kick = Event::Kick(crate::model::Moderation {
            cmd: 94005,
            body: json!({"x": 1}),
        });
        match kick.to_core() {
            Some(ChatEvent::Platform { kind, raw, .. }) => {
                assert_eq!((kind.as_str(), raw.as_str()), ("kick", r#"{"x":1}"#));
            }
            other => panic!("{other:?}"),
        }
    }
}
