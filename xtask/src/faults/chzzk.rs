//! Chzzk sessions with faults: drops, closes with every code, stalls, oversize and broken
//! frames, refused rejoins with failing HTTP lookups, a slow consumer. Messages posted while
//! the client is away come back in the gap-fill answer (the last 50 lines), together with
//! lines it already has, so both gap fill and deduplication are exercised.

use std::time::Duration;

use chzzk_chat::{ChatClient, Endpoints, Event, ReconnectPolicy, Timing};
use serde_json::{Value, json};

use super::{ConnectionEnd, Outcome, Rng, Seen, Session, garbage_frame, http_fault, line};

const CHANNEL: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0";
const CHAT: &str = "N2xQ7a";
/// The gap-fill answer holds at most this many lines (the server's recent list).
const RECENT: usize = 50;

#[derive(Clone)]
struct Line {
    uid: String,
    time: i64,
    text: String,
}

impl Line {
    fn key(&self) -> String {
        format!("{}:{}", self.uid, self.time)
    }

    fn profile(&self) -> String {
        json!({"userIdHash": self.uid, "nickname": format!("시청자{}", &self.uid[..6]),
            "profileImageUrl": "", "userRoleCode": "common_user", "badge": null, "title": null,
            "verifiedMark": false, "verifiedMarkType": null, "activityBadges": [],
            "streamingProperty": {"nicknameColor": {"colorCode": "CC000"},
            "activatedAchievementBadgeIds": []}, "viewerBadges": []})
        .to_string()
    }

    fn extras() -> String {
        json!({"chatType": "STREAMING", "osType": "PC", "extraToken": "fake-extra-token-relayed",
            "streamingChannelId": CHANNEL, "emojis": {}})
        .to_string()
    }

    /// The shape of a line pushed live (93101).
    fn live(&self) -> Value {
        json!({"svcid": "game", "cid": CHAT, "mbrCnt": 1234, "uid": self.uid,
            "profile": self.profile(), "msg": self.text, "msgTypeCode": 1,
            "msgStatusType": "NORMAL", "extras": Self::extras(), "ctime": self.time,
            "utime": self.time, "msgTid": null, "cuid": null, "msgTime": self.time})
    }

    /// The shape of a line in the recent-chat answer (15101).
    fn recent(&self) -> Value {
        json!({"serviceId": "game", "channelId": CHAT, "messageTime": self.time,
            "userId": self.uid, "profile": self.profile(), "content": self.text,
            "extras": Self::extras(), "memberCount": 1090, "messageTypeCode": 1,
            "messageStatusType": "NORMAL", "createTime": self.time, "updateTime": self.time,
            "msgTid": null})
    }
}

fn http_ok(path: &str, query: &Value, content: &Value) -> Value {
    json!({"http": {"method": "GET", "path": path, "query": query},
        "response": {"json": {"code": 200, "message": null, "content": content}}})
}

fn live_status() -> Value {
    http_ok(
        &format!("/polling/v2/channels/{CHANNEL}/live-status"),
        &json!({}),
        &json!({"liveTitle": "장애 시험 방송", "status": "OPEN", "concurrentUserCount": 1234,
            "accumulateCount": 5678, "adult": false, "chatChannelId": CHAT,
            "userAdultStatus": "NOT_LOGIN_USER", "chatActive": true}),
    )
}

fn access_token() -> Value {
    http_ok(
        "/nng_main/v1/chats/access-token",
        &json!({"channelId": CHAT, "chatType": "STREAMING"}),
        &json!({"accessToken": "fake-access-token-1", "extraToken": "fake-extra-token-1",
            "realNameAuth": false, "temporaryRestrict": {"temporaryRestrict": false, "times": 0,
            "duration": null, "createdTime": null}, "chatTime": null, "remainingChatTimeMs": null}),
    )
}

/// `step` with its response replaced by a fault.
fn failing(step: &Value, response: Value) -> Value {
    let mut s = step.clone();
    s["response"] = response;
    s
}

struct Gen<'a> {
    rng: &'a mut Rng,
    out: String,
    posted: Vec<Line>,
    faults: Vec<String>,
    next_user: u64,
    base_ms: i64,
}

