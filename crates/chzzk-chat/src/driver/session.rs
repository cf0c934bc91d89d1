//! One socket's life: frames in, commands in, keepalive, live-status polls, the closing
//! handshake, and delivery (recent-chat routing, the gap-fill floor, deduplication).

use crate::model::UserIdHash;
use chatwire_net::ws::{self, Incoming};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Error;
use crate::event::Event;
use crate::http::Api;
use crate::model::Origin;
use crate::proto::{self, Inbound, decode};

use super::{End, Task};
use crate::client::Command;

impl Task {
    /// One joined session: frames, commands, keepalive and live-status polling.
    pub(super) async fn session(&mut self) -> End {
        let timing = self.config.timing.clone();
        let mut last_inbound = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        // Boxed: the channel allocates room for 32 items up front (see `Item`).
        let (poll_tx, mut poll_rx) = mpsc::unbounded_channel::<Box<Result<Value, Error>>>();
        let mut polling = false;
        loop {
            let keepalive = match ping_sent {
                Some(at) => at + timing.pong_timeout,
                None => last_inbound + timing.ping_after,
            };
            let next_poll = timing.live_poll.map(|every| self.last_poll + every);
            let Some(ws) = self.ws.as_mut() else {
                return End::Retry("no socket".into());
            };
            tokio::select! {
                msg = ws::recv(ws) => {
                    last_inbound = Instant::now();
                    ping_sent = None;
                    let text = match msg {
                        Incoming::Text(t) => t,
                        Incoming::Closed { code, .. } => {
                            return End::Retry(format!("the server closed the connection (code {})", code.map_or_else(|| "none".into(), |c| c.to_string())));
                        }
                        Incoming::Failed(e) => {
                            tracing::debug!(error = %e, "chat socket failed");
                            return End::Retry("connection lost".into());
                        }
                        _ => return End::Retry("connection lost".into()),
                    };
                    if let Some(end) = self.on_frame(&text).await {
                        return end;
                    }
                }
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else { return self.close_handshake().await };
                    if let Some(end) = self.on_command(cmd).await {
                        return end;
                    }
                }
                () = tokio::time::sleep_until(keepalive) => {
                    if ping_sent.is_some() {
                        return End::Retry("no answer to our ping".into());
                    }
                    if self.write(proto::ping()).await.is_err() {
                        return End::Retry("connection lost while pinging".into());
                    }
                    ping_sent = Some(Instant::now());
                }
                () = sleep_until_opt(next_poll), if !polling => {
                    polling = true;
                    self.last_poll = Instant::now();
                    let api = Api { endpoints: &self.config.endpoints, credentials: self.api_credentials(), user_agent: &self.config.user_agent, timeout: timing.request_timeout };
                    let fut = {
                        let endpoints = api.endpoints.clone();
                        let credentials = api.credentials.clone();
                        let ua = api.user_agent.to_owned();
                        let channel = self.config.channel_id.clone();
                        let tx = poll_tx.clone();
                        async move {
                            let api = Api { endpoints: &endpoints, credentials, user_agent: &ua, timeout: timing.request_timeout };
                            let _ = tx.send(Box::new(api.live_status(&channel).await));
                        }
                    };
                    tokio::spawn(fut);
                }
                Some(result) = poll_rx.recv() => {
                    polling = false;
                    match *result {
                        Ok(content) if !content.is_null() => {
                            let status = decode::live_status(&content);
                            if self.note_broadcast(&status, status.chat_channel_id.clone()) {
                                self.close_quietly().await;
                                return End::Rejoin;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "live status poll failed"),
                    }
                }
            }
        }
    }

