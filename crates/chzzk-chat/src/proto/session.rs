//! [`Session`]: the delivery rules of one client, without I/O. It turns each server frame
//! into [`Outcome`]s (events to emit, frames to write, answers to hand back, the end of the
//! session) and owns what makes delivery exactly-once: the window of delivered lines, the
//! gap-fill floor, and the routing of recent-chat answers by transaction id. The driver
//! (`crate::driver`) does the socket, the timers and the HTTP calls, and applies the outcomes
//! in order; tests drive this with plain frames.

use std::collections::VecDeque;

use chatwire_net::DedupWindow;
use serde_json::Value;

use super::{Inbound, decode, inbound, line_event, parse, pong};
use crate::Error;
use crate::event::Event;
use crate::model::{Origin, RecentChat, UserIdHash};

/// What handling a frame asks of the driver, in order.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "an outcome is moved once, from the session to the stream; boxing it would add an allocation per event"
)]
pub enum Outcome<R> {
    /// Hand this to the event stream.
    Emit(Result<Event, Error>),
    /// Write this frame on the socket (the answer to a PING).
    Write(String),
    /// Answer a pending recent-chat request (`history()`) through its reply.
    Reply(R, Result<RecentChat, Error>),
    /// The server ended the session (90102): stop.
    SessionEnded,
}

/// A recent-chat request on the wire: its transaction id, where its answer goes, and whether
/// it fills the gap of a reconnect.
#[derive(Debug)]
struct Pending<R> {
    tid: u64,
    reply: Option<R>,
    gap_fill: bool,
}

/// The delivery state of one client, across its reconnects. `R` is how a `history()` caller
/// is answered (the driver uses a oneshot sender).
#[derive(Debug)]
pub struct Session<R> {
    /// (author, time) of delivered lines, to deliver each line once across reconnects.
    seen: DedupWindow<(UserIdHash, i64)>,
    /// The earliest time a delivered line (or the first join) had: a gap fill delivers
    /// nothing older.
    floor_ms: Option<i64>,
    pending: VecDeque<Pending<R>>,
    tid: u64,
}

impl<R> Default for Session<R> {
    fn default() -> Self {
        Self {
            seen: DedupWindow::default(),
            floor_ms: None,
            pending: VecDeque::new(),
            tid: 0,
        }
    }
}

impl<R> Session<R> {
    /// A session with nothing delivered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next transaction id for a client frame.
    pub fn next_tid(&mut self) -> u64 {
        self.tid += 1;
        self.tid
    }

    /// Marks the first join at `now_ms`: a gap fill never delivers lines older than the
    /// client's start. Later joins keep the first floor.
    pub fn joined_at(&mut self, now_ms: i64) {
        if self.floor_ms.is_none() {
            self.floor_ms = Some(now_ms);
        }
    }

    /// Notes a recent-chat request written with transaction id `tid`.
    pub fn expect_recent(&mut self, tid: u64, reply: Option<R>, gap_fill: bool) {
        self.pending.push_back(Pending {
            tid,
            reply,
            gap_fill,
        });
    }

