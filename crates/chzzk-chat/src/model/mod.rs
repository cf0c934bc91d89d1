//! The typed data Chzzk sends: chat lines, profiles, channel events, live information.

mod channel;
mod ids;
mod live;
mod message;
mod profile;

pub use channel::{
    Auth, Blind, BlindKind, BroadcastChange, ChannelEvent, ChatMode, Connected, Disconnected,
    Moderation, Reconnecting, SessionEnded, TemporaryRestrict, Unknown, Unpin,
};
pub use ids::{ChannelId, ChatChannelId, UserIdHash};
pub use live::{
    AccessToken, LiveChannel, LiveDetail, LivePollingStatus, LiveState, LiveStatus, ProfileCard,
    TemporaryRestriction, User,
};
pub use message::{
    ChatExtras, ChatMessage, Donation, DonationKind, DonationMessage, DonationRank, Line,
    MalformedField, Message, MessageStatus, MessageType, Mission, MissionStatus, NoticeExtras,
    NoticeMessage, Origin, Party, RecentChat, Subscription, SubscriptionGift,
    SubscriptionGiftMessage, SubscriptionMessage, SystemExtras, SystemMessage,
};
pub use profile::{
    ActivityBadge, Badge, PartialUser, Profile, StreamingProperty, SubscriptionInfo, Title,
    UserRole, ViewerBadge,
};
