use std::collections::BTreeMap;

use super::{ChannelId, ChatChannelId, UserIdHash};
use serde::Serialize;
use serde_json::Value;

use super::Profile;

/// The type of a chat line (`msgTypeCode` / `messageTypeCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageType {
    /// 1: ordinary text chat.
    Text,
    /// 2: image (legacy).
    Image,
    /// 3: sticker.
    Sticker,
    /// 4: video.
    Video,
    /// 5: rich content.
    Rich,
    /// 10: a cheese donation.
    Donation,
    /// 11: a (re)subscription announcement.
    Subscription,
    /// 12: a gifted subscription.
    SubscriptionGift,
    /// 13: party (seen in the web client's enum).
    Party,
    /// 15: streamer shop purchase (seen in the web client's enum).
    StreamerShopPurchase,
    /// 30: a system line (chat mode changes, restrictions).
    System,
    /// 121: an "open" line.
    Open,
    /// Any other code, as sent.
    Other(i64),
}

impl MessageType {
    /// Maps a wire code.
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Text,
            2 => Self::Image,
            3 => Self::Sticker,
            4 => Self::Video,
            5 => Self::Rich,
            10 => Self::Donation,
            11 => Self::Subscription,
            12 => Self::SubscriptionGift,
            13 => Self::Party,
            15 => Self::StreamerShopPurchase,
            30 => Self::System,
            121 => Self::Open,
            other => Self::Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> i64 {
        match self {
            Self::Text => 1,
            Self::Image => 2,
            Self::Sticker => 3,
            Self::Video => 4,
            Self::Rich => 5,
            Self::Donation => 10,
            Self::Subscription => 11,
            Self::SubscriptionGift => 12,
            Self::Party => 13,
            Self::StreamerShopPurchase => 15,
            Self::System => 30,
            Self::Open => 121,
            Self::Other(c) => c,
        }
    }
}

/// Whether a line is shown (`msgStatusType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageStatus {
    /// `NORMAL`.
    Normal,
    /// `CBOTBLIND`: flagged by the clean bot; it arrives in this state with its text.
    CleanBotBlind,
    /// `BLIND`: hidden by the streamer or a manager.
    Blind,
    /// Another status, as sent.
    Other(String),
}

impl MessageStatus {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "NORMAL" => Self::Normal,
            "CBOTBLIND" => Self::CleanBotBlind,
            "BLIND" => Self::Blind,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Origin {
    /// Pushed live (93101 / 93102).
    Live,
    /// From a recent-chat answer (15101): history, or lines recovered after a reconnect.
    Recent,
    /// A pinned notice (94010, or the `notice` of a recent-chat answer).
    Notice,
}

/// One chat line in any of the three wire dialects, with its type-specific extras `E`.
///
/// The message key is `(user_id, time_ms)`: Chzzk lines have no id of their own, and blinds
/// address lines that way.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Message<E> {
    /// The streamer's channel this client follows (stable across broadcasts).
    pub channel_id: ChannelId,
    /// The chat channel (`cid` / `channelId`), new for every broadcast.
    pub chat_channel_id: ChatChannelId,
    /// The author's id (`uid` / `userId`); `anonymous` for anonymous donors, `SYSTEM_MESSAGE`
    /// for system lines.
    pub user_id: UserIdHash,
    /// The author's profile (absent for anonymous and system lines).
    pub profile: Option<Profile>,
    /// The text (`msg` / `content`).
    pub content: String,
    /// The line type.
    pub message_type: MessageType,
    /// Shown, hidden by the clean bot, or hidden by a moderator.
    pub status: MessageStatus,
    /// When it was sent, in Unix milliseconds (`msgTime` / `messageTime`).
    pub time_ms: i64,
    /// Created, in Unix milliseconds (`ctime` / `createTime`).
    pub created_ms: Option<i64>,
    /// Updated, in Unix milliseconds (`utime` / `updateTime`).
    pub updated_ms: Option<i64>,
    /// Number of chat connections (`mbrCnt`; not the viewer count).
    pub member_count: Option<u64>,
    /// Live push, recent chat or notice.
    pub origin: Origin,
    /// The type-specific extras.
    pub extras: E,
    /// The nested documents (`profile`, `extras`) that were present but could not be read, in
    /// that order; empty for a well-formed line. The line is still delivered, with `profile`
    /// `None` or default extras in their place, so this is how a logger tells a broken line
    /// from an anonymous one (whose `profile` is `null`, which is not malformed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<MalformedField>,
    #[serde(skip)]
    pub(crate) raw: Value,
}