    /// The replies of every pending request, which will get no answer now (the client stops).
    pub fn abandon(&mut self) -> impl Iterator<Item = R> + '_ {
        self.pending.drain(..).filter_map(|p| p.reply)
    }

    /// Handles one server frame of the chat channel `chat_channel_id` of `channel_id`.
    pub fn on_frame(
        &mut self,
        channel_id: &str,
        chat_channel_id: &str,
        text: &str,
    ) -> Vec<Outcome<R>> {
        let mut out = Vec::new();
        self.on_frame_into(channel_id, chat_channel_id, text, &mut out);
        out
    }

    /// [`on_frame`](Self::on_frame), appending to `out`, so a driver reuses one buffer for
    /// every frame.
    pub fn on_frame_into(
        &mut self,
        channel_id: &str,
        chat_channel_id: &str,
        text: &str,
        out: &mut Vec<Outcome<R>>,
    ) {
        let frame = match parse(text) {
            Ok(f) => f,
            Err(why) => {
                out.push(Outcome::Emit(Err(Error::decode("a chat frame", why, text))));
                return;
            }
        };
        match inbound(channel_id, chat_channel_id, frame) {
            Inbound::Ping => out.push(Outcome::Write(pong())),
            Inbound::Pong | Inbound::Connected { .. } => {}
            Inbound::SessionEnded => out.push(Outcome::SessionEnded),
            Inbound::RecentChat {
                tid,
                ret_code,
                ret_msg,
                bdy,
            } => self.on_recent_chat(channel_id, tid.as_deref(), ret_code, ret_msg, &bdy, out),
            Inbound::Events(events) => {
                for item in events {
                    match item {
                        Ok(event) => self.deliver_live(event, out),
                        Err((line, why)) => out.push(Outcome::Emit(Err(Error::decode(
                            "a chat line",
                            why,
                            &line.to_string(),
                        )))),
                    }
                }
            }
        }
    }

    /// Delivers a pushed event once: lines already delivered (same author and time) are
    /// dropped.
    fn deliver_live(&mut self, event: Event, out: &mut Vec<Outcome<R>>) {
        if let Some((user, time)) = line_key(&event) {
            if !self.seen.insert((user, time)) {
                return;
            }
            self.floor_ms = Some(self.floor_ms.map_or(time, |f| f.min(time)));
        }
        out.push(Outcome::Emit(Ok(event)));
    }

    /// Routes a recent-chat answer to its request (by transaction id, else the oldest).
    fn on_recent_chat(
        &mut self,
        channel_id: &str,
        tid: Option<&str>,
        ret_code: i64,
        ret_msg: String,
        bdy: &Value,
        out: &mut Vec<Outcome<R>>,
    ) {
        let idx = tid
            .and_then(|t| t.parse::<u64>().ok())
            .and_then(|t| self.pending.iter().position(|p| p.tid == t))
            .or_else(|| (!self.pending.is_empty()).then_some(0));
        let pending = idx.and_then(|i| self.pending.remove(i));
        if ret_code != 0 {
            let err = Error::RecentChatFailed { ret_code, ret_msg };
            out.push(match pending.and_then(|p| p.reply) {
                Some(r) => Outcome::Reply(r, Err(err)),
                None => Outcome::Emit(Err(err)),
            });
            return;
        }
        let (recent, bad) = decode::recent_chat(channel_id, bdy);
        for (line, why) in bad {
            out.push(Outcome::Emit(Err(Error::decode(
                "a recent chat line",
                why,
                &line.to_string(),
            ))));
        }
        if pending.as_ref().is_some_and(|p| p.gap_fill) {
            // Lines sent while we were away: deliver the ones never delivered, oldest first.
            let floor = self.floor_ms.unwrap_or(i64::MIN);
            for line in recent.messages {
                let key = (UserIdHash::from(line.user_id()), line.time_ms());
                if key.1 >= floor && self.seen.insert(key) {
                    out.push(Outcome::Emit(Ok(line_event(line))));
                }
            }
            return;
        }
        for line in &recent.messages {
            self.seen
                .insert((UserIdHash::from(line.user_id()), line.time_ms()));
        }
        if let Some(r) = pending.and_then(|p| p.reply) {
            out.push(Outcome::Reply(r, Ok(recent.clone())));
        }
        out.push(Outcome::Emit(Ok(Event::RecentChat(recent))));
    }
}

