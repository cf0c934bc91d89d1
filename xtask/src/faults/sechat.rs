//! Stack Exchange sessions with faults: after a login, the room's socket drops, closes with
//! every code, goes silent or sends broken and oversize frames; `ws-auth` and the gap-fill
//! `/events` answer with gateway errors, 409 rate limits, dropped and stalled connections; the
//! socket's replay from `l` sometimes repeats what the gap fill brought. Every message posted
//! must arrive once.

use std::time::Duration;

use sechat::{ChatClient, Credentials, Event, RateLimitPolicy, ReconnectPolicy, Server, Timing};
use serde_json::{Value, json};

use super::{ConnectionEnd, Outcome, Rng, Seen, Session, garbage_frame, http_fault, line};

const ROOM: u64 = 12345;
/// The counter the room starts from.
const START: u64 = 170_000_000;
/// The gap fill asks for this many recent messages.
const RECENT: usize = 100;

const EMAIL: &str = "faultbot@example.com";
const PASSWORD: &str = "fake-password-faults";

fn cookies() -> Value {
    json!({"acct": "{{any}}", "prov": "{{any}}", "sechatusr": "fake-chat-session-0001"})
}

/// The login, the chat fkey and the room's first counter: the same exchange as the
/// `login_stackexchange` fixture.
fn login() -> Vec<Value> {
    let page = r#"<!DOCTYPE html><html><head><title>Log in</title></head><body><form id="login-form" method="post" action="/users/login"><input type="hidden" name="fkey" value="fake-login-fkey-1"><input name="email"><input type="password" name="password"></form><script>StackExchange.init({"user":{"fkey":"fake-login-fkey-1","isAnonymous":true}});</script></body></html>"#;
    vec![
        json!({"http": {"method": "GET", "path": "/users/login"}, "response": {"text": page,
            "headers": {"content-type": "text/html; charset=utf-8"},
            "set_cookies": [{"name": "prov", "value": "fake-prov-0001", "domain": "stackexchange.com",
                "http_only": true, "max_age": 31536000}]}}),
        json!({"http": {"method": "POST", "path": "/users/login-or-signup/validation/track"},
            "response": {"text": "Login-OK"}}),
        json!({"http": {"method": "POST", "path": "/users/login", "form": {"email": EMAIL}},
            "response": {"status": 302, "headers": {"location": "/"},
            "set_cookies": [{"name": "acct", "value": "t=fake-acct-0002&s=fake-acct-session",
                "domain": "stackexchange.com", "http_only": true, "max_age": 15552000}]}}),
        json!({"http": {"method": "GET", "path": "/"}, "response": {
            "text": "<html><body><div id=\"topbar\"><div class=\"topbar-menu-links\"><a href=\"/users/200003/faultbot\">FaultBot</a></div></div></body></html>",
            "headers": {"content-type": "text/html; charset=utf-8"},
            "set_cookies": [{"name": "sechatusr", "value": "fake-chat-session-0001",
                "http_only": true, "max_age": 1209600}]}}),
        json!({"http": {"method": "GET", "path": "/chats/join/favorite", "cookies": cookies()},
            "response": {"text": "<html><body><form><input id=\"fkey\" name=\"fkey\" type=\"hidden\" value=\"fake-chat-fkey-1\" /></form></body></html>",
            "headers": {"content-type": "text/html"}}}),
        json!({"http": {"method": "POST", "path": format!("/chats/{ROOM}/events"),
            "form": {"since": "0", "mode": "Messages", "msgCount": "100"}, "cookies": cookies()},
            "response": {"json": {"ms": 4, "time": START, "sync": 1735689900, "events": []}}}),
    ]
}

fn ws_auth(key: u32) -> Value {
    json!({"http": {"method": "POST", "path": "/ws-auth",
        "form": {"roomid": ROOM.to_string(), "fkey": "fake-chat-fkey-1"}, "cookies": cookies()},
        "response": {"json": {"url": format!("wss://chat.sockets.stackexchange.com/events/{ROOM}/fake-socket-key-{key}")}}})
}

fn events_request(answer: &Value) -> Value {
    json!({"http": {"method": "POST", "path": format!("/chats/{ROOM}/events"),
        "form": {"since": "0", "mode": "Messages"}, "cookies": cookies()},
        "response": answer})
}