impl Gen<'_> {
    fn push(&mut self, v: &Value) {
        self.out.push_str(&line(v));
    }

    fn fault(&mut self, kind: impl Into<String>) {
        self.faults.push(kind.into());
    }

    fn new_line(&mut self) -> Line {
        self.next_user += 1;
        let n = self.posted.len();
        let l = Line {
            uid: format!(
                "{:08x}c0ffee{:08x}badf00d0",
                self.next_user,
                self.rng.next_u64() >> 32
            ),
            time: self.base_ms + i64::try_from(n).unwrap_or(0) * 7,
            text: format!("메시지 {n}"),
        };
        self.posted.push(l.clone());
        l
    }

    /// A lookup that fails `0..=2` times with gateway faults before it answers.
    fn flaky_http(&mut self, ok: &Value) {
        for _ in 0..self.rng.range(0, 2) {
            let (kind, response) = http_fault(self.rng);
            self.fault(kind);
            self.push(&failing(ok, response));
        }
        self.push(ok);
    }

    /// Opens connection `conn` and scripts a failing join; returns false when the join works.
    fn failed_join(&mut self, conn: &str) -> bool {
        self.push(&json!({"ws_open": conn, "path": "/chat"}));
        if !self.rng.chance(0.25) {
            return false;
        }
        let connect = json!({"ws": conn, "dir": "c2s", "json": {"cmd": 100, "cid": CHAT,
            "tid": format!("{{{{capture:tid_{conn}}}}}")}});
        match self.rng.range(0, 3) {
            0 => {
                self.fault("join refused (105)");
                self.push(&connect);
                self.push(&json!({"ws": conn, "dir": "s2c", "json": {"cmd": 10100,
                    "retCode": 105, "retMsg": "Incorrect parameter",
                    "tid": format!("{{{{str:tid_{conn}}}}}")}}));
                // A refused rejoin looks the chat channel up again, through a flaky gateway.
                self.flaky_http(&live_status());
                self.flaky_http(&access_token());
            }
            1 => {
                let code = *self.rng.pick(&super::CLOSE_CODES);
                self.fault(format!("close {code} during join"));
                self.push(&connect);
                self.push(&json!({"ws_close": conn, "by": "server", "code": code,
                    "reason": "going away"}));
            }
            2 => {
                self.fault("drop during join");
                self.push(&connect);
                self.push(&json!({"ws_drop": conn}));
            }
            _ => {
                self.fault("stall during join");
                self.push(&connect);
                self.push(&json!({"ws_stall": conn}));
            }
        }
        true
    }

    fn live_frame(&mut self, conn: &str) -> Value {
        let n = self.rng.range(1, 3);
        let lines: Vec<Value> = (0..n).map(|_| self.new_line().live()).collect();
        json!({"ws": conn, "dir": "s2c", "json": {"svcid": "game", "ver": "1", "bdy": lines,
            "cmd": 93101, "tid": null, "cid": CHAT}})
    }
}

