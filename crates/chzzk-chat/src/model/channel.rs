use super::{ChannelId, ChatChannelId, UserIdHash};
use serde::Serialize;
use serde_json::Value;

/// Why a line was hidden or restored (94008 `blindType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BlindKind {
    /// `CBOTBLIND`: the clean bot flagged it.
    CleanBot,
    /// `HIDDEN`: every earlier line of a user who was just restricted is hidden.
    Hidden,
    /// `BLIND`: a moderator hid it.
    Blind,
    /// `CANCEL`: a hidden line is shown again (`message` carries the original).
    Cancel,
    /// `RECLAIM`.
    Reclaim,
    /// `FILTERED`.
    Filtered,
    /// Another kind, as sent.
    Other(String),
}

impl BlindKind {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "CBOTBLIND" => Self::CleanBot,
            "HIDDEN" => Self::Hidden,
            "BLIND" => Self::Blind,
            "CANCEL" => Self::Cancel,
            "RECLAIM" => Self::Reclaim,
            "FILTERED" => Self::Filtered,
            other => Self::Other(other.to_owned()),
        }
    }

    /// True when the line becomes visible again.
    pub fn restores(&self) -> bool {
        matches!(self, Self::Cancel)
    }
}

/// A line was hidden or restored (94008). It addresses the line by author and time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Blind {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// The chat channel.
    pub chat_channel_id: ChatChannelId,
    /// Hidden how, or restored.
    pub kind: BlindKind,
    /// The line's author.
    pub user_id: UserIdHash,
    /// The line's send time, Unix milliseconds.
    pub message_time_ms: i64,
    /// Who hid it, when the server says.
    pub blind_user_id: Option<UserIdHash>,
    /// The original line for a restore (`CANCEL`), when sent.
    pub message: Option<Value>,
    #[serde(skip)]
    pub(crate) raw: Value,
}

impl Blind {
    /// The key of the line it addresses: `"{user_id}:{message_time_ms}"`.
    pub fn message_key(&self) -> String {
        format!("{}:{}", self.user_id, self.message_time_ms)
    }

    /// The frame body as received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

/// A user was timed out (93006 `TEMPORARY_RESTRICT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TemporaryRestrict {
    /// The streamer's channel (not on the wire: the client's).
    #[serde(skip)]
    pub channel_id: ChannelId,
    /// Who.
    pub user_id_hash: Option<String>,
    /// Seconds.
    pub duration: Option<u64>,
    /// How many times so far.
    pub times: Option<u64>,
    /// When, as sent.
    pub created_time: Option<String>,
}

/// The chat settings changed (93006 `CHANGE_CHAT_MODE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChatMode {
    /// The streamer's channel (not on the wire: the client's).
    #[serde(skip)]
    pub channel_id: ChannelId,
    /// `ALL`, `FOLLOWER`, ...
    pub chat_available_group: Option<String>,
    /// `NONE`, `REAL_NAME`.
    pub chat_available_condition: Option<String>,
    /// Minutes a follower must have followed to chat.
    pub min_follower_minute: Option<u64>,
    /// Subscribers may chat in follower mode.
    pub allow_subscriber_in_follower_mode: Option<bool>,
    /// Slow mode, seconds between lines.
    pub chat_slow_mode_sec: Option<u64>,
    /// Emoticon-only mode.
    pub chat_emoji_mode: Option<bool>,
    /// Donation ranking shown in chat.
    pub chat_donation_ranking_exposure: Option<bool>,
}

/// A channel event (93006) this version knows by name but does not model field by field:
/// donation settings, party donations, penalties, ... (`kind` is the wire `type`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ChannelEvent {
    /// The wire `type` (`CHANGE_DONATION_ACTIVE`, `PARTY_DONATION_INFO`, ...).
    pub kind: String,
    /// The event body.
    pub body: Value,
}

/// A moderation frame no library documents (94005 kick, 94006 block, 94015 penalty).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Moderation {
    /// The command code.
    pub cmd: i64,
    /// The frame body.
    pub body: Value,
}

/// Read-only or read-write session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Auth {
    /// Anonymous: read only.
    Read,
    /// Logged in: may send.
    Send,
}

/// The client joined a chat channel (10100), at the start and after every reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Connected {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// The chat channel joined.
    pub chat_channel_id: ChatChannelId,
    /// Read or send.
    pub auth: Auth,
    /// 0 on the first join, then the number of rejoins.
    pub rejoin: u32,
}

/// The broadcast changed, as seen by the live-status poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BroadcastChange {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// The chat channel before.
    pub old_chat_channel_id: Option<ChatChannelId>,
    /// The chat channel now.
    pub new_chat_channel_id: Option<ChatChannelId>,
    /// The live title, when known.
    pub live_title: Option<String>,
}

/// The pinned notice was removed (94010 with an empty body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Unpin {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// The chat channel.
    pub chat_channel_id: ChatChannelId,
}

/// The server ended the chat session (90102); the web client does not reconnect after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SessionEnded {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// The chat channel.
    pub chat_channel_id: ChatChannelId,
}

/// The connection was lost; the client waits `delay_ms` and tries again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Reconnecting {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// 1 for the first retry after a loss, then 2, 3, ...
    pub attempt: u32,
    /// The wait before this attempt, in milliseconds.
    pub delay_ms: u64,
    /// What went wrong.
    pub reason: String,
}

/// The client stopped for good: closed by the user, or a fatal error (yielded just before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Disconnected {
    /// The streamer's channel.
    pub channel_id: ChannelId,
    /// Why.
    pub reason: String,
}

pub use chatwire_net::Unknown;