/// `step` with its response replaced by a fault (gateway errors, or Stack Exchange's 409).
fn failing(rng: &mut Rng, step: &Value) -> (String, Value) {
    let mut s = step.clone();
    if rng.chance(0.2) {
        s["response"] = json!({"status": 409,
            "text": "You can perform this action again in 1 second."});
        return ("http 409 rate limit".into(), s);
    }
    let (kind, response) = http_fault(rng);
    s["response"] = response;
    (kind.into(), s)
}

struct Gen<'a> {
    rng: &'a mut Rng,
    out: String,
    /// Every message event posted, in counter order.
    posted: Vec<Value>,
    counter: u64,
    faults: Vec<String>,
    socket_key: u32,
}

impl Gen<'_> {
    fn push(&mut self, v: &Value) {
        self.out.push_str(&line(v));
    }

    fn fault(&mut self, kind: impl Into<String>) {
        self.faults.push(kind.into());
    }

    fn new_event(&mut self) -> Value {
        self.counter += 1;
        let n = self.posted.len();
        let user = 100_001 + self.rng.range(0, 4);
        let e = json!({"event_type": 1, "time_stamp": 1_735_689_670 + n, "id": self.counter,
            "room_id": ROOM, "room_name": "Fault Room", "content": format!("message {n}"),
            "user_id": user, "user_name": format!("User{user}"), "message_id": 65_000_000 + n});
        self.posted.push(e.clone());
        e
    }

    fn frame(&self, conn: &str, events: &[Value]) -> Value {
        json!({"ws": conn, "dir": "s2c", "json": {format!("r{ROOM}"): {"e": events,
            "t": self.counter}}})
    }

    /// A call that fails `0..=2` times before it answers.
    fn flaky(&mut self, ok: &Value) {
        for _ in 0..self.rng.range(0, 2) {
            let (kind, step) = failing(self.rng, ok);
            self.fault(kind);
            self.push(&step);
        }
        self.push(ok);
    }

    /// `ws-auth` (flaky) and the socket's upgrade, which may be refused; returns the
    /// connection's name once one opens.
    fn open(&mut self, conn_no: &mut u32) -> String {
        loop {
            self.socket_key += 1;
            *conn_no += 1;
            let conn = format!("c{conn_no}");
            self.flaky(&ws_auth(self.socket_key));
            let mut open = json!({"ws_open": conn,
                "path": format!("/events/{ROOM}/fake-socket-key-{}", self.socket_key),
                "query": {"l": "{{any}}"}, "headers": {"origin": "https://chat.stackexchange.com"}});
            if self.rng.chance(0.1) {
                self.fault("upgrade refused 503");
                open["reject"] = json!({"status": 503, "headers": {"content-type": "text/html"},
                    "text": "<html><body>Service Unavailable</body></html>"});
                self.push(&open);
                continue;
            }
            self.push(&open);
            return conn;
        }
    }
}

