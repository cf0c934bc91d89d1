//! The id newtypes: a streamer's channel, a chat channel, and a user, which the API all
//! spells as bare strings.

chatwire_net::id! {
    /// A streamer's channel: the 32 hex digits in `chzzk.naver.com/live/<id>` (the official
    /// API's `channelId` is the same id).
    pub struct ChannelId;
}

chatwire_net::id! {
    /// A chat channel (`N1…`): each broadcast gets its own, found from the channel's live
    /// status.
    pub struct ChatChannelId;
}

chatwire_net::id! {
    /// A user, by the hash Chzzk uses everywhere (`userIdHash`, a chat line's `uid`): the same
    /// hash as the user's channel id.
    pub struct UserIdHash;
}