/// A nested JSON document of a chat line that was present but unreadable: a string that is not
/// JSON (a truncated document, say), or a value of the wrong shape (a number, an array, a string
/// holding one). `null`, an absent key, and an object without the expected keys (`"{}"`) are
/// not malformed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MalformedField {
    /// The field's wire key: `"profile"` or `"extras"`.
    pub field: &'static str,
    /// The value as received: a string's own text unchanged, any other value as JSON text.
    pub raw: String,
}

impl MalformedField {
    pub(crate) fn new(field: &'static str, value: &Value) -> Self {
        Self {
            field,
            raw: match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        }
    }
}

impl<E> Message<E> {
    /// The line exactly as received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The author's display name, when the line carries one.
    pub fn nickname(&self) -> Option<&str> {
        self.profile.as_ref().map(|p| p.nickname.as_str())
    }

    /// The send time.
    pub fn time(&self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.time_ms) * 1_000_000).ok()
    }

    /// The key Chzzk identifies a line by: `"{user_id}:{time_ms}"`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.user_id, self.time_ms)
    }

    pub(crate) fn map_extras<F, T>(self, f: F) -> Message<T>
    where
        F: FnOnce(E) -> T,
    {
        Message {
            channel_id: self.channel_id,
            chat_channel_id: self.chat_channel_id,
            user_id: self.user_id,
            profile: self.profile,
            content: self.content,
            message_type: self.message_type,
            status: self.status,
            time_ms: self.time_ms,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            member_count: self.member_count,
            origin: self.origin,
            extras: f(self.extras),
            malformed: self.malformed,
            raw: self.raw,
        }
    }
}

/// Extras of text lines (and the base of notice extras).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChatExtras {
    /// `STREAMING`.
    pub chat_type: Option<String>,
    /// `PC`, `AOS`, `IOS`, or anything new.
    pub os_type: Option<String>,
    /// The streamer's channel id.
    pub streaming_channel_id: Option<ChannelId>,
    /// Emoticons used in the text as `{:name:}`: name → image URL.
    pub emojis: BTreeMap<String, String>,
}

/// The kind of a donation (`extras.donationType`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DonationKind {
    /// `CHAT`: a text donation.
    Chat,
    /// `VIDEO`: a video donation (the text is the video title).
    Video,
    /// `MISSION`: a viewer proposes a paid mission.
    Mission,
    /// `MISSION_PARTICIPATION`: a viewer adds to a mission.
    MissionParticipation,
    /// `PARTY`: a party donation across channels.
    Party,
    /// A kind this version does not know, as sent (the raw extras are kept).
    Other(String),
}

impl DonationKind {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "CHAT" => Self::Chat,
            "VIDEO" => Self::Video,
            "MISSION" => Self::Mission,
            "MISSION_PARTICIPATION" => Self::MissionParticipation,
            "PARTY" => Self::Party,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A place in the weekly donation ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DonationRank {
    /// The donor's id.
    pub user_id_hash: Option<String>,
    /// The donor's name (`nickName` on the wire).
    pub nickname: Option<String>,
    /// Verified mark.
    pub verified_mark: bool,
    /// Amount this week, in cheese.
    pub donation_amount: Option<u64>,
    /// Place.
    pub ranking: Option<u64>,
}

/// The state of a mission donation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MissionStatus {
    /// Waiting for the streamer.
    Pending,
    /// Accepted; running.
    Approved,
    /// Refused.
    Rejected,
    /// Over (see `success`).
    Completed,
    /// Ran out of time.
    Expired,
    /// Another status, as sent.
    Other(String),
}