/// Generates one session.
pub(super) fn session(rng: &mut Rng) -> Session {
    let slow_consumer = rng.chance(0.2);
    let mut g = Gen {
        rng,
        out: String::new(),
        posted: Vec::new(),
        counter: START,
        faults: Vec::new(),
        socket_key: 0,
    };
    g.push(
        &json!({"fixture": 1, "platform": "sechat", "title": "generated fault session",
        "source": "generated", "config": {"room_id": ROOM}}),
    );
    for step in login() {
        g.push(&step);
    }
    let sessions = g.rng.range(2, 5);
    let mut conn_no = 0;
    for s in 1..=sessions {
        let conn = g.open(&mut conn_no);
        if s > 1 {
            // The gap fill; when it fails the client must not go on as if nothing was missed.
            loop {
                let start = g.posted.len().saturating_sub(RECENT);
                let recent = g.posted[start..].to_vec();
                let ok = events_request(&json!({"json": {"ms": 4, "time": g.counter,
                    "sync": 1735689900, "events": recent}}));
                if g.rng.chance(0.2) {
                    let (kind, step) = failing(g.rng, &ok);
                    g.fault(format!("gap fill: {kind}"));
                    g.push(&step);
                    // The client gives this socket up and connects again.
                    let next = g.open(&mut conn_no);
                    let _ = next;
                    continue;
                }
                g.push(&ok);
                break;
            }
            if g.rng.chance(0.5) {
                // The socket's replay from `l` repeats the last few messages.
                g.fault("socket replays the gap");
                let start = g.posted.len().saturating_sub(3);
                let replay = g.posted[start..].to_vec();
                let conn = format!("c{conn_no}");
                let frame = g.frame(&conn, &replay);
                g.push(&frame);
            }
        }
        let conn = if s > 1 { format!("c{conn_no}") } else { conn };
        let mut last = None;
        for _ in 0..g.rng.range(1, 8) {
            if g.rng.chance(0.15) {
                let real = last.clone().unwrap_or_else(|| json!({"r12345": {}}));
                let (kind, frame) = garbage_frame(g.rng, &conn, &real);
                g.fault(kind);
                g.push(&frame);
            }
            if let Some(prev) = last.as_ref().filter(|_| g.rng.chance(0.1)) {
                g.fault("repeated frame");
                let frame = json!({"ws": conn, "dir": "s2c", "json": prev});
                g.push(&frame);
            }
            let n = g.rng.range(1, 3);
            let events: Vec<Value> = (0..n).map(|_| g.new_event()).collect();
            let frame = g.frame(&conn, &events);
            last = Some(frame["json"].clone());
            g.push(&frame);
        }
        if s == sessions {
            g.push(&json!({"ws_close": conn, "by": "client"}));
            g.push(
                &json!({"http": {"method": "POST", "path": format!("/chats/leave/{ROOM}")},
                "response": {"json": "ok"}}),
            );
            break;
        }
        let end = ConnectionEnd::pick(g.rng);
        // The events of a frame cut in half never arrive live: only the gap fill has them.
        let cut = matches!(end, ConnectionEnd::DropMidFrame).then(|| {
            let n = g.rng.range(1, 3);
            let events: Vec<Value> = (0..n).map(|_| g.new_event()).collect();
            g.frame(&conn, &events)["json"].clone()
        });
        let (kind, step) = end.step(&conn, cut.as_ref());
        g.fault(kind);
        g.push(&step);
        for _ in 0..g.rng.range(0, 6) {
            g.new_event();
        }
    }
    if slow_consumer {
        g.fault("slow consumer");
    }
    Session {
        fixture: g.out,
        posted: g.posted.iter().map(|e| e["id"].to_string()).collect(),
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
    let target = Server::stack_exchange().local(server.http_base(), server.ws_base());
    let builder = ChatClient::builder(&target)
        .timing(
            Timing::default()
                .silence_timeout(Duration::from_millis(500))
                .refresh_every(None)
                .connect_timeout(Duration::from_millis(600))
                .request_timeout(Duration::from_millis(600)),
        )
        .rate_limit(
            RateLimitPolicy::default()
                .second(Duration::from_millis(5))
                .margin(Duration::ZERO),
        )
        .reconnect(
            ReconnectPolicy::default()
                .initial(Duration::from_millis(1))
                .max(Duration::from_millis(20)),
        )
        .jitter_seed(seed);
    let joined = async {
        let creds = Credentials::authenticate_with(EMAIL, PASSWORD, &builder.clone().build())
            .await
            .map_err(|e| format!("login failed: {e}"))?;
        let room = builder.credentials(&creds).build().room(ROOM);
        let events = room
            .connect()
            .await
            .map_err(|e| format!("join failed: {e}"))?;
        Ok::<_, String>((room, events))
    };
    let (room, events) = match joined.await {
        Ok(j) => j,
        Err(e) => {
            let _ = server.finish().await;
            return Outcome {
                failures: vec![e],
                ..Outcome::default()
            };
        }
    };
    let collector = super::collect(events, session.slow_consumer, |item| match item {
        Ok(Event::MessagePosted(m)) => {
            Seen::Message(m.id.map_or_else(String::new, |i| i.to_string()))
        }
        Ok(Event::Reconnecting(_)) => Seen::Lost,
        Ok(Event::Connected(c)) if c.reconnect > 0 => Seen::Recovered,
        Ok(Event::Disconnected(d)) if d.reason != "closed by the client" => Seen::Stopped(d.reason),
        Ok(_) => Seen::Other,
        Err(_) => Seen::Error,
    });
    super::finish(&server, collector, async {
        let _ = room.close().await;
    })
    .await
}
