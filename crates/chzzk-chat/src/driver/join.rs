//! Joining: the access token, the chat channel lookup, the socket and its CONNECT, and the
//! writes the session makes (chat lines, recent-chat requests).

use std::collections::BTreeMap;

use chatwire_net::ws::{self, Incoming};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::Error;
use crate::event::Event;
use crate::http::ORIGIN;
use crate::model::{Auth, Connected, RecentChat};
use crate::proto::{self, Inbound, decode};

use super::{End, Task};

impl Task {
    /// Resolves the chat channel, token and user id as needed, opens the socket and joins.
    pub(super) async fn join(&mut self, attempt: u32) -> Result<(), Error> {
        let channel_id = self.config.channel_id.clone();
        if self.chat_channel_id.is_none() || self.stale_chat {
            let content = self.api().live_status(&channel_id).await?;
            if content.is_null() {
                return Err(Error::ChannelNotFound { channel_id });
            }
            let status = decode::live_status(&content);
            match status.chat_channel_id.clone() {
                Some(chat) => {
                    self.note_broadcast(&status, Some(chat));
                    if std::mem::take(&mut self.stale_chat) {
                        self.token = None;
                    }
                }
                None if status.adult && status.user_adult_status.as_deref() != Some("ADULT") => {
                    return Err(Error::AdultRestricted { channel_id });
                }
                None => {
                    self.live_state = Some(status.status.clone());
                    return Err(Error::ChannelOffline { channel_id });
                }
            }
        }
        let chat = self.chat_channel_id.clone().unwrap_or_default();
        if self.relogin {
            self.relogin = false;
            self.token = None;
            self.uid = None;
        }
        let logged_in = self.api_credentials().is_some();
        if logged_in && self.uid.is_none() {
            let user = decode::user(&self.api().user_status().await?);
            match user.user_id_hash {
                Some(uid) if user.logged_in => self.uid = Some(uid),
                _ => {
                    return Err(Error::LoginRequired {
                        action: "joining in send mode (the cookies are expired or invalid)",
                    });
                }
            }
        }
        if self.token.is_none() {
            let content = self.api().access_token(&chat).await?;
            self.token = Some(decode::access_token(&content).ok_or_else(|| {
                // The answer holds tokens: keep its shape (the keys), never its values.
                let keys = content
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                Error::decode(
                    "the access token",
                    "no accessToken",
                    &format!("<redacted; keys: {keys}>"),
                )
            })?);
        }
        let url = self.config.endpoints.chat_url(&chat, attempt);
        let mut ws = ws::connect(
            &url,
            &[("user-agent", &self.config.user_agent), ("origin", ORIGIN)],
            self.config.timing.connect_timeout,
        )
        .await?;
        let tid = self.next_tid();
        let token = self
            .token
            .as_ref()
            .map(|t| t.token.clone())
            .unwrap_or_default();
        let frame = proto::connect(
            &chat,
            &token,
            if logged_in { self.uid.as_deref() } else { None },
            tid,
        );
        ws::send_text(&mut ws, frame).await?;
        let mut early = Vec::new();
        let deadline = Instant::now() + self.config.timing.connect_timeout;
        let sid = loop {
            let msg = tokio::time::timeout_at(deadline, ws::recv(&mut ws))
                .await
                .map_err(|_| Error::Timeout {
                    what: "the join answer",
                })?;
            let text = match msg {
                Incoming::Text(t) => t,
                Incoming::Closed { code, reason } => return Err(Error::Closed { code, reason }),
                Incoming::Failed(e) => return Err(e.into()),
                _ => {
                    return Err(Error::Closed {
                        code: None,
                        reason: "the socket closed before the join answer".into(),
                    });
                }
            };
            match proto::parse(&text) {
                Ok(f) if f.cmd == proto::cmd::CONNECTED => {
                    let Inbound::Connected {
                        ret_code,
                        ret_msg,
                        sid,
                    } = proto::inbound(&channel_id, &chat, f)
                    else {
                        continue;
                    };
                    if ret_code != 0 {
                        return Err(Error::ConnectFailed { ret_code, ret_msg });
                    }
                    break sid;
                }
                Ok(f) if f.cmd == proto::cmd::PING => {
                    ws::send_text(&mut ws, proto::pong()).await?;
                }
                _ => early.push(text),
            }
        };
        self.ws = Some(ws);
        self.sid = sid;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        self.session
            .joined_at(i64::try_from(now.as_millis()).unwrap_or(i64::MAX));
        self.set_connected(true);
        let auth = if logged_in { Auth::Send } else { Auth::Read };
        self.emit(Ok(Event::Connected(Connected {
            channel_id,
            chat_channel_id: chat,
            auth,
            rejoin: self.rejoins,
        })));
        if self.rejoins > 0 && self.config.gap_fill > 0 {
            self.request_recent(self.config.gap_fill, None, true).await;
        }
        self.rejoins += 1;
        for text in early {
            if let Some(end) = self.on_frame(&text).await {
                return Err(match end {
                    End::Fatal(e) => e,
                    _ => Error::Closed {
                        code: None,
                        reason: "ended while joining".into(),
                    },
                });
            }
        }
        while let Some((text, emojis, reply)) = self.queued.pop_front() {
            let r = self.write_chat(&text, &emojis).await;
            let _ = reply.send(r);
        }
        Ok(())
    }

    pub(super) async fn write(&mut self, text: String) -> Result<(), Error> {
        let ws = self.ws.as_mut().ok_or(Error::NotConnected)?;
        Ok(ws::send_text(ws, text).await?)
    }

    pub(super) async fn write_chat(
        &mut self,
        text: &str,
        emojis: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        if self.uid.is_none() {
            return Err(Error::LoginRequired {
                action: "send_chat",
            });
        }
        let tid = self.next_tid();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let chat = self.chat_channel_id.clone().unwrap_or_default();
        let sid = self.sid.clone().unwrap_or_default();
        let extra = self.token.as_ref().and_then(|t| t.extra_token.clone());
        let frame = proto::send_chat(&proto::Outgoing {
            chat_channel_id: &chat,
            sid: &sid,
            channel_id: &self.config.channel_id,
            extra_token: extra.as_deref(),
            text,
            emojis,
            msg_time_ms: i64::try_from(now.as_millis()).unwrap_or(i64::MAX),
            tid,
        });
        self.write(frame).await
    }

    pub(super) async fn request_recent(
        &mut self,
        count: u32,
        reply: Option<oneshot::Sender<Result<RecentChat, Error>>>,
        gap_fill: bool,
    ) {
        let tid = self.next_tid();
        let chat = self.chat_channel_id.clone().unwrap_or_default();
        let sid = self.sid.clone().unwrap_or_default();
        match self
            .write(proto::request_recent_chat(&chat, &sid, count, tid))
            .await
        {
            Ok(()) => self.session.expect_recent(tid, reply, gap_fill),
            Err(e) => {
                if let Some(r) = reply {
                    let _ = r.send(Err(e));
                }
            }
        }
    }
}