/// The (author, time) of a live chat line, its natural key.
fn line_key(event: &Event) -> Option<(UserIdHash, i64)> {
    let (user, time, origin) = match event {
        Event::Chat(m) => (&m.user_id, m.time_ms, m.origin),
        Event::Donation(m) => (&m.user_id, m.time_ms, m.origin),
        Event::Subscription(m) => (&m.user_id, m.time_ms, m.origin),
        Event::SubscriptionGift(m) => (&m.user_id, m.time_ms, m.origin),
        Event::SystemMessage(m) => (&m.user_id, m.time_ms, m.origin),
        _ => return None,
    };
    (time > 0 && origin == Origin::Live).then(|| (user.clone(), time))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CHANNEL: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const CHAT: &str = "N2xQ7a";

    fn chat_line(uid: &str, time: i64, msg: &str) -> Value {
        json!({
            "svcid": "game", "cid": CHAT, "uid": uid, "msg": msg, "msgTypeCode": 1,
            "msgStatusType": "NORMAL", "profile": "{}", "extras": "{}",
            "ctime": time, "utime": time, "msgTime": time,
        })
    }

    fn push(lines: &[Value]) -> String {
        json!({"svcid": "game", "ver": "1", "cmd": 93101, "tid": null, "cid": CHAT, "bdy": lines})
            .to_string()
    }

    fn recent(tid: u64, ret_code: i64, lines: &[(&str, i64, &str)]) -> String {
        let list: Vec<Value> = lines
            .iter()
            .map(|(uid, t, msg)| {
                json!({
                    "serviceId": "game", "channelId": CHAT, "messageTime": t, "userId": uid,
                    "profile": "{}", "content": msg, "extras": "{}", "messageTypeCode": 1,
                    "messageStatusType": "NORMAL", "createTime": t, "updateTime": t,
                })
            })
            .collect();
        json!({
            "svcid": "game", "cmd": 15101, "retCode": ret_code, "retMsg": "x",
            "tid": tid.to_string(), "cid": CHAT, "bdy": {"messageList": list},
        })
        .to_string()
    }

    fn texts<R>(out: &[Outcome<R>]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Outcome::Emit(Ok(Event::Chat(m))) => Some(m.content.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_line_pushed_twice_is_delivered_once() {
        let mut s = Session::<()>::new();
        let frame = push(&[chat_line("u1", 1_000, "hello")]);
        assert_eq!(texts(&s.on_frame(CHANNEL, CHAT, &frame)), ["hello"]);
        assert!(texts(&s.on_frame(CHANNEL, CHAT, &frame)).is_empty());
    }

    #[test]
    fn a_ping_is_answered_and_90102_ends_the_session() {
        let mut s = Session::<()>::new();
        let out = s.on_frame(CHANNEL, CHAT, r#"{"ver":"2","cmd":0}"#);
        assert!(matches!(&out[..], [Outcome::Write(f)] if f == &pong()));
        let out = s.on_frame(CHANNEL, CHAT, r#"{"ver":"2","cmd":90102,"svcid":"game"}"#);
        assert!(matches!(&out[..], [Outcome::SessionEnded]));
    }

    #[test]
    fn garbage_is_an_error_that_keeps_the_frame() {
        let mut s = Session::<()>::new();
        let out = s.on_frame(CHANNEL, CHAT, "not json {");
        match &out[..] {
            [Outcome::Emit(Err(Error::Decode(d)))] => assert_eq!(d.raw(), "not json {"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answers_go_to_their_request_by_transaction_id() {
        let mut s = Session::<&'static str>::new();
        let (a, b) = (s.next_tid(), s.next_tid());
        s.expect_recent(a, Some("first"), false);
        s.expect_recent(b, Some("second"), false);
        let out = s.on_frame(CHANNEL, CHAT, &recent(b, 0, &[("u1", 5, "x")]));
        assert!(matches!(&out[0], Outcome::Reply("second", Ok(r)) if r.messages.len() == 1));
        assert!(matches!(&out[1], Outcome::Emit(Ok(Event::RecentChat(_)))));
        let out = s.on_frame(CHANNEL, CHAT, &recent(a, 500, &[]));
        assert!(matches!(
            &out[..],
            [Outcome::Reply(
                "first",
                Err(Error::RecentChatFailed { ret_code: 500, .. })
            )]
        ));
        assert_eq!(s.abandon().count(), 0);
    }

    #[test]
    fn a_gap_fill_delivers_only_new_lines_since_the_floor() {
        let mut s = Session::<()>::new();
        s.joined_at(1_000);
        let _ = s.on_frame(CHANNEL, CHAT, &push(&[chat_line("u1", 2_000, "seen live")]));
        let tid = s.next_tid();
        s.expect_recent(tid, None, true);
        let out = s.on_frame(
            CHANNEL,
            CHAT,
            &recent(
                tid,
                0,
                &[
                    ("u0", 500, "before the client started"),
                    ("u1", 2_000, "seen live"),
                    ("u2", 3_000, "missed while away"),
                ],
            ),
        );
        assert_eq!(texts(&out), ["missed while away"]);
        assert!(
            !out.iter()
                .any(|o| matches!(o, Outcome::Emit(Ok(Event::RecentChat(_))))),
            "a gap fill is not a recent-chat answer"
        );
    }

    #[test]
    fn pending_requests_are_abandoned_with_their_replies() {
        let mut s = Session::<u8>::new();
        s.expect_recent(1, Some(7), false);
        s.expect_recent(2, None, true);
        assert_eq!(s.abandon().collect::<Vec<_>>(), [7]);
    }
}
