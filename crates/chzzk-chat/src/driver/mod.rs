//! The driver: the one task per connected client that owns the socket. It joins (token,
//! chat channel, socket), keeps the connection alive, follows broadcasts, rejoins with backoff,
//! fills gaps from the recent chat and delivers each line once. `join.rs` is the join and the
//! writes, `session.rs` the life of one socket.

mod join;
mod session;

use crate::model::ChatChannelId;
use crate::proto::session::{Outcome, Session};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatwire_net::ws::Ws;
use chatwire_net::{Attached, Backoff, Emitter, Waiters, lock};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::Error;
use crate::config::{Config, Credentials};
use crate::event::Event;
use crate::http::Api;
use crate::model::{
    AccessToken, BroadcastChange, Disconnected, LiveState, LiveStatus, RecentChat, Reconnecting,
    SessionEnded,
};
use crate::proto::decode;
use chatwire_core::Retry;

use crate::client::{Command, Inner, QueuedSend, Shared};

/// Where a `history()` caller gets its answer.
type Reply = oneshot::Sender<Result<RecentChat, Error>>;

/// How a session ended.
enum End {
    /// `close()` or every handle dropped.
    Closed,
    /// Stop and report.
    Fatal(Error),
    /// 90102.
    SessionEnded,
    /// Lost; retry with backoff.
    Retry(String),
    /// New chat channel or new login: rejoin now.
    Rejoin,
}

pub(crate) struct Task {
    config: Config,
    client: std::sync::Weak<Inner>,
    shared: Arc<Mutex<Shared>>,
    tx: Emitter<Event, Error>,
    cmds: mpsc::UnboundedReceiver<Command>,
    ws: Option<Ws>,
    chat_channel_id: Option<ChatChannelId>,
    token: Option<AccessToken>,
    uid: Option<String>,
    sid: Option<String>,
    rejoins: u32,
    backoff: Backoff,
    live_state: Option<LiveState>,
    live_title: Option<String>,
    /// What is delivered, the gap-fill floor and the pending recent-chat requests: the
    /// sans-I/O rules (`proto::session`).
    session: Session<Reply>,
    /// The outcomes of the frame being handled: one buffer reused for every frame.
    outcomes: Vec<Outcome<Reply>>,
    waiters: Waiters<Event>,
    /// Keeps the handle's waits open while this task runs.
    _attached: Attached<Event>,
    queued: VecDeque<QueuedSend>,
    relogin: bool,
    /// The last join was refused: look the chat channel up again before the next one.
    stale_chat: bool,
    last_poll: Instant,
}

impl Task {
    /// A task for the client `inner`, sending to `tx` and reading `cmds`.
    pub(crate) fn new(
        inner: &Arc<Inner>,
        tx: Emitter<Event, Error>,
        cmds: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        Self {
            config: inner.config.clone(),
            client: Arc::downgrade(inner),
            shared: Arc::clone(&inner.shared),
            tx,
            cmds,
            ws: None,
            chat_channel_id: None,
            token: None,
            uid: None,
            sid: None,
            rejoins: 0,
            backoff: Backoff::new(inner.config.reconnect.clone(), inner.config.jitter_seed),
            live_state: None,
            live_title: None,
            session: Session::new(),
            outcomes: Vec::new(),
            waiters: inner.waiters.clone(),
            _attached: inner.waiters.attach(),
            queued: VecDeque::new(),
            relogin: false,
            stale_chat: false,
            last_poll: Instant::now(),
        }
    }
}

