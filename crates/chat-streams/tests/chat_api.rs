//! MaiBot's eight `chat_api` functions, the fixes, and feeding from normalised events.

use std::sync::Arc;

use chat_streams::{
    ChatStream, Error, GroupInfo, ListQuery, PlatformFilter, Registry, RegistryOptions, StreamKey,
    StreamKind, StreamType, UserInfo,
};
use chatwire_core::{Author, ChannelRef, ChatEvent, ChatMessage, OffsetDateTime, Platform};

#[allow(clippy::unnecessary_wraps, reason = "the shape get_or_create takes")]
fn user(platform: &str, id: &str, nick: &str) -> Option<UserInfo> {
    Some(UserInfo::new(platform, id, Some(nick.into())))
}

#[allow(clippy::unnecessary_wraps, reason = "the shape get_or_create takes")]
fn group(platform: &str, id: &str, name: &str) -> Option<GroupInfo> {
    Some(GroupInfo::new(platform, id, Some(name.into())))
}

fn msg(platform: Platform, channel: ChannelRef, author: &str, at_s: i64) -> ChatMessage {
    ChatMessage::new(
        platform,
        channel,
        Author::new(author, Some(format!("name-{author}"))),
        "hi",
    )
    .with_timestamp(OffsetDateTime::from_unix_timestamp(at_s).unwrap())
}

fn sample() -> Registry {
    let r = Registry::in_memory(RegistryOptions::default());
    r.get_or_create(
        "qq",
        user("qq", "10001", "Alice"),
        group("qq", "941657197", "Test group"),
    )
    .unwrap();
    r.get_or_create("qq", user("qq", "1787882683", "Bob"), None)
        .unwrap();
    r.get_or_create(
        "telegram",
        user("telegram", "42", "Carol"),
        group("telegram", "-1001234567890", "TG group"),
    )
    .unwrap();
    r.get_or_create("telegram", user("telegram", "42", "Carol"), None)
        .unwrap();
    r
}

fn ids(v: &[Arc<ChatStream>]) -> Vec<&str> {
    v.iter().map(|s| s.stream_id.as_str()).collect()
}

#[test]
fn list_functions_default_to_qq_and_take_all_platforms() {
    let r = sample();
    assert_eq!(r.get_all_streams(PlatformFilter::default()).len(), 2);
    assert_eq!(r.get_all_streams("telegram").len(), 2);
    assert_eq!(r.get_all_streams(PlatformFilter::All).len(), 4);
    assert_eq!(
        r.get_all_streams("all_platforms").len(),
        4,
        "1.x meaning of the string"
    );
    assert_eq!(
        ids(&r.get_group_streams("qq")),
        ["a544edeb1a9b73e3e1d77dff36e41264"]
    );
    assert_eq!(
        ids(&r.get_private_streams("qq")),
        ["b8f3a2f1a141dab0218071e5af2d3e1e"]
    );
    assert_eq!(r.get_group_streams(PlatformFilter::All).len(), 2);
    assert!(r.get_all_streams("discord").is_empty());
}

#[test]
fn by_id_lookups_validate_and_match_all_platforms() {
    let r = sample();
    let g = r
        .get_stream_by_group_id("941657197", "qq")
        .unwrap()
        .unwrap();
    assert_eq!(g.stream_id, "a544edeb1a9b73e3e1d77dff36e41264");
    assert!(
        r.get_stream_by_group_id("941657197", "telegram")
            .unwrap()
            .is_none()
    );
    // MaiBot 0.x returns None here (it compares the enum with a string); fixed.
    let all = r
        .get_stream_by_group_id("-1001234567890", PlatformFilter::All)
        .unwrap()
        .unwrap();
    assert_eq!(all.stream_id, "cbdd5e2323f6fa92aed5e0e79fadae3d");
    let p = r
        .get_stream_by_user_id("42", PlatformFilter::All)
        .unwrap()
        .unwrap();
    assert_eq!(p.key.kind, StreamKind::Private);
    assert!(
        r.get_stream_by_user_id("10001", "qq").unwrap().is_none(),
        "a group member is not a private stream"
    );

    let e = r.get_stream_by_group_id("", "qq").unwrap_err();
    assert!(matches!(e, Error::EmptyGroupId));
    assert_eq!(
        e.to_string(),
        "group_id must not be empty (group_id 不能为空)"
    );
    let e = r
        .get_stream_by_user_id("", PlatformFilter::All)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "user_id must not be empty (user_id 不能为空)"
    );
    assert_eq!(e.kind(), chatwire_core::ErrorKind::InvalidInput);
}

