//! Wire JSON → typed model. Tolerant: every field may be missing, numbers may be strings,
//! nested documents may be strings, objects, `"{}"`, null or garbage.

use std::collections::BTreeMap;

use serde_json::Value;

use super::json::{Obj, nested};
use crate::model::{
    AccessToken, ActivityBadge, Badge, Blind, BlindKind, ChatExtras, ChatMode, Donation,
    DonationKind, DonationRank, Line, LiveChannel, LiveDetail, LivePollingStatus, LiveState,
    LiveStatus, MalformedField, Message, MessageStatus, MessageType, Mission, MissionStatus,
    NoticeExtras, NoticeMessage, Origin, PartialUser, Party, Profile, ProfileCard, RecentChat,
    StreamingProperty, Subscription, SubscriptionGift, SubscriptionInfo, SystemExtras,
    TemporaryRestrict, TemporaryRestriction, Title, User, UserRole, ViewerBadge,
};

/// A profile from a `profile` value (JSON string, object, `"{}"`, null or garbage).
pub(crate) fn profile(v: &Value) -> Option<Profile> {
    let v = nested(v)?;
    let o = Obj::of(&v);
    let user_id_hash = o.str(&["userIdHash"])?;
    let sp = o.obj_ref(&["streamingProperty"]);
    let sp = sp.as_deref().map_or(Obj::of(&Value::Null), Obj::of);
    let subscription = sp.obj(&["subscription"]).map(|s| {
        let s = Obj::of(&s);
        SubscriptionInfo {
            accumulative_month: s.u64(&["accumulativeMonth"]),
            tier: s.u64(&["tier"]),
            tier_name: s.str(&["tierName"]),
            badge_image_url: s
                .obj(&["badge"])
                .and_then(|b| Obj::of(&b).str(&["imageUrl"])),
        }
    });
    let donation_ranking_badge = sp
        .obj(&["realTimeDonationRanking"])
        .and_then(|r| Obj::of(&r).obj(&["badge"]))
        .map(|b| {
            let b = Obj::of(&b);
            Badge {
                title: b.str(&["title"]),
                image_url: b.str(&["imageUrl"]),
            }
        });
    let following_date = sp
        .obj(&["following"])
        .and_then(|f| Obj::of(&f).str(&["followDate"]));
    let nickname_color = sp
        .obj_ref(&["nicknameColor"])
        .and_then(|c| Obj::of(&c).str(&["colorCode"]));
    let activity_badges = o
        .array_ref(&["activityBadges"])
        .iter()
        .map(|b| {
            let b = Obj::of(b);
            ActivityBadge {
                badge_no: b.i64(&["badgeNo"]),
                badge_id: b.str(&["badgeId"]),
                name: b.str(&["name", "title"]),
                image_url: b.str(&["imageUrl"]),
                description: b.str(&["description"]),
                activated: b.bool(&["activated"]).unwrap_or(false),
            }
        })
        .collect();
    let viewer_badges = o.get(&["viewerBadges"]).map(|_| {
        o.array_ref(&["viewerBadges"])
            .iter()
            .map(|vb| {
                let outer = Obj::of(vb);
                let inner = outer.obj_ref(&["badge"]);
                let b = inner.as_deref().map_or(Obj::of(&Value::Null), Obj::of);
                ViewerBadge {
                    kind: outer.str(&["type"]),
                    badge_id: b.str(&["badgeId"]),
                    scope: b.str(&["scope"]),
                    image_url: b.str(&["imageUrl"]),
                }
            })
            .collect()
    });
    Some(Profile {
        user_id_hash: user_id_hash.into(),
        nickname: o.str(&["nickname", "nickName"]).unwrap_or_default(),
        profile_image_url: o.str(&["profileImageUrl"]).filter(|s| !s.is_empty()),
        user_role: o.map_str(&["userRoleCode"], UserRole::parse),
        badge: o.obj(&["badge"]).map(|b| Badge {
            title: None,
            image_url: Obj::of(&b).str(&["imageUrl"]),
        }),
        title: o.obj(&["title"]).and_then(|t| {
            let t = Obj::of(&t);
            Some(Title {
                name: t.str(&["name"])?,
                color: t.str(&["color"]),
            })
        }),
        verified_mark: o.bool(&["verifiedMark"]).unwrap_or(false),
        activity_badges,
        viewer_badges,
        streaming_property: StreamingProperty {
            subscription,
            donation_ranking_badge,
            following_date,
            nickname_color,
        },
    })
}

