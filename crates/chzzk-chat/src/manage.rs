//! [`ManageClient`]: the streamer's management API (restrictions, roles, prohibited words,
//! chat rules, missions, subscribers, followers, videos). Every call needs the channel owner's
//! or a manager's login.

use crate::model::ChannelId;
use chatwire_net::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::enc;
use crate::model::PartialUser;
use crate::proto::decode;
use crate::proto::json::Obj;
use crate::{ChatClient, Error};

/// One page of a management listing (`{page, size, totalCount, totalPages, data}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Page {
    /// Page number (0-based).
    pub page: u64,
    /// Page size.
    pub size: u64,
    /// Items in all pages.
    pub total_count: u64,
    /// Number of pages.
    pub total_pages: u64,
    /// The items, as sent.
    pub data: Vec<Value>,
}

impl Page {
    fn decode(v: &Value) -> Self {
        let o = Obj::of(v);
        Self {
            page: o.u64(&["page"]).unwrap_or(0),
            size: o.u64(&["size"]).unwrap_or(0),
            total_count: o.u64(&["totalCount"]).unwrap_or(0),
            total_pages: o.u64(&["totalPages"]).unwrap_or(0),
            data: o.array(&["data"]),
        }
    }
}

/// A streaming role to grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// `STREAMING_CHAT_MANAGER`.
    ChatManager,
    /// `STREAMING_CHANNEL_MANAGER`.
    ChannelManager,
    /// `STREAMING_SETTLEMENT_MANAGER` (chzzkpy misspells it).
    SettlementManager,
}

impl Role {
    fn wire(self) -> &'static str {
        match self {
            Self::ChatManager => "STREAMING_CHAT_MANAGER",
            Self::ChannelManager => "STREAMING_CHANNEL_MANAGER",
            Self::SettlementManager => "STREAMING_SETTLEMENT_MANAGER",
        }
    }
}

/// How long a restriction lasts: the durations Chzzk offers, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestrictDays {
    /// 1 day.
    OneDay,
    /// 3 days.
    ThreeDays,
    /// 7 days.
    SevenDays,
    /// 15 days.
    FifteenDays,
    /// 30 days.
    ThirtyDays,
    /// 90 days.
    NinetyDays,
    /// Until lifted.
    Permanent,
}

impl RestrictDays {
    /// The number of days (`None` for [`Permanent`](Self::Permanent)).
    pub fn days(self) -> Option<u32> {
        Some(match self {
            Self::OneDay => 1,
            Self::ThreeDays => 3,
            Self::SevenDays => 7,
            Self::FifteenDays => 15,
            Self::ThirtyDays => 30,
            Self::NinetyDays => 90,
            Self::Permanent => return None,
        })
    }

    fn wire(self) -> Value {
        self.days().map_or(Value::Null, |d| json!(d))
    }
}

impl TryFrom<u32> for RestrictDays {
    type Error = Error;

    /// The duration of `days` days.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for anything but 1, 3, 7, 15, 30 or 90.
    fn try_from(days: u32) -> Result<Self, Error> {
        Ok(match days {
            1 => Self::OneDay,
            3 => Self::ThreeDays,
            7 => Self::SevenDays,
            15 => Self::FifteenDays,
            30 => Self::ThirtyDays,
            90 => Self::NinetyDays,
            d => {
                return Err(Error::InvalidInput(format!(
                    "a restriction lasts 1, 3, 7, 15, 30 or 90 days, not {d}"
                )));
            }
        })
    }
}

/// The management API of one channel. Get it from [`ChatClient::manage`] or
/// [`ChatClient::manage_self`].
#[derive(Debug, Clone)]
pub struct ManageClient {
    client: ChatClient,
    channel_id: ChannelId,
}

impl ManageClient {
    pub(crate) fn new(client: ChatClient, channel_id: ChannelId) -> Self {
        Self { client, channel_id }
    }