#[test]
fn stream_type_and_info_have_maibots_keys_in_order() {
    let r = sample();
    let g = r
        .get_stream_by_group_id("941657197", "qq")
        .unwrap()
        .unwrap();
    let p = r
        .get_stream_by_user_id("1787882683", "qq")
        .unwrap()
        .unwrap();
    assert_eq!(Registry::get_stream_type(&g), StreamType::Group);
    assert_eq!(Registry::get_stream_type(&p).as_str(), "private");
    let gi = serde_json::to_string(&Registry::get_stream_info(&g)).unwrap();
    assert_eq!(
        gi,
        r#"{"stream_id":"a544edeb1a9b73e3e1d77dff36e41264","platform":"qq","type":"group","group_id":"941657197","group_name":"Test group"}"#
    );
    let pi = serde_json::to_string(&Registry::get_stream_info(&p)).unwrap();
    assert_eq!(
        pi,
        r#"{"stream_id":"b8f3a2f1a141dab0218071e5af2d3e1e","platform":"qq","type":"private","user_id":"1787882683","user_name":"Bob"}"#
    );
    assert_eq!(
        Registry::get_stream_info(&p).keys(),
        ["stream_id", "platform", "type", "user_id", "user_name"]
    );
}

#[test]
fn summary_counts_every_platform() {
    let s = sample().get_streams_summary();
    assert_eq!(
        (
            s.total_streams,
            s.group_streams,
            s.private_streams,
            s.qq_streams
        ),
        (4, 2, 2, 2)
    );
    assert_eq!(s.by_platform.get("telegram"), Some(&2));
    let json = serde_json::to_value(&s).unwrap();
    for k in [
        "total_streams",
        "group_streams",
        "private_streams",
        "qq_streams",
    ] {
        assert!(json.get(k).is_some(), "{k}");
    }
    let empty = Registry::in_memory(RegistryOptions::default()).get_streams_summary();
    assert_eq!(empty.total_streams, 0);
}

#[test]
fn get_or_create_refreshes_names_and_rejects_nothing() {
    let r = Registry::in_memory(RegistryOptions::default());
    assert!(matches!(
        r.get_or_create("qq", None, None),
        Err(Error::MissingIdentity)
    ));
    assert_eq!(
        r.get_or_create("qq", None, None).unwrap_err().to_string(),
        "a user or a group is required (用户信息或群组信息必须提供)"
    );
    assert!(matches!(
        r.get_or_create("", user("qq", "1", "x"), None),
        Err(Error::EmptyPlatform)
    ));
    let a = r
        .get_or_create("qq", user("qq", "7", "old"), group("qq", "500", "Old name"))
        .unwrap();
    let b = r
        .get_or_create(
            "qq",
            user("qq", "8", "other"),
            group("qq", "500", "New name"),
        )
        .unwrap();
    assert_eq!(a.stream_id, b.stream_id, "the group key ignores the sender");
    assert_eq!(
        b.group_info.as_ref().unwrap().group_name.as_deref(),
        Some("New name")
    );
    assert!(
        b.user_info.is_none(),
        "a group does not keep its first speaker (MaiBot#814)"
    );
    let p1 = r
        .get_or_create("qq", user("qq", "9", "Nick1"), None)
        .unwrap();
    let p2 = r
        .get_or_create("qq", user("qq", "9", "Nick2"), None)
        .unwrap();
    assert_eq!(p1.stream_id, p2.stream_id);
    assert_eq!(
        p2.user_info.as_ref().unwrap().user_nickname.as_deref(),
        Some("Nick2")
    );
    assert_eq!(p2.name().as_deref(), Some("Nick2的私聊"));
    assert_eq!(r.len(), 2);
}