impl MissionStatus {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "PENDING" => Self::Pending,
            "APPROVED" => Self::Approved,
            "REJECTED" => Self::Rejected,
            "COMPLETED" => Self::Completed,
            "EXPIRED" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// A mission: in mission donation lines and in mission events (93006).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Mission {
    /// `missionDonationId` (the id to approve or reject).
    pub mission_donation_id: Option<String>,
    /// `ALONE`, `GROUP` or `PARTICIPATION`.
    pub mission_donation_type: Option<String>,
    /// For participations: the mission joined.
    pub related_mission_donation_id: Option<String>,
    /// The mission text.
    pub mission_text: Option<String>,
    /// This payment, in cheese.
    pub pay_amount: Option<u64>,
    /// Everything paid into the mission so far.
    pub total_pay_amount: Option<u64>,
    /// Number of payers.
    pub participation_count: Option<u64>,
    /// Duration in seconds.
    pub duration_time: Option<u64>,
    /// `"YYYY-MM-DD HH:MM:SS"` (KST), as sent.
    pub mission_created_time: Option<String>,
    /// Start, as sent.
    pub mission_start_time: Option<String>,
    /// End, as sent.
    pub mission_end_time: Option<String>,
    /// State.
    pub status: Option<MissionStatus>,
    /// Whether it succeeded (meaningful once completed).
    pub success: Option<bool>,
    /// The donation behind it.
    pub donation_id: Option<String>,
    /// Anonymous donor.
    pub is_anonymous: bool,
    /// The donor, when not anonymous.
    pub user_id_hash: Option<String>,
    /// The donor's name, when not anonymous.
    pub nickname: Option<String>,
}

/// A party donation's party (`partyDonationId`, `partyName`, `partyNo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Party {
    /// `partyDonationId`.
    pub party_donation_id: Option<String>,
    /// `partyName`.
    pub party_name: Option<String>,
    /// `partyNo`.
    pub party_no: Option<i64>,
}

/// Extras of a donation line (type 10).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Donation {
    /// Chat, video, mission, participation, party, or unknown.
    pub kind: DonationKind,
    /// Amount in cheese (1 cheese = 1 KRW); absent when the channel hides amounts.
    pub pay_amount: Option<u64>,
    /// `CURRENCY`.
    pub pay_type: Option<String>,
    /// Anonymous donor.
    pub is_anonymous: bool,
    /// The donor's name (named donations only).
    pub nickname: Option<String>,
    /// `donationId`.
    pub donation_id: Option<String>,
    /// Consecutive days with a donation.
    pub continuous_donation_days: Option<u64>,
    /// The weekly top list.
    pub weekly_rank_list: Vec<DonationRank>,
    /// The donor's own place this week.
    pub user_weekly_rank: Option<DonationRank>,
    /// Mission details for mission donations and participations.
    pub mission: Option<Mission>,
    /// Party details for party donations.
    pub party: Option<Party>,
    /// Emoticons in the text.
    pub emojis: BTreeMap<String, String>,
    /// The extras exactly as decoded (for fields this version does not model).
    #[serde(skip)]
    pub raw: Value,
}

/// Extras of a subscription line (type 11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Subscription {
    /// Months subscribed.
    pub month: Option<u64>,
    /// The channel's name for the tier.
    pub tier_name: Option<String>,
    /// Tier number.
    pub tier_no: Option<u64>,
    /// The subscriber's name.
    pub nickname: Option<String>,
}

/// Extras of a subscription-gift line (type 12), and the gift events (93006).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SubscriptionGift {
    /// `giftId`, shared by the announcement and each receiver.
    pub gift_id: Option<String>,
    /// `SUBSCRIPTION_GIFT` (to the channel) or `SUBSCRIPTION_GIFT_RECEIVER` (one receiver).
    pub gift_type: Option<String>,
    /// `MANUAL` or `RANDOM`.
    pub selection_type: Option<String>,
    /// Gifted tier.
    pub gift_tier_no: Option<u64>,
    /// The channel's name for the tier.
    pub gift_tier_name: Option<String>,
    /// Number of subscriptions in the gift.
    pub quantity: Option<u64>,
    /// Refunded part.
    pub partial_refunded_quantity: Option<u64>,
    /// Delivered so far (events only).
    pub completed_quantity: Option<u64>,
    /// The sender (absent when anonymous).
    pub sender_user_id_hash: Option<String>,
    /// The receiver (receiver lines and events).
    pub receiver_user_id_hash: Option<String>,
    /// The receiver's name.
    pub receiver_nickname: Option<String>,
    /// The receiver's verified mark.
    pub receiver_verified_mark: bool,
}