impl Task {
    fn api_credentials(&self) -> Option<Credentials> {
        self.client.upgrade().and_then(|i| {
            i.credentials
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    fn api(&self) -> Api<'_> {
        Api {
            endpoints: &self.config.endpoints,
            credentials: self.api_credentials(),
            user_agent: &self.config.user_agent,
            timeout: self.config.timing.request_timeout,
        }
    }

    fn next_tid(&mut self) -> u64 {
        self.session.next_tid()
    }

    fn emit(&mut self, item: Result<Event, Error>) {
        if let Ok(event) = &item {
            self.waiters.notify(event);
        }
        self.tx.emit(item);
    }

    fn set_connected(&self, connected: bool) {
        let mut s = lock(&self.shared);
        s.connected = connected;
        s.chat_channel_id.clone_from(&self.chat_channel_id);
    }

    pub(crate) async fn run(mut self, first: oneshot::Sender<Result<(), Error>>) {
        let mut first = Some(first);
        let end_reason = loop {
            match self.join(self.backoff.attempts()).await {
                Ok(()) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                    self.backoff.reset();
                }
                Err(Error::ChannelOffline { .. })
                    if self.config.wait_for_live || first.is_none() =>
                {
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                    match self.wait_for_broadcast().await {
                        Ok(()) => continue,
                        Err(end) => break self.finish(end),
                    }
                }
                Err(e) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Err(e));
                        return self.fail_pending();
                    }
                    // A join has worked before, so most failures are passing: a refused
                    // rejoin (the broadcast may have restarted on a new chat channel), an error
                    // page from a gateway, a close during the handshake.
                    let retry = e.retry();
                    if retry == Retry::Never {
                        break self.finish(End::Fatal(e));
                    }
                    let moved = |code: &i64| (302..=304).contains(code);
                    if matches!(&e, Error::ConnectFailed { ret_code, .. } if !moved(ret_code)) {
                        self.stale_chat = true;
                    }
                    match self.backoff(e.to_string(), retry.after()).await {
                        Ok(()) => continue,
                        Err(end) => break self.finish(end),
                    }
                }
            }
            let end = self.session().await;
            self.ws = None;
            self.sid = None;
            self.set_connected(false);
            match end {
                End::Rejoin => {}
                End::Retry(reason) => {
                    if let Err(end) = self.backoff(reason, None).await {
                        break self.finish(end);
                    }
                }
                other => break self.finish(other),
            }
        };
        self.emit(Ok(Event::Disconnected(Disconnected {
            channel_id: self.config.channel_id.clone(),
            reason: end_reason,
        })));
        self.fail_pending();
    }

    /// Reports how the client ended and returns the reason text.
    fn finish(&mut self, end: End) -> String {
        match end {
            End::Closed => "closed by the client".into(),
            End::SessionEnded => {
                let chat = self.chat_channel_id.clone().unwrap_or_default();
                self.emit(Ok(Event::SessionEnded(SessionEnded {
                    channel_id: self.config.channel_id.clone(),
                    chat_channel_id: chat,
                })));
                "the server ended the session".into()
            }
            End::Fatal(e) => {
                let reason = e.to_string();
                self.emit(Err(e));
                reason
            }
            End::Retry(reason) => reason,
            End::Rejoin => "rejoin".into(),
        }
    }

    fn fail_pending(&mut self) {
        for (_, _, reply) in self.queued.drain(..) {
            let _ = reply.send(Err(Error::Closed {
                code: None,
                reason: "the client stopped".into(),
            }));
        }
        for r in self.session.abandon() {
            let _ = r.send(Err(Error::Closed {
                code: None,
                reason: "the client stopped".into(),
            }));
        }
        self.set_connected(false);
    }

    /// Waits before a retry, still serving commands. `Err` ends the client.
    async fn backoff(&mut self, reason: String, at_least: Option<Duration>) -> Result<(), End> {
        let Some((attempt, delay)) = self.backoff.next_delay() else {
            return Err(End::Fatal(Error::Closed {
                code: None,
                reason: format!(
                    "gave up after {} attempts: {reason}",
                    self.backoff.attempts() - 1
                ),
            }));
        };
        let delay = delay.max(at_least.unwrap_or_default());
        self.emit(Ok(Event::Reconnecting(Reconnecting {
            channel_id: self.config.channel_id.clone(),
            attempt,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason,
        })));
        let deadline = Instant::now() + delay;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return Ok(()),
                cmd = self.cmds.recv() => match cmd {
                    None | Some(Command::Close { .. }) => return Err(End::Closed),
                    Some(cmd) => self.offline_command(cmd),
                },
            }
        }
    }

    /// Commands while not joined.
    fn offline_command(&mut self, cmd: Command) {
        match cmd {
            Command::Send {
                text,
                emojis,
                reply,
            } if self.queued.len() < 100 => self.queued.push_back((text, emojis, reply)),
            Command::Send { reply, .. } => {
                let _ = reply.send(Err(Error::NotConnected));
            }
            Command::RecentChat { reply, .. } => {
                if let Some(r) = reply {
                    let _ = r.send(Err(Error::NotConnected));
                }
            }
            Command::Relogin => self.relogin = true,
            Command::Close { .. } => {}
        }
    }

    /// Polls the live status until the channel has a chat channel again.
    async fn wait_for_broadcast(&mut self) -> Result<(), End> {
        let every = self
            .config
            .timing
            .live_poll
            .unwrap_or(Duration::from_secs(30));
        loop {
            let deadline = Instant::now() + every;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    cmd = self.cmds.recv() => match cmd {
                        None | Some(Command::Close { .. }) => return Err(End::Closed),
                        Some(cmd) => self.offline_command(cmd),
                    },
                }
            }
            match self.api().live_status(&self.config.channel_id).await {
                Ok(content) if !content.is_null() => {
                    let status = decode::live_status(&content);
                    if let Some(chat) = status.chat_channel_id.clone() {
                        self.note_broadcast(&status, Some(chat));
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) if e.retry() != Retry::Never => {
                    tracing::warn!(error = %e, "live status poll failed");
                }
                Err(e) => return Err(End::Fatal(e)),
            }
        }
    }

    /// Emits broadcast events for a live status; switches chat channel when it changed.
    /// Returns true when the chat channel changed.
    fn note_broadcast(&mut self, status: &LiveStatus, new_chat: Option<ChatChannelId>) -> bool {
        let change = BroadcastChange {
            channel_id: self.config.channel_id.clone(),
            old_chat_channel_id: self.chat_channel_id.clone(),
            new_chat_channel_id: new_chat.clone().or_else(|| self.chat_channel_id.clone()),
            live_title: status.live_title.clone(),
        };
        if self
            .live_state
            .as_ref()
            .is_some_and(|old| *old != status.status)
        {
            match status.status {
                LiveState::Open => self.emit(Ok(Event::BroadcastOpened(change.clone()))),
                LiveState::Close => self.emit(Ok(Event::BroadcastClosed(change.clone()))),
                LiveState::Other(_) => {}
            }
        }
        self.live_state = Some(status.status.clone());
        self.live_title.clone_from(&status.live_title);
        match new_chat {
            Some(new) if self.chat_channel_id.as_ref() != Some(&new) => {
                if self.chat_channel_id.is_some() {
                    self.emit(Ok(Event::ChatChannelChanged(BroadcastChange {
                        new_chat_channel_id: Some(new.clone()),
                        ..change
                    })));
                }
                self.chat_channel_id = Some(new);
                self.token = None;
                true
            }
            _ => false,
        }
    }
}