#[test]
fn accounts_and_scopes_are_part_of_the_key() {
    let opts = RegistryOptions::default().route("10001", "napcat-1");
    let scoped = Registry::in_memory(opts);
    let s = scoped
        .get_or_create("qq", None, group("qq", "941657197", "g"))
        .unwrap();
    assert_eq!(s.stream_id, "db21c542c9b6d8da09594d66195833e1");
    assert_eq!(
        s.key,
        StreamKey::scoped("qq", "10001", "napcat-1", StreamKind::Group, "941657197").unwrap()
    );
    assert!(
        scoped
            .get_stream("db21c542c9b6d8da09594d66195833e1")
            .is_some()
    );
}

#[test]
fn listings_are_most_recent_first_with_pagination() {
    let r = Registry::in_memory(RegistryOptions::default());
    for (i, ch) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        r.register_message(&msg(
            Platform::Chzzk,
            ChannelRef::group(*ch),
            "u",
            1_000 + i64::try_from(i).unwrap(),
        ))
        .unwrap();
    }
    // "b" speaks again, later than everyone.
    r.register_message(&msg(Platform::Chzzk, ChannelRef::group("b"), "u", 2_000))
        .unwrap();
    // A message from the past never moves a stream backwards.
    r.register_message(&msg(Platform::Chzzk, ChannelRef::group("e"), "u", 10))
        .unwrap();
    let order: Vec<String> = r
        .get_all_streams("chzzk")
        .into_iter()
        .map(|s| s.key.target.clone())
        .collect();
    assert_eq!(order, ["b", "e", "d", "c", "a"]);
    let page: Vec<String> = r
        .list(&ListQuery::new().page(1, 2))
        .into_iter()
        .map(|s| s.key.target.clone())
        .collect();
    assert_eq!(page, ["e", "d"]);
    assert_eq!(
        r.get_stream_by_group_id("b", "chzzk")
            .unwrap()
            .unwrap()
            .last_active_at_ms,
        2_000_000
    );
}

#[test]
fn every_platform_maps_to_streams() {
    let r = Registry::in_memory(RegistryOptions::default());
    let chzzk = r
        .register_message(&msg(
            Platform::Chzzk,
            ChannelRef::group("5f1e2d3c").with_name("Channel"),
            "u1",
            1,
        ))
        .unwrap();
    let se = r
        .register_message(&msg(
            Platform::StackExchange,
            ChannelRef::group("12345").with_name("Sandbox"),
            "100001",
            2,
        ))
        .unwrap();
    let lk_room = r
        .register_message(&msg(
            Platform::LiveKit,
            ChannelRef::group("room-1"),
            "alice",
            3,
        ))
        .unwrap();
    let lk_dm = r
        .register_message(&msg(Platform::LiveKit, ChannelRef::direct("bob"), "bob", 4))
        .unwrap();
    assert_eq!(Registry::get_stream_type(&chzzk), StreamType::Group);
    assert_eq!(
        se.group_info.as_ref().unwrap().group_name.as_deref(),
        Some("Sandbox")
    );
    assert_eq!(lk_room.key.kind, StreamKind::Group);
    assert_eq!(Registry::get_stream_type(&lk_dm), StreamType::Private);
    assert_eq!(
        lk_dm.user_info.as_ref().unwrap().user_nickname.as_deref(),
        Some("name-bob")
    );
    assert_eq!(
        se.stream_id,
        chat_streams::legacy_stream_id("stackexchange", StreamKind::Group, "12345")
    );
    assert_eq!(r.get_streams_summary().by_platform.len(), 3);
}