    pub(super) async fn close_quietly(&mut self) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = tokio::time::timeout(self.config.timing.close_timeout, ws.close(None)).await;
        }
    }

    pub(super) async fn on_command(&mut self, cmd: Command) -> Option<End> {
        match cmd {
            Command::Send {
                text,
                emojis,
                reply,
            } => {
                let r = self.write_chat(&text, &emojis).await;
                let lost = matches!(r, Err(Error::Transport { .. }));
                let _ = reply.send(r);
                if lost {
                    return Some(End::Retry("connection lost while sending".into()));
                }
            }
            Command::RecentChat { count, reply } => self.request_recent(count, reply, false).await,
            Command::Relogin => {
                self.relogin = true;
                self.close_quietly().await;
                return Some(End::Rejoin);
            }
            Command::Close { reply } => {
                let end = self.close_handshake().await;
                let _ = reply.send(());
                return Some(end);
            }
        }
        None
    }

    /// Sends a close frame and keeps reading (and delivering) until the server's close, so
    /// nothing the server sent before it is lost.
    pub(super) async fn close_handshake(&mut self) -> End {
        let Some(ws) = self.ws.as_mut() else {
            return End::Closed;
        };
        ws::start_close(ws).await;
        let deadline = Instant::now() + self.config.timing.close_timeout;
        // A session end the server sent before our close still counts.
        let mut end = End::Closed;
        loop {
            let Some(ws) = self.ws.as_mut() else {
                return end;
            };
            let Ok(Incoming::Text(text)) = tokio::time::timeout_at(deadline, ws::recv(ws)).await
            else {
                return end;
            };
            if let Some(End::SessionEnded) = self.on_frame(&text).await {
                end = End::SessionEnded;
            }
        }
    }

    /// Handles one server frame; `Some` ends the session.
    pub(super) async fn on_frame(&mut self, text: &str) -> Option<End> {
        let frame = match proto::parse(text) {
            Ok(f) => f,
            Err(why) => {
                self.emit(Err(Error::decode("a chat frame", why, text)));
                return None;
            }
        };
        let chat = self.chat_channel_id.clone().unwrap_or_default();
        match proto::inbound(&self.config.channel_id, &chat, frame) {
            Inbound::Ping => {
                if self.write(proto::pong()).await.is_err() {
                    return Some(End::Retry("connection lost while answering a ping".into()));
                }
            }
            Inbound::Pong | Inbound::Connected { .. } => {}
            Inbound::SessionEnded => return Some(End::SessionEnded),
            Inbound::RecentChat {
                tid,
                ret_code,
                ret_msg,
                bdy,
            } => self.on_recent_chat(tid.as_deref(), ret_code, ret_msg, &bdy),
            Inbound::Events(events) => {
                for item in events {
                    match item {
                        Ok(event) => self.deliver_live(event),
                        Err((line, why)) => {
                            self.emit(Err(Error::decode("a chat line", why, &line.to_string())));
                        }
                    }
                    // The stream's receiver spends one unit of tokio's cooperative budget per
                    // item; spend one per item sent too, so that while frames keep arriving
                    // this task yields as often as the consumer does and the unbounded
                    // stream cannot run ahead of it (on one thread it grew by gigabytes).
                    tokio::task::coop::consume_budget().await;
                }
            }
        }
        None
    }

    /// Delivers a pushed event once: lines already delivered (same author and time) are
    /// dropped.
    pub(super) fn deliver_live(&mut self, event: Event) {
        if let Some((user, time)) = line_key(&event) {
            if !self.seen.insert((user, time)) {
                return;
            }
            self.floor_ms = Some(self.floor_ms.map_or(time, |f| f.min(time)));
        }
        self.emit(Ok(event));
    }

    pub(super) fn on_recent_chat(
        &mut self,
        tid: Option<&str>,
        ret_code: i64,
        ret_msg: String,
        bdy: &Value,
    ) {
        let idx = tid
            .and_then(|t| t.parse::<u64>().ok())
            .and_then(|t| self.pending_recent.iter().position(|p| p.tid == t))
            .or_else(|| (!self.pending_recent.is_empty()).then_some(0));
        let pending = idx.and_then(|i| self.pending_recent.remove(i));
        if ret_code != 0 {
            let err = Error::RecentChatFailed { ret_code, ret_msg };
            match pending.and_then(|p| p.reply) {
                Some(r) => {
                    let _ = r.send(Err(err));
                }
                None => self.emit(Err(err)),
            }
            return;
        }
        let (recent, bad) = decode::recent_chat(&self.config.channel_id, bdy);
        for (line, why) in bad {
            self.emit(Err(Error::decode(
                "a recent chat line",
                why,
                &line.to_string(),
            )));
        }
        if pending.as_ref().is_some_and(|p| p.gap_fill) {
            // Lines sent while we were away: deliver the ones never delivered, oldest first.
            let floor = self.floor_ms.unwrap_or(i64::MIN);
            for line in recent.messages {
                let key = (UserIdHash::from(line.user_id()), line.time_ms());
                if key.1 >= floor && self.seen.insert(key) {
                    self.emit(Ok(proto::line_event(line)));
                }
            }
            return;
        }
        for line in &recent.messages {
            self.seen
                .insert((UserIdHash::from(line.user_id()), line.time_ms()));
        }
        if let Some(r) = pending.and_then(|p| p.reply) {
            let _ = r.send(Ok(recent.clone()));
        }
        self.emit(Ok(Event::RecentChat(recent)));
    }
}

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

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