/// Generates one session.
pub(super) fn session(rng: &mut Rng) -> Session {
    let slow_consumer = rng.chance(0.2);
    let mut g = Gen {
        rng,
        out: String::new(),
        posted: Vec::new(),
        faults: Vec::new(),
        next_user: 0,
        // Lines must be newer than the session's start, as live lines are: 2100-01-01 keeps
        // a seed's session the same on every run.
        base_ms: 4_102_444_800_000,
    };
    g.push(
        &json!({"fixture": 1, "platform": "chzzk", "title": "generated fault session",
        "source": "generated", "config": {"channel_id": CHANNEL},
        "keepalive": [{"c2s": {"cmd": 0}, "s2c": {"cmd": 10000, "ver": "2"}}],
        "ignore_c2s": [{"cmd": 10000}]}),
    );
    g.push(&live_status());
    g.push(&access_token());
    let sessions = g.rng.range(2, 5);
    let mut conn_no = 0;
    for s in 1..=sessions {
        let conn = loop {
            conn_no += 1;
            let conn = format!("c{conn_no}");
            if s == 1 || !g.failed_join(&conn) {
                if s == 1 {
                    g.push(&json!({"ws_open": conn, "path": "/chat"}));
                }
                break conn;
            }
        };
        g.push(
            &json!({"ws": conn, "dir": "c2s", "json": {"cmd": 100, "cid": CHAT,
            "tid": format!("{{{{capture:tid_{conn}}}}}")}}),
        );
        g.push(
            &json!({"ws": conn, "dir": "s2c", "json": {"svcid": "game", "cmd": 10100,
            "retCode": 0, "retMsg": "SUCCESS", "cid": CHAT,
            "tid": format!("{{{{str:tid_{conn}}}}}"),
            "bdy": {"accTkn": null, "auth": "READ", "uuid": "4c2a9e10-7b3d-4f8e-9a61-2d5c8b0e7f13",
                "sid": format!("fake-sid-{conn}")}}}),
        );
        if s > 1 {
            g.push(&json!({"ws": conn, "dir": "c2s", "json": {"cmd": 5101,
                "bdy": {"recentMessageCount": 50}, "tid": format!("{{{{capture:gap_{conn}}}}}")}}));
            let start = g.posted.len().saturating_sub(RECENT);
            let recent: Vec<Value> = g.posted[start..].iter().map(Line::recent).collect();
            g.push(
                &json!({"ws": conn, "dir": "s2c", "json": {"svcid": "game", "cmd": 15101,
                "retCode": 0, "retMsg": "SUCCESS", "cid": CHAT,
                "tid": format!("{{{{str:gap_{conn}}}}}"),
                "bdy": {"messageList": recent, "userCount": 1234, "notice": null}}}),
            );
        }
        let mut last_live = None;
        for _ in 0..g.rng.range(1, 8) {
            if g.rng.chance(0.15) {
                let real = last_live.clone().unwrap_or_else(|| json!({"cmd": 93101}));
                let (kind, frame) = garbage_frame(g.rng, &conn, &real);
                g.fault(kind);
                g.push(&frame);
            }
            if g.rng.chance(0.1) {
                g.fault("server ping");
                g.push(&json!({"ws": conn, "dir": "s2c", "json": {"cmd": 0, "ver": "2"}}));
            }
            if let Some(prev) = last_live.as_ref().filter(|_| g.rng.chance(0.1)) {
                g.fault("repeated push");
                let frame = json!({"ws": conn, "dir": "s2c", "json": prev});
                g.push(&frame);
            }
            let frame = g.live_frame(&conn);
            last_live = Some(frame["json"].clone());
            g.push(&frame);
        }
        if s == sessions {
            g.push(&json!({"ws_close": conn, "by": "client"}));
            break;
        }
        let end = ConnectionEnd::pick(g.rng);
        // The lines of a frame cut in half never arrive live: only the gap fill has them.
        let cut =
            matches!(end, ConnectionEnd::DropMidFrame).then(|| g.live_frame(&conn)["json"].clone());
        let (kind, step) = end.step(&conn, cut.as_ref());
        g.fault(kind);
        g.push(&step);
        // Posted while the client is away: only the gap fill can bring these.
        for _ in 0..g.rng.range(0, 6) {
            g.new_line();
        }
    }
    if slow_consumer {
        g.fault("slow consumer");
    }
    Session {
        fixture: g.out,
        posted: g.posted.iter().map(Line::key).collect(),
        faults: g.faults,
        slow_consumer,
    }
}

/// Plays a session against the real client.
pub(super) async fn play(session: &Session, seed: u64) -> Outcome {
    let server = match super::start(session).await {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let timing = Timing::default()
        .ping_after(Duration::from_millis(300))
        .pong_timeout(Duration::from_millis(300))
        .live_poll(None)
        .connect_timeout(Duration::from_millis(600))
        .request_timeout(Duration::from_millis(600))
        .close_timeout(Duration::from_secs(2));
    let reconnect = ReconnectPolicy::default()
        .initial(Duration::from_millis(1))
        .max(Duration::from_millis(20));
    let client = ChatClient::builder(CHANNEL)
        .endpoints(Endpoints::local(server.http_base(), server.ws_base()))
        .reconnect(reconnect)
        .timing(timing)
        .jitter_seed(seed)
        .build();
    let events = match client.connect().await {
        Ok(e) => e,
        Err(e) => {
            let _ = server.finish().await;
            return Outcome {
                failures: vec![format!("first join failed: {e}")],
                ..Outcome::default()
            };
        }
    };
    let collector = super::collect(events, session.slow_consumer, |item| match item {
        Ok(Event::Chat(m)) => Seen::Message(m.key()),
        Ok(Event::Reconnecting(_)) => Seen::Lost,
        Ok(Event::Connected(c)) if c.rejoin > 0 => Seen::Recovered,
        Ok(Event::Disconnected(d)) if d.reason != "closed by the client" => Seen::Stopped(d.reason),
        Ok(_) => Seen::Other,
        Err(_) => Seen::Error,
    });
    super::finish(&server, collector, async {
        let _ = client.close().await;
    })
    .await
}
