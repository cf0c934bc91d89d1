//! The typed events, the callback trait generated from the same table, and the mapping to
//! chatwire-core's normalised events.

use chatwire_core::{Author, ChannelRef, ChatEvent, Platform};
use serde::Serialize;
use serde_json::Value;

use crate::model::{
    Blind, BroadcastChange, ChannelEvent, ChatMessage, ChatMode, Connected, Disconnected,
    DonationMessage, Message, Mission, Moderation, NoticeMessage, RecentChat, Reconnecting,
    SessionEnded, SubscriptionGift, SubscriptionGiftMessage, SubscriptionMessage, SystemMessage,
    TemporaryRestrict, Unpin,
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

    /// The normalised form, for code that handles every platform alike (`None` for events
    /// that have no normalised counterpart).
    pub fn to_core(&self) -> Option<ChatEvent> {
        fn msg<E>(m: &Message<E>) -> ChatEvent {
            ChatEvent::Message(core_message(m))
        }
        let channel = |id: &str| ChannelRef::group(id.to_owned());
        Some(match self {
            Self::Chat(m) => msg(m),
            Self::Donation(m) => msg(m),
            Self::Subscription(m) => msg(m),
            Self::SubscriptionGift(m) => msg(m),
            Self::SystemMessage(m) => msg(m),
            Self::Blind(b) if !b.kind.restores() => ChatEvent::MessageDeleted {
                platform: Platform::Chzzk,
                channel: channel(&b.channel_id),
                message_id: b.message_key(),
            },
            Self::Connected(c) => ChatEvent::Connected {
                platform: Platform::Chzzk,
                channel: channel(&c.channel_id),
            },
            Self::Reconnecting(r) => ChatEvent::Reconnecting {
                platform: Platform::Chzzk,
                channel: channel(&r.channel_id),
                attempt: r.attempt,
                delay: std::time::Duration::from_millis(r.delay_ms),
            },
            Self::Disconnected(d) => ChatEvent::Disconnected {
                platform: Platform::Chzzk,
                channel: channel(&d.channel_id),
                reason: Some(d.reason.clone()),
            },
            _ => return None,
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
    let author = Author::new(m.user_id.clone(), m.nickname().map(str::to_owned));
    let mut out = chatwire_core::ChatMessage::new(
        Platform::Chzzk,
        ChannelRef::group(m.channel_id.clone()),
        author,
        m.content.clone(),
    )
    .with_id(m.key());
    if let Some(t) = m.time() {
        out = out.with_timestamp(t);
    }
    out
}

impl chatwire_net::ToCore for Event {
    fn to_core(&self) -> Option<ChatEvent> {
        Event::to_core(self)
    }
}