fn emojis(extras: Obj<'_>) -> BTreeMap<String, String> {
    match extras.obj_ref(&["emojis"]).as_deref() {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn chat_extras(e: Obj<'_>) -> ChatExtras {
    ChatExtras {
        chat_type: e.str(&["chatType"]),
        os_type: e.str(&["osType"]),
        streaming_channel_id: e.str(&["streamingChannelId"]).map(Into::into),
        emojis: emojis(e),
    }
}

fn rank(v: &Value) -> DonationRank {
    let r = Obj::of(v);
    DonationRank {
        user_id_hash: r.str(&["userIdHash"]),
        nickname: r.str(&["nickname", "nickName"]),
        verified_mark: r.bool(&["verifiedMark"]).unwrap_or(false),
        donation_amount: r.u64(&["donationAmount"]),
        ranking: r.u64(&["ranking"]),
    }
}

/// A mission from a mission event body or from donation extras.
pub(crate) fn mission(v: &Value) -> Mission {
    let m = Obj::of(v);
    Mission {
        mission_donation_id: m.str(&["missionDonationId"]),
        mission_donation_type: m.str(&["missionDonationType"]),
        related_mission_donation_id: m.str(&["relatedMissionDonationId"]),
        mission_text: m.str(&["missionText"]),
        pay_amount: m.u64(&["payAmount"]),
        total_pay_amount: m.u64(&["totalPayAmount"]),
        participation_count: m.u64(&["participationCount"]),
        duration_time: m.u64(&["durationTime"]),
        mission_created_time: m.str(&["missionCreatedTime"]),
        mission_start_time: m.str(&["missionStartTime"]),
        mission_end_time: m.str(&["missionEndTime"]),
        status: m.str(&["status"]).map(|s| MissionStatus::parse(&s)),
        success: m.bool(&["success"]),
        donation_id: m.str(&["donationId"]),
        is_anonymous: m.bool(&["isAnonymous"]).unwrap_or(false),
        user_id_hash: m.str(&["userIdHash"]),
        nickname: m.str(&["nickname", "nickName"]),
    }
}

/// Donation fields; the extras become the donation's raw JSON without a copy.
fn donation(extras: Value) -> Donation {
    let e = Obj::of(&extras);
    let kind = DonationKind::parse(&e.str(&["donationType"]).unwrap_or_default());
    let mission = matches!(
        kind,
        DonationKind::Mission | DonationKind::MissionParticipation
    )
    .then(|| mission(&extras))
    .or_else(|| e.get(&["missionDonationId"]).map(|_| mission(&extras)));
    let party = e
        .get(&["partyDonationId", "partyName", "partyNo"])
        .map(|_| Party {
            party_donation_id: e.str(&["partyDonationId"]),
            party_name: e.str(&["partyName"]),
            party_no: e.i64(&["partyNo"]),
        });
    Donation {
        kind,
        pay_amount: e.u64(&["payAmount"]),
        pay_type: e.str(&["payType"]),
        is_anonymous: e.bool(&["isAnonymous"]).unwrap_or(false),
        nickname: e.str(&["nickname"]),
        donation_id: e.str(&["donationId"]),
        continuous_donation_days: e.u64(&["continuousDonationDays"]),
        weekly_rank_list: e.array_ref(&["weeklyRankList"]).iter().map(rank).collect(),
        user_weekly_rank: e.obj_ref(&["donationUserWeeklyRank"]).map(|r| rank(&r)),
        mission,
        party,
        emojis: emojis(e),
        raw: extras,
    }
}

/// Gift fields, from type-12 extras or a gift event body.
pub(crate) fn gift(v: &Value) -> SubscriptionGift {
    let g = Obj::of(v);
    SubscriptionGift {
        gift_id: g.str(&["giftId"]),
        gift_type: g.str(&["giftType"]),
        selection_type: g.str(&["selectionType"]),
        gift_tier_no: g.u64(&["giftTierNo"]),
        gift_tier_name: g.str(&["giftTierName"]),
        quantity: g.u64(&["quantity"]),
        partial_refunded_quantity: g.u64(&["partialRefundedQuantity"]),
        completed_quantity: g.u64(&["completedQuantity"]),
        sender_user_id_hash: g.str(&["userIdHash"]),
        receiver_user_id_hash: g.str(&["receiverUserIdHash"]),
        receiver_nickname: g.str(&["receiverNickname"]),
        receiver_verified_mark: g.bool(&["receiverVerifiedMark"]).unwrap_or(false),
    }
}

fn system_extras(extras: &Value) -> SystemExtras {
    let e = Obj::of(extras);
    let params = e.obj(&["params"]).unwrap_or(Value::Null);
    let p = Obj::of(&params);
    SystemExtras {
        description: e.str(&["description"]),
        style_type: e.i64(&["styleType"]),
        visible_roles: e.get(&["visibleRoles"]).map(|_| {
            e.array(&["visibleRoles"])
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        }),
        register_nickname: p.str(&["registerNickname"]),
        target_nickname: p.str(&["targetNickname"]),
        register_profile: p
            .get(&["registerChatProfileJson", "registerChatProfile"])
            .and_then(profile),
        target_profile: p
            .get(&["targetChatProfileJson", "targetChatProfile"])
            .and_then(profile),
    }
}

/// Whether a nested document's value is readable: an object, or a string holding an object or
/// `null`. (`null` itself never reaches here: [`Obj::get`] skips it.)
fn is_document(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::String(s) => matches!(
            serde_json::from_str::<Value>(s),
            Ok(Value::Object(_) | Value::Null)
        ),
        _ => false,
    }
}

/// A line in any dialect. Fails only when the line is not an object.
pub(crate) fn line(channel_id: &str, v: &Value, origin: Origin) -> Result<Line, String> {
    line_owned(channel_id, v.clone(), origin).map_err(|(_, why)| why)
}

/// [`line`] taking the line, which becomes the message's raw JSON without a copy; a line that
/// is not an object comes back with the reason.
pub(crate) fn line_owned(
    channel_id: &str,
    v: Value,
    origin: Origin,
) -> Result<Line, (Value, String)> {
    if !v.is_object() {
        return Err((v, "a chat line must be an object".into()));
    }
    let o = Obj::of(&v);
    let raw_profile = o.get(&["profile"]);
    let author = raw_profile.and_then(profile);
    let raw_extras = o.get(&["extras"]);
    let extras = raw_extras.and_then(nested).filter(Value::is_object);
    // The cold path only: a value is re-examined when it gave nothing.
    let mut malformed = Vec::new();
    if let Some(p) = raw_profile.filter(|p| author.is_none() && !is_document(p)) {
        malformed.push(MalformedField::new("profile", p));
    }
    if let Some(e) = raw_extras.filter(|e| extras.is_none() && !is_document(e)) {
        malformed.push(MalformedField::new("extras", e));
    }
    let extras = extras.unwrap_or_else(|| Value::Object(serde_json::Map::default()));
    let message_type =
        MessageType::from_code(o.i64(&["msgTypeCode", "messageTypeCode"]).unwrap_or(1));
    macro_rules! msg {
        ($extras:expr) => {
            Message {
                channel_id: channel_id.into(),
                chat_channel_id: o
                    .str(&["cid", "channelId", "chatChannelId"])
                    .unwrap_or_default()
                    .into(),
                user_id: o
                    .str(&["uid", "userId", "userIdHash"])
                    .unwrap_or_default()
                    .into(),
                profile: author,
                content: o.str(&["msg", "content"]).unwrap_or_default(),
                message_type,
                status: o
                    .map_str(
                        &["msgStatusType", "messageStatusType"],
                        MessageStatus::parse,
                    )
                    .unwrap_or(MessageStatus::Normal),
                time_ms: o.i64(&["msgTime", "messageTime"]).unwrap_or(0),
                created_ms: o.i64(&["ctime", "createTime"]),
                updated_ms: o.i64(&["utime", "updateTime"]),
                member_count: o.u64(&["mbrCnt", "memberCount"]),
                origin,
                extras: $extras,
                malformed,
                raw: v,
            }
        };
    }
    Ok(match message_type {
        MessageType::Text => Line::Chat(msg!(chat_extras(Obj::of(&extras)))),
        MessageType::Donation => Line::Donation(msg!(donation(extras))),
        MessageType::Subscription => {
            let e = Obj::of(&extras);
            Line::Subscription(msg!(Subscription {
                month: e.u64(&["month"]),
                tier_name: e.str(&["tierName"]),
                tier_no: e.u64(&["tierNo"]),
                nickname: e.str(&["nickname"]),
            }))
        }
        MessageType::SubscriptionGift => Line::SubscriptionGift(msg!(gift(&extras))),
        MessageType::System => Line::System(msg!(system_extras(&extras))),
        _ => Line::Other(msg!(extras.clone())),
    })
}

/// A pinned notice (94010 body or the `notice` of a recent-chat answer); `None` means "no pin":
/// an empty body, or a `messageTime` of 0 or less.
pub(crate) fn notice(channel_id: &str, v: &Value) -> Option<NoticeMessage> {
    let o = Obj::of(v);
    if o.0.is_empty() || o.i64(&["messageTime", "msgTime"]).is_none_or(|t| t <= 0) {
        return None;
    }
    let Ok(line) = line(channel_id, v, crate::model::Origin::Notice) else {
        return None;
    };
    let extras = o
        .nested(&["extras"])
        .filter(Value::is_object)
        .unwrap_or(Value::Null);
    let e = Obj::of(&extras);
    let notice_extras = NoticeExtras {
        chat: chat_extras(e),
        register_profile: e.get(&["registerProfile"]).and_then(profile),
    };
    let m = match line {
        Line::Chat(m) => m.map_extras(|_| ()),
        Line::Donation(m) => m.map_extras(|_| ()),
        Line::Subscription(m) => m.map_extras(|_| ()),
        Line::SubscriptionGift(m) => m.map_extras(|_| ()),
        Line::System(m) => m.map_extras(|_| ()),
        Line::Other(m) => m.map_extras(|_| ()),
    };
    Some(m.map_extras(|()| notice_extras))
}

/// A recent-chat answer body; lines that are not objects are returned as errors beside it.
pub(crate) fn recent_chat(channel_id: &str, bdy: &Value) -> (RecentChat, Vec<(Value, String)>) {
    let o = Obj::of(bdy);
    let mut messages = Vec::new();
    let mut bad = Vec::new();
    for v in o.array(&["messageList"]) {
        match line(channel_id, &v, Origin::Recent) {
            Ok(l) => messages.push(l),
            Err(e) => bad.push((v, e)),
        }
    }
    let notice = o.get(&["notice"]).and_then(|n| notice(channel_id, n));
    (
        RecentChat {
            messages,
            user_count: o.u64(&["userCount"]),
            notice,
        },
        bad,
    )
}

/// A blind (94008) body.
pub(crate) fn blind(channel_id: &str, chat_channel_id: &str, bdy: &Value) -> Blind {
    let o = Obj::of(bdy);
    Blind {
        channel_id: channel_id.into(),
        chat_channel_id: o
            .str(&["channelId", "cid"])
            .unwrap_or_else(|| chat_channel_id.to_owned())
            .into(),
        kind: BlindKind::parse(&o.str(&["blindType"]).unwrap_or_default()),
        user_id: o.str(&["userId", "uid"]).unwrap_or_default().into(),
        message_time_ms: o.i64(&["messageTime", "msgTime"]).unwrap_or(0),
        blind_user_id: o.str(&["blindUserId"]).map(Into::into),
        message: o.get(&["message"]).cloned(),
        raw: bdy.clone(),
    }
}

/// A `TEMPORARY_RESTRICT` event body.
pub(crate) fn temporary_restrict(channel_id: &str, bdy: &Value) -> TemporaryRestrict {
    let o = Obj::of(bdy);
    TemporaryRestrict {
        channel_id: channel_id.into(),
        user_id_hash: o.str(&["userIdHash"]),
        duration: o.u64(&["duration"]),
        times: o.u64(&["times"]),
        created_time: o.str(&["createdTime"]),
    }
}

/// A `CHANGE_CHAT_MODE` event body.
pub(crate) fn chat_mode(channel_id: &str, bdy: &Value) -> ChatMode {
    let o = Obj::of(bdy);
    ChatMode {
        channel_id: channel_id.into(),
        chat_available_group: o.str(&["chatAvailableGroup"]),
        chat_available_condition: o.str(&["chatAvailableCondition"]),
        min_follower_minute: o.u64(&["minFollowerMinute"]),
        allow_subscriber_in_follower_mode: o.bool(&["allowSubscriberInFollowerMode"]),
        chat_slow_mode_sec: o.u64(&["chatSlowModeSec"]),
        chat_emoji_mode: o.bool(&["chatEmojiMode"]),
        chat_donation_ranking_exposure: o.bool(&["chatDonationRankingExposure"]),
    }
}

/// A live-status `content`.
pub(crate) fn live_status(content: &Value) -> LiveStatus {
    let o = Obj::of(content);
    LiveStatus {
        live_title: o.str(&["liveTitle"]),
        status: LiveState::parse(&o.str(&["status"]).unwrap_or_default()),
        concurrent_user_count: o.u64(&["concurrentUserCount"]),
        accumulate_count: o.u64(&["accumulateCount"]),
        paid_promotion: o.bool(&["paidPromotion"]),
        adult: o.bool(&["adult"]).unwrap_or(false),
        chat_channel_id: o
            .str(&["chatChannelId"])
            .filter(|s| !s.is_empty())
            .map(Into::into),
        category_type: o.str(&["categoryType"]),
        live_category: o.str(&["liveCategory"]),
        live_category_value: o.str(&["liveCategoryValue"]),
        live_polling_status: o
            .obj(&["livePollingStatusJson", "livePollingStatus"])
            .map(|p| {
                let p = Obj::of(&p);
                LivePollingStatus {
                    status: p.str(&["status"]),
                    is_publishing: p.bool(&["isPublishing"]),
                    playable_status: p.str(&["playableStatus"]),
                    traffic_throttling: p.i64(&["trafficThrottling"]),
                    call_period_millisecond: p.u64(&["callPeriodMilliSecond"]),
                }
            }),
        user_adult_status: o.str(&["userAdultStatus"]),
        chat_active: o.bool(&["chatActive"]),
        chat_available_group: o.str(&["chatAvailableGroup"]),
        chat_available_condition: o.str(&["chatAvailableCondition"]),
        min_follower_minute: o.u64(&["minFollowerMinute"]),
        chat_slow_mode_sec: o.u64(&["chatSlowModeSec"]),
        open_date: o.str(&["openDate"]),
        close_date: o.str(&["closeDate"]),
        raw: content.clone(),
    }
}

/// A live-detail `content`.
pub(crate) fn live_detail(content: &Value) -> LiveDetail {
    let o = Obj::of(content);
    LiveDetail {
        live_id: o.i64(&["liveId"]),
        status: live_status(content),
        live_image_url: o.str(&["liveImageUrl"]),
        default_thumbnail_image_url: o.str(&["defaultThumbnailImageUrl"]),
        tags: o
            .array(&["tags"])
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        channel: o.obj(&["channel"]).map(|c| {
            let c = Obj::of(&c);
            LiveChannel {
                channel_id: c.str(&["channelId"]).map(Into::into),
                channel_name: c.str(&["channelName"]),
                channel_image_url: c.str(&["channelImageUrl"]),
                verified_mark: c.bool(&["verifiedMark"]).unwrap_or(false),
            }
        }),
        live_playback: o.nested(&["livePlaybackJson", "livePlayback"]),
    }
}

/// An access-token `content`; `None` without `accessToken`.
pub(crate) fn access_token(content: &Value) -> Option<AccessToken> {
    let o = Obj::of(content);
    Some(AccessToken {
        token: o.str(&["accessToken"])?,
        extra_token: o.str(&["extraToken"]),
        real_name_auth: o.bool(&["realNameAuth"]),
        temporary_restrict: o.obj(&["temporaryRestrict"]).map(|t| {
            let t = Obj::of(&t);
            TemporaryRestriction {
                temporary_restrict: t.bool(&["temporaryRestrict"]).unwrap_or(false),
                times: t.u64(&["times"]),
                duration: t.u64(&["duration"]),
                created_time: t.i64(&["createdTime"]),
            }
        }),
    })
}

/// A getUserStatus `content`.
pub(crate) fn user(content: &Value) -> User {
    let o = Obj::of(content);
    User {
        user_id_hash: o.str(&["userIdHash"]),
        nickname: o.str(&["nickname"]),
        profile_image_url: o.str(&["profileImageUrl"]),
        verified_mark: o.bool(&["verifiedMark"]).unwrap_or(false),
        logged_in: o.bool(&["loggedIn"]).unwrap_or(false),
        penalties: o.array(&["penalties"]),
    }
}

/// A profile-card `content`.
pub(crate) fn profile_card(content: &Value) -> Option<ProfileCard> {
    Some(ProfileCard {
        profile: profile(content)?,
        raw: content.clone(),
    })
}

/// A user reference (moderation answers).
pub(crate) fn partial_user(content: &Value) -> Option<PartialUser> {
    let o = Obj::of(content);
    Some(PartialUser {
        user_id_hash: o.str(&["userIdHash"])?.into(),
        nickname: o.str(&["nickname", "userNickname"]),
        profile_image_url: o.str(&["profileImageUrl"]),
        verified_mark: o.bool(&["verifiedMark"]).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_line_type_for_every_dialect() {
        let live = json!({"cid":"N1","uid":"u1","msg":"hi","msgTypeCode":1,"msgTime":5,"mbrCnt":3,"profile":"{\"userIdHash\":\"u1\",\"nickname\":\"A\"}"});
        let recent = json!({"channelId":"N1","userId":"u1","content":"hi","messageTypeCode":"1","messageTime":"5","memberCount":3,"profile":{"userIdHash":"u1","nickname":"A"}});
        let (Line::Chat(a), Line::Chat(b)) = (
            line("ch", &live, Origin::Live).unwrap(),
            line("ch", &recent, Origin::Live).unwrap(),
        ) else {
            panic!("both are chat lines")
        };
        assert_eq!(
            (a.content.as_str(), a.time_ms, a.member_count),
            ("hi", 5, Some(3))
        );
        assert_eq!(a.key(), b.key());
        assert_eq!(a.profile, b.profile);
        assert_eq!(a.nickname(), Some("A"));
    }

    #[test]
    fn garbage_nested_documents_become_none() {
        let v = json!({"uid":"u","msg":"x","msgTypeCode":1,"profile":"{not json","extras":42});
        let Line::Chat(m) = line("ch", &v, Origin::Live).unwrap() else {
            panic!()
        };
        assert!(m.profile.is_none());
        assert!(m.extras.emojis.is_empty());
        assert!(line("ch", &json!("a string"), Origin::Live).is_err());
    }

    #[test]
    fn unreadable_nested_documents_are_flagged_with_their_text() {
        let v = json!({"uid":"u","msg":"x","msgTypeCode":1,"profile":"{\"userIdHash\":\"u\",\"nick","extras":42});
        let Line::Chat(m) = line("ch", &v, Origin::Live).unwrap() else {
            panic!()
        };
        let got: Vec<_> = m
            .malformed
            .iter()
            .map(|f| (f.field, f.raw.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("profile", "{\"userIdHash\":\"u\",\"nick"),
                ("extras", "42")
            ]
        );
        // Anonymous (null), system ("{}"), absent and readable documents are not malformed.
        for (profile, extras) in [
            (json!(null), json!("{\"isAnonymous\":true}")),
            (json!("{}"), json!("{}")),
            (json!("null"), json!(null)),
            (json!({"userIdHash":"u","nickname":"n"}), json!({})),
        ] {
            let ok = json!({"uid":"u","msgTypeCode":1,"profile":profile,"extras":extras});
            let Line::Chat(m) = line("ch", &ok, Origin::Live).unwrap() else {
                panic!()
            };
            assert!(m.malformed.is_empty(), "{ok}: {:?}", m.malformed);
        }
        // The flag survives into a pinned notice.
        let n = notice("ch", &json!({"messageTime":7,"content":"pinned","userId":"u","profile":"{\"userIdHash\"","extras":"{}"})).unwrap();
        assert_eq!(n.malformed[0].field, "profile");
    }

    #[test]
    fn system_line_without_visible_roles_or_description() {
        let v = json!({"uid":"SYSTEM_MESSAGE","profile":"{}","msg":"이모티콘 모드 ON","msgTypeCode":30,"extras":"{\"styleType\":1,\"params\":{}}"});
        let Line::System(m) = line("ch", &v, Origin::Live).unwrap() else {
            panic!()
        };
        assert_eq!(m.extras.visible_roles, None);
        assert_eq!(m.extras.description, None);
        assert_eq!(m.extras.style_type, Some(1));
        assert!(m.profile.is_none(), "\"{{}}\" has no userIdHash");
    }

    #[test]
    fn viewer_badge_ids_and_ranking_badges_are_read() {
        let p = profile(&json!({"userIdHash":"u","nickname":"n","viewerBadges":[{"type":"STANDARD","badge":{"badgeId":"b1","imageUrl":"v.png"}}],"streamingProperty":{"realTimeDonationRanking":{"badge":{"title":"gold","imageUrl":"g.png"}}},"badge":{"imageUrl":"r.png"}})).unwrap();
        assert_eq!(
            p.viewer_badges.as_ref().unwrap()[0].badge_id.as_deref(),
            Some("b1")
        );
        assert_eq!(p.badge_images(), vec!["r.png", "g.png", "v.png"]);
    }

    #[test]
    fn notice_with_zero_time_is_no_pin() {
        assert!(notice("ch", &json!({})).is_none());
        assert!(notice("ch", &json!({"messageTime":0,"content":"x"})).is_none());
        let n = notice("ch", &json!({"messageTime":7,"content":"pinned","userId":"u","extras":"{\"registerProfile\":{\"userIdHash\":\"m\",\"nickname\":\"mod\"}}"})).unwrap();
        assert_eq!(n.extras.register_profile.unwrap().nickname, "mod");
    }
}