#[tokio::test]
async fn consume_feeds_from_any_event_stream() {
    let r = Registry::in_memory(RegistryOptions::default());
    let events: Vec<Result<ChatEvent, chatwire_core::Error>> = vec![
        Ok(ChatEvent::Connected {
            platform: Platform::Chzzk,
            channel: ChannelRef::group("ch1"),
        }),
        Ok(ChatEvent::Message(msg(
            Platform::Chzzk,
            ChannelRef::group("ch1"),
            "u1",
            5,
        ))),
        Err(chatwire_core::Error::new(
            chatwire_core::ErrorKind::Protocol,
            "bad frame",
        )),
        Ok(ChatEvent::Message(msg(
            Platform::Chzzk,
            ChannelRef::group(""),
            "u1",
            6,
        ))),
        Ok(ChatEvent::MessageEdited(msg(
            Platform::StackExchange,
            ChannelRef::group("77"),
            "u2",
            7,
        ))),
        Ok(ChatEvent::Disconnected {
            platform: Platform::Chzzk,
            channel: ChannelRef::group("ch1"),
            reason: None,
        }),
    ];
    let report = r.consume(futures_util::stream::iter(events)).await;
    assert_eq!(
        (
            report.channels,
            report.messages,
            report.stream_errors,
            report.rejected
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(r.len(), 2);
    // The connection created the stream now; the older message does not move it backwards.
    let ch1 = r.get_stream_by_group_id("ch1", "chzzk").unwrap().unwrap();
    assert!(ch1.last_active_at_ms >= ch1.created_at_ms && ch1.created_at_ms > 5_000);
    assert_eq!(
        r.get_stream_by_group_id("77", "stackexchange")
            .unwrap()
            .unwrap()
            .last_active_at_ms,
        7_000
    );
}

#[test]
fn forget_removes_a_stream() {
    let r = sample();
    let gone = r
        .forget("a544edeb1a9b73e3e1d77dff36e41264")
        .unwrap()
        .unwrap();
    assert_eq!(gone.key.target, "941657197");
    assert!(
        r.get_stream_by_group_id("941657197", "qq")
            .unwrap()
            .is_none()
    );
    assert!(
        r.forget("a544edeb1a9b73e3e1d77dff36e41264")
            .unwrap()
            .is_none()
    );
    assert_eq!(r.len(), 3);
}

#[test]
fn support_events_and_renames_reach_the_registry() {
    use chatwire_core::{Donation, DonationKind, Subscription};
    let r = Registry::in_memory(RegistryOptions::default());
    let room = || ChannelRef::group("chan-1");
    let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
    let donation = Donation::new(
        Platform::Chzzk,
        room(),
        Author::new("", None),
        1000,
        "cheese",
        DonationKind::Chat,
    )
    .with_anonymous(true)
    .with_timestamp(at(1_000));
    let stream = r
        .register_event(&ChatEvent::Donation(donation))
        .unwrap()
        .expect("an anonymous donation is activity in its channel");
    assert_eq!(stream.last_active_at_ms, 1_000_000);
    let sub = Subscription::new(Platform::Chzzk, room(), Author::new("u1", Some("A".into())))
        .with_timestamp(at(2_000));
    r.register_event(&ChatEvent::Subscription(sub)).unwrap();
    let renamed = r
        .register_event(&ChatEvent::RoomChanged {
            platform: Platform::Chzzk,
            channel: room(),
            name: Some("새 방송".into()),
            topic: None,
            mode: None,
        })
        .unwrap()
        .unwrap();
    assert_eq!(renamed.stream_id, stream.stream_id, "the same stream");
    let now = r
        .get_stream_by_group_id("chan-1", "chzzk")
        .unwrap()
        .unwrap();
    assert_eq!(
        now.group_info
            .as_ref()
            .and_then(|g| g.group_name.as_deref()),
        Some("새 방송")
    );
    assert!(
        now.last_active_at_ms >= 2_000_000,
        "the subscription touched it"
    );
}
