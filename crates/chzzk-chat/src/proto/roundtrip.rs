//! Round trips for everything the client sends, over seeded random texts, ids and emoji maps
//! (quotes, backslashes, `{:name:}`, control characters, Hangul, emoji): each client frame
//! parses back to the web client's documented shape, our own frame decoder classifies it, and
//! a `SEND_CHAT` relayed the way the server relays it (a 93101 line made of the frame's `msg`,
//! `msgTypeCode`, `extras` and `msgTime`) decodes to the same text, time and emojis.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    Inbound, Outgoing, cmd, connect, inbound, parse, ping, pong, request_recent_chat, send_chat,
};
use crate::event::Event;

use chat_replay::rng::Rng;

/// Awkward texts for the round trips.
trait Text {
    fn text(&mut self, len: usize) -> String;
}

impl Text for Rng {
    /// A string of up to `max` pieces drawn from the awkward ones.
    fn text(&mut self, max: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "\"",
            "\\",
            "\\\"",
            "{",
            "}",
            "{:d_47:}",
            ":",
            ",",
            "\n",
            "\t",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "안녕",
            "가",
            "👋",
            "🏳️‍🌈",
            "é",
            "\u{200b}",
            "\u{feff}",
            "</script>",
            "&amp;",
            "%20",
            "null",
            "true",
            "[]",
        ];
        (0..self.below(max + 1))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }
}

const ROUNDS: usize = 500;

fn json_of(frame: &str) -> Value {
    serde_json::from_str(frame).expect("a client frame is JSON")
}

#[test]
fn connect_frames_have_the_web_shape() {
    let mut rng = Rng(0x5EED_C0DE_0000_0001);
    for _ in 0..ROUNDS {
        let (chat, token) = (rng.text(4), rng.text(6));
        let uid = (rng.below(2) == 0).then(|| rng.text(4));
        let tid = rng.next_u64();
        let f = json_of(&connect(&chat, &token, uid.as_deref(), tid));
        assert_eq!(
            f,
            json!({"ver": "3", "cmd": 100, "svcid": "game", "cid": chat, "tid": tid,
                "bdy": {"uid": uid, "devType": 2001, "accTkn": token,
                    "auth": if uid.is_some() { "SEND" } else { "READ" }}}),
        );
        // Our own decoder takes it for a frame (with its command) and does not trip on it.
        let parsed = parse(&f.to_string()).expect("parses");
        assert_eq!(
            (parsed.cmd, parsed.tid),
            (cmd::CONNECT, Some(tid.to_string()))
        );
    }
}

#[test]
fn send_chat_relayed_by_the_server_decodes_to_what_was_sent() {
    let mut rng = Rng(0x5EED_C0DE_0000_0002);
    for round in 0..ROUNDS {
        let text = rng.text(12);
        let emojis: BTreeMap<String, String> = (0..rng.below(3))
            .map(|_| (rng.text(2), format!("https://example.com/{}", rng.text(2))))
            .collect();
        let extra_token = (rng.below(2) == 0).then(|| rng.text(3));
        let msg_time_ms = 1_700_000_000_000 + i64::try_from(round).unwrap_or(0);
        let (chat, sid, channel) = (rng.text(3), rng.text(3), rng.text(3));
        let tid = rng.next_u64();
        let frame = json_of(&send_chat(&Outgoing {
            chat_channel_id: &chat,
            sid: &sid,
            channel_id: &channel,
            extra_token: extra_token.as_deref(),
            text: &text,
            emojis: &emojis,
            msg_time_ms,
            tid,
        }));

        // The documented shape.
        assert_eq!(
            (
                &frame["ver"],
                &frame["cmd"],
                &frame["svcid"],
                &frame["cid"],
                &frame["sid"]
            ),
            (
                &json!("3"),
                &json!(3101),
                &json!("game"),
                &json!(chat),
                &json!(sid)
            )
        );
        assert_eq!(
            (&frame["retry"], &frame["tid"]),
            (&json!(false), &json!(tid))
        );
        let bdy = &frame["bdy"];
        assert_eq!(
            (&bdy["msg"], &bdy["msgTypeCode"], &bdy["msgTime"]),
            (&json!(text), &json!(1), &json!(msg_time_ms))
        );
        let extras: Value =
            serde_json::from_str(bdy["extras"].as_str().expect("extras is a JSON string"))
                .expect("extras parses");
        let mut expected = json!({"chatType": "STREAMING", "osType": "PC",
            "streamingChannelId": channel, "emojis": emojis});
        if let Some(t) = &extra_token {
            expected["extraToken"] = json!(t);
        }
        assert_eq!(extras, expected);

        // Relayed as the server relays it, through our decoder.
        let relayed = json!({"cmd": 93101, "tid": null, "cid": chat, "bdy": [{
            "cid": chat, "uid": "000000b0c0ffee00b0b0b0b00badf00d", "profile": "{\"nickname\":\"bot\"}",
            "msg": bdy["msg"], "msgTypeCode": bdy["msgTypeCode"], "extras": bdy["extras"],
            "msgTime": bdy["msgTime"], "ctime": bdy["msgTime"], "msgStatusType": "NORMAL",
        }]});
        let Inbound::Events(events) =
            inbound(&channel, &chat, parse(&relayed.to_string()).unwrap())
        else {
            panic!("a chat frame gives events")
        };
        let [Ok(Event::Chat(m))] = events.as_slice() else {
            panic!("one chat event: {events:?}")
        };
        assert_eq!((&m.content, m.time_ms), (&text, msg_time_ms));
        assert_eq!(m.extras.emojis, emojis);
        assert_eq!(
            m.extras.streaming_channel_id.as_deref(),
            Some(channel.as_str())
        );
    }
}

#[test]
fn recent_chat_requests_and_keepalives_parse_back() {
    let mut rng = Rng(0x5EED_C0DE_0000_0003);
    for _ in 0..ROUNDS {
        let (chat, sid) = (rng.text(3), rng.text(3));
        let count = u32::try_from(rng.below(200)).unwrap_or(0);
        let tid = rng.next_u64();
        let f = json_of(&request_recent_chat(&chat, &sid, count, tid));
        assert_eq!(
            f,
            json!({"ver": "3", "cmd": 5101, "svcid": "game", "cid": chat, "sid": sid, "tid": tid,
                "bdy": {"recentMessageCount": count}})
        );
    }
    // Our own ping and pong are what our decoder takes for a ping and a pong.
    assert!(matches!(
        inbound("c", "N", parse(&ping()).unwrap()),
        Inbound::Ping
    ));
    assert!(matches!(
        inbound("c", "N", parse(&pong()).unwrap()),
        Inbound::Pong
    ));
    assert_eq!(json_of(&ping()), json!({"ver": "3", "cmd": 0}));
    assert_eq!(json_of(&pong()), json!({"ver": "3", "cmd": 10000}));
}