    /// The managed channel.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Error> {
        self.client
            .api()
            .manage(method, &self.channel_id, path, body)
            .await
    }

    /// Restricts a user (after the server validates it, like the web client).
    ///
    /// # Errors
    /// HTTP errors (the validation's message when it refuses). A duration the server does not
    /// offer cannot be written: see [`RestrictDays::try_from`].
    pub async fn add_restrict(
        &self,
        user_id_hash: &str,
        days: RestrictDays,
        memo: &str,
    ) -> Result<Value, Error> {
        let days = days.wire();
        self.call(
            Method::Get,
            &format!("/restrict-users/{}/validate", enc(user_id_hash)),
            None,
        )
        .await?;
        self.call(
            Method::Post,
            "/restrict-users",
            Some(json!({"targetId": user_id_hash, "memo": memo, "restrictDays": days})),
        )
        .await
    }

    /// Changes a restriction.
    ///
    /// # Errors
    /// As [`add_restrict`](Self::add_restrict).
    pub async fn edit_restrict(
        &self,
        user_id_hash: &str,
        days: RestrictDays,
        memo: &str,
    ) -> Result<Value, Error> {
        let days = days.wire();
        self.call(
            Method::Patch,
            &format!("/restrict-users/{}", enc(user_id_hash)),
            Some(json!({"memo": memo, "restrictDays": days})),
        )
        .await
    }

    /// Lifts a restriction.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn remove_restrict(&self, user_id_hash: &str) -> Result<(), Error> {
        self.call(
            Method::Delete,
            &format!("/restrict-users/{}", enc(user_id_hash)),
            None,
        )
        .await
        .map(drop)
    }

    /// Lists restricted users.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn restricted_users(
        &self,
        page: u32,
        size: u32,
        nickname: Option<&str>,
    ) -> Result<Page, Error> {
        let mut path = format!("/restrict-users?page={page}&size={size}");
        if let Some(n) = nickname {
            path.push_str("&userNickname=");
            path.push_str(&enc(n));
        }
        Ok(Page::decode(&self.call(Method::Get, &path, None).await?))
    }

    /// Lists requests to lift a restriction.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn unrestrict_requests(&self, page: u32, size: u32) -> Result<Page, Error> {
        Ok(Page::decode(
            &self
                .call(
                    Method::Get,
                    &format!("/restrict-release-requests?page={page}&size={size}"),
                    None,
                )
                .await?,
        ))
    }

    /// Rejects a request to lift a restriction (approve it with
    /// [`remove_restrict`](Self::remove_restrict)).
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn reject_unrestrict_request(
        &self,
        request_no: i64,
        judgment: &str,
    ) -> Result<Value, Error> {
        self.call(
            Method::Put,
            &format!("/restrict-release-requests/{request_no}/reject"),
            Some(json!({"judgment": judgment})),
        )
        .await
    }

    /// Grants a role.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn add_role(
        &self,
        user_id_hash: &str,
        role: Role,
    ) -> Result<Option<PartialUser>, Error> {
        let v = self
            .call(
                Method::Post,
                "/streaming-roles",
                Some(json!({"targetId": user_id_hash, "userRoleType": role.wire()})),
            )
            .await?;
        Ok(decode::partial_user(&v))
    }

    /// Removes a user's role.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn remove_role(&self, user_id_hash: &str) -> Result<(), Error> {
        self.call(
            Method::Delete,
            &format!("/streaming-roles/{}", enc(user_id_hash)),
            None,
        )
        .await
        .map(drop)
    }

    /// The prohibited words (`prohibitWordList`, or `prohibitWords` as older answers name it).
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn prohibit_words(&self) -> Result<Vec<Value>, Error> {
        let v = self
            .call(Method::Get, "/chats/prohibit-words", None)
            .await?;
        Ok(Obj::of(&v).array(&["prohibitWordList", "prohibitWords"]))
    }

    /// Adds a prohibited word.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty word; HTTP and network errors.
    pub async fn add_prohibit_word(&self, word: &str) -> Result<(), Error> {
        if word.trim().is_empty() {
            return Err(Error::InvalidInput(
                "a prohibited word cannot be empty".into(),
            ));
        }
        self.call(
            Method::Post,
            "/chats/prohibit-words",
            Some(json!({"prohibitWord": word})),
        )
        .await
        .map(drop)
    }

    /// Changes a prohibited word.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn edit_prohibit_word(&self, word_no: i64, word: &str) -> Result<(), Error> {
        self.call(
            Method::Put,
            &format!("/chats/prohibit-words/{word_no}"),
            Some(json!({"prohibitWord": word})),
        )
        .await
        .map(drop)
    }

    /// Removes one prohibited word.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn remove_prohibit_word(&self, word_no: i64) -> Result<(), Error> {
        self.call(
            Method::Delete,
            &format!("/chats/prohibit-words/{word_no}"),
            None,
        )
        .await
        .map(drop)
    }

    /// Removes every prohibited word.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn remove_all_prohibit_words(&self) -> Result<(), Error> {
        self.call(Method::Delete, "/chats/prohibit-words", None)
            .await
            .map(drop)
    }

    /// The chat rules.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn chat_rule(&self) -> Result<Option<String>, Error> {
        Ok(Obj::of(&self.call(Method::Get, "/chat-rules", None).await?).str(&["rule"]))
    }

    /// Sets the chat rules.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn set_chat_rule(&self, rule: &str) -> Result<(), Error> {
        self.call(Method::Put, "/chat-rules", Some(json!({"rule": rule})))
            .await
            .map(drop)
    }

    /// A user's chat activity (messages, restrictions, timeouts).
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn chat_activity_count(&self, user_id_hash: &str) -> Result<Value, Error> {
        self.call(
            Method::Get,
            &format!("/users/{}/chat-activity-count", enc(user_id_hash)),
            None,
        )
        .await
    }

    /// Subscribers, newest first.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn subscribers(&self, page: u32, size: u32) -> Result<Page, Error> {
        Ok(Page::decode(
            &self
                .call(
                    Method::Get,
                    &format!("/subscribers?page={page}&size={size}&sortType=RECENT"),
                    None,
                )
                .await?,
        ))
    }

    /// Followers, newest first.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn followers(&self, page: u32, size: u32) -> Result<Page, Error> {
        Ok(Page::decode(
            &self
                .call(
                    Method::Get,
                    &format!("/followers?page={page}&size={size}&sortType=RECENT"),
                    None,
                )
                .await?,
        ))
    }

    /// The stream key and ingest URL (`{streamKey, streamSeq, streamUrl}`). Treat the answer
    /// as a secret.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn stream(&self) -> Result<Value, Error> {
        self.call(Method::Get, "/streams", None).await
    }

    /// Uploaded videos (`replay = false`) or past broadcasts (`replay = true`).
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn videos(&self, replay: bool, page: u32, size: u32) -> Result<Page, Error> {
        let kind = if replay { "REPLAY" } else { "UPLOAD" };
        Ok(Page::decode(
            &self
                .call(
                    Method::Get,
                    &format!("/videos?videoType={kind}&page={page}&size={size}"),
                    None,
                )
                .await?,
        ))
    }

    /// Approves a pending mission donation.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn approve_mission(&self, mission_donation_id: &str) -> Result<Value, Error> {
        self.call(
            Method::Put,
            "/donations/mission/approve",
            Some(json!({"missionDonationId": mission_donation_id})),
        )
        .await
    }

    /// Rejects a pending mission donation.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn reject_mission(&self, mission_donation_id: &str) -> Result<Value, Error> {
        self.call(
            Method::Put,
            "/donations/mission/reject",
            Some(json!({"missionDonationId": mission_donation_id})),
        )
        .await
    }
}
