//! One socket's life: frames in, commands in, keepalive, live-status polls, the closing
//! handshake, and delivery (recent-chat routing, the gap-fill floor, deduplication).

use crate::proto::session::Outcome;
use chatwire_net::ws::{self, Incoming};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Error;
use crate::http::Api;
use crate::proto::{self, decode};

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

    /// Handles one server frame through the sans-I/O session and applies what it asks;
    /// `Some` ends the session.
    pub(super) async fn on_frame(&mut self, text: &str) -> Option<End> {
        let mut outcomes = std::mem::take(&mut self.outcomes);
        let chat = self.chat_channel_id.as_deref().unwrap_or_default();
        self.session
            .on_frame_into(&self.config.channel_id, chat, text, &mut outcomes);
        for outcome in outcomes.drain(..) {
            match outcome {
                Outcome::Emit(item) => {
                    self.emit(item);
                    // The stream's receiver spends one unit of tokio's cooperative budget per
                    // item; spend one per item sent too, so that while frames keep arriving
                    // this task yields as often as the consumer does and the unbounded
                    // stream cannot run ahead of it (on one thread it grew by gigabytes).
                    tokio::task::coop::consume_budget().await;
                }
                Outcome::Write(frame) => {
                    if self.write(frame).await.is_err() {
                        return Some(End::Retry("connection lost while answering a ping".into()));
                    }
                }
                Outcome::Reply(reply, result) => {
                    let _ = reply.send(result);
                }
                Outcome::SessionEnded => return Some(End::SessionEnded),
            }
        }
        self.outcomes = outcomes;
        None
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