/// Extras of a system line (type 30). Every field is optional: chat-mode lines lack
/// `visibleRoles`, some lack `description` (chzzkpy drops such lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SystemExtras {
    /// Detail text.
    pub description: Option<String>,
    /// 1 = mode notice, 3 = restriction notice, ...
    pub style_type: Option<i64>,
    /// Present when only these roles see the line (manager-only notices).
    pub visible_roles: Option<Vec<String>>,
    /// Who did it, when the line names them.
    pub register_nickname: Option<String>,
    /// Who it was done to.
    pub target_nickname: Option<String>,
    /// The actor's profile (from `registerChatProfileJson`).
    pub register_profile: Option<Profile>,
    /// The target's profile (from `targetChatProfileJson`).
    pub target_profile: Option<Profile>,
}

/// Extras of a pinned notice: the text extras plus who pinned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NoticeExtras {
    /// The pinned line's extras.
    pub chat: ChatExtras,
    /// Who pinned it.
    pub register_profile: Option<Profile>,
}

/// A text chat line.
pub type ChatMessage = Message<ChatExtras>;
/// A donation line.
pub type DonationMessage = Message<Donation>;
/// A subscription line.
pub type SubscriptionMessage = Message<Subscription>;
/// A subscription-gift line.
pub type SubscriptionGiftMessage = Message<SubscriptionGift>;
/// A system line.
pub type SystemMessage = Message<SystemExtras>;
/// A pinned notice.
pub type NoticeMessage = Message<NoticeExtras>;

/// Any chat line, classified by type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "line", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "lines are moved once, into their event"
)]
pub enum Line {
    /// Text.
    Chat(ChatMessage),
    /// Donation.
    Donation(DonationMessage),
    /// Subscription.
    Subscription(SubscriptionMessage),
    /// Subscription gift.
    SubscriptionGift(SubscriptionGiftMessage),
    /// System line.
    System(SystemMessage),
    /// Any other type; its extras are kept as raw JSON.
    Other(Message<Value>),
}

impl Line {
    /// The author's id.
    pub fn user_id(&self) -> &str {
        match self {
            Self::Chat(m) => &m.user_id,
            Self::Donation(m) => &m.user_id,
            Self::Subscription(m) => &m.user_id,
            Self::SubscriptionGift(m) => &m.user_id,
            Self::System(m) => &m.user_id,
            Self::Other(m) => &m.user_id,
        }
    }

    /// The send time in Unix milliseconds.
    pub fn time_ms(&self) -> i64 {
        match self {
            Self::Chat(m) => m.time_ms,
            Self::Donation(m) => m.time_ms,
            Self::Subscription(m) => m.time_ms,
            Self::SubscriptionGift(m) => m.time_ms,
            Self::System(m) => m.time_ms,
            Self::Other(m) => m.time_ms,
        }
    }

    /// The text.
    pub fn content(&self) -> &str {
        match self {
            Self::Chat(m) => &m.content,
            Self::Donation(m) => &m.content,
            Self::Subscription(m) => &m.content,
            Self::SubscriptionGift(m) => &m.content,
            Self::System(m) => &m.content,
            Self::Other(m) => &m.content,
        }
    }

    /// The line as received.
    pub fn raw(&self) -> &Value {
        match self {
            Self::Chat(m) => &m.raw,
            Self::Donation(m) => &m.raw,
            Self::Subscription(m) => &m.raw,
            Self::SubscriptionGift(m) => &m.raw,
            Self::System(m) => &m.raw,
            Self::Other(m) => &m.raw,
        }
    }
}

/// The answer to a recent-chat request (15101).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RecentChat {
    /// The lines, oldest first, each typed (donations stay donations).
    pub messages: Vec<Line>,
    /// Chat connections at the time.
    pub user_count: Option<u64>,
    /// The pinned notice, if any.
    pub notice: Option<NoticeMessage>,
}

impl DonationMessage {
    /// The mission this donation proposes or joins, if it is a mission donation.
    pub fn mission_id(&self) -> Option<&str> {
        self.extras
            .mission
            .as_ref()
            .and_then(|m| m.mission_donation_id.as_deref())
    }
}
