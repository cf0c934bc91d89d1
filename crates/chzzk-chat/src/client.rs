//! [`ChatClient`]: the clonable handle, its commands and REST calls, and the background task
//! that owns the socket, the keepalive, reconnects, broadcast following and gap filling.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chatwire_net::ws::{self, Incoming, Ws};
use chatwire_net::{Attached, Backoff, DedupWindow, Emitter, Waiters, lock};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::{ClientBuilder, Config, Credentials};
use crate::event::{Context, Dispatcher, Event, Handler};
use crate::http::Api;
use crate::http::ORIGIN;
use crate::model::{
    AccessToken, Auth, BroadcastChange, Connected, Disconnected, LiveDetail, LiveState, LiveStatus,
    Message, Origin, PartialUser, ProfileCard, RecentChat, Reconnecting, SessionEnded, User,
};
use crate::proto::{self, Inbound, decode};
use crate::{Error, ManageClient};
use chatwire_core::Retry;

type QueuedSend = (
    String,
    BTreeMap<String, String>,
    oneshot::Sender<Result<(), Error>>,
);

enum Command {
    Send {
        text: String,
        emojis: BTreeMap<String, String>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    RecentChat {
        count: u32,
        reply: Option<oneshot::Sender<Result<RecentChat, Error>>>,
    },
    Relogin,
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// What the task shares with the handles.
#[derive(Debug, Default)]
struct Shared {
    chat_channel_id: Option<String>,
    connected: bool,
}

struct Inner {
    config: Config,
    credentials: RwLock<Option<Credentials>>,
    commands: Mutex<Option<mpsc::UnboundedSender<Command>>>,
    shared: Arc<Mutex<Shared>>,
    waiters: Waiters<Event>,
}

/// A Chzzk chat client for one channel: a cheap, clonable handle.
///
/// ```no_run
/// # async fn run() -> Result<(), chzzk_chat::Error> {
/// use chzzk_chat::{ChatClient, Event};
///
/// let client = ChatClient::new("5f1e2d3c4b5a69788796a5b4c3d2e1f0");
/// let mut events = client.connect().await?;
/// while let Some(event) = events.next().await {
///     match event {
///         Ok(Event::Chat(m)) => println!("{}: {}", m.nickname().unwrap_or("?"), m.content),
///         Ok(Event::Donation(d)) => println!("{:?} cheese: {}", d.extras.pay_amount, d.content),
///         Ok(_) => {}
///         Err(e) => eprintln!("{e}"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ChatClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("channel_id", &self.inner.config.channel_id)
            .field("logged_in", &self.is_logged_in())
            .field("connected", &lock(&self.inner.shared).connected)
            .finish_non_exhaustive()
    }
}

/// The events of a connected client, in arrival order.
///
/// Per-frame errors are yielded as `Err` and the stream goes on; it ends after
/// [`Event::Disconnected`] (a clean close, or a fatal error yielded just before). Consume it
/// promptly: it is unbounded so a slow consumer never stalls the keepalive.
pub type Events = chatwire_net::Events<Event, Error>;

impl ChatClient {
    /// A client for `channel_id` (the 32-hex id in `chzzk.naver.com/live/<id>`) with the
    /// defaults: anonymous, production endpoints.
    pub fn new(channel_id: impl Into<String>) -> Self {
        Self::builder(channel_id).build()
    }

    /// A builder for `channel_id`.
    pub fn builder(channel_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(channel_id)
    }

    pub(crate) fn from_config(mut config: Config) -> Self {
        let credentials = config.credentials.take();
        Self {
            inner: Arc::new(Inner {
                config,
                credentials: RwLock::new(credentials),
                commands: Mutex::new(None),
                waiters: Waiters::new(),
                shared: Arc::new(Mutex::new(Shared::default())),
            }),
        }
    }

    /// The streamer's channel id.
    pub fn channel_id(&self) -> &str {
        &self.inner.config.channel_id
    }

    /// The chat channel of the current session, once connected.
    pub fn chat_channel_id(&self) -> Option<String> {
        lock(&self.inner.shared).chat_channel_id.clone()
    }

    /// Whether the client has login cookies.
    pub fn is_logged_in(&self) -> bool {
        self.credentials().is_some()
    }

    /// Whether the socket is joined right now (false while reconnecting).
    pub fn is_connected(&self) -> bool {
        lock(&self.inner.shared).connected
    }

    fn credentials(&self) -> Option<Credentials> {
        self.inner
            .credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Logs in (or switches account). When connected, the client rejoins in send mode.
    pub fn login(&self, credentials: Credentials) {
        *self
            .inner
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(credentials);
        let _ = self.command(Command::Relogin);
    }

    pub(crate) fn api(&self) -> Api<'_> {
        Api {
            endpoints: &self.inner.config.endpoints,
            credentials: self.credentials(),
            user_agent: &self.inner.config.user_agent,
            timeout: self.inner.config.timing.request_timeout,
        }
    }

    fn command(&self, cmd: Command) -> Result<(), Error> {
        let guard = lock(&self.inner.commands);
        let tx = guard.as_ref().ok_or(Error::NotConnected)?;
        tx.send(cmd).map_err(|_| Error::NotConnected)
    }

    /// Joins the chat and returns its events. The first join happens before this returns, so
    /// its errors (channel not found, offline, 19+, refused) come back here; later losses are
    /// retried inside and reported as [`Event::Reconnecting`]. Once a join has worked, every
    /// failure is retried with backoff (a refused rejoin also looks the chat channel up again)
    /// except those waiting cannot heal: the channel gone, 19+, expired login cookies.
    ///
    /// # Errors
    /// When the first join fails, or the client is already connected.
    pub async fn connect(&self) -> Result<Events, Error> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        {
            let mut guard = lock(&self.inner.commands);
            if guard.as_ref().is_some_and(|tx| !tx.is_closed()) {
                return Err(Error::InvalidInput(
                    "already connected; close() first".into(),
                ));
            }
            *guard = Some(cmd_tx);
        }
        let (tx, rx) = chatwire_net::channel();
        let (first_tx, first_rx) = oneshot::channel();
        let backoff = Backoff::new(
            self.inner.config.reconnect.clone(),
            self.inner.config.jitter_seed,
        );
        let task = Task {
            config: self.inner.config.clone(),
            client: Arc::downgrade(&self.inner),
            shared: Arc::clone(&self.inner.shared),
            tx,
            cmds: cmd_rx,
            ws: None,
            chat_channel_id: None,
            token: None,
            uid: None,
            sid: None,
            tid: 0,
            rejoins: 0,
            backoff,
            live_state: None,
            live_title: None,
            seen: DedupWindow::default(),
            floor_ms: None,
            pending_recent: VecDeque::new(),
            waiters: self.inner.waiters.clone(),
            _attached: self.inner.waiters.attach(),
            queued: VecDeque::new(),
            relogin: false,
            stale_chat: false,
            last_poll: Instant::now(),
        };
        tokio::spawn(task.run(first_tx));
        match first_rx.await {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed {
                code: None,
                reason: "the client task ended".into(),
            }),
        }
    }

    /// Connects and runs `handler` on every event, one at a time, until the client stops.
    ///
    /// # Errors
    /// When the first join fails, or with the fatal error that stopped the client.
    pub async fn run<H: Handler>(&self, handler: H) -> Result<(), Error> {
        let events = self.connect().await?;
        let ctx = Context {
            client: self.clone(),
        };
        events
            .drive(&Dispatcher {
                ctx: &ctx,
                handler: &handler,
            })
            .await
    }

    /// Sends a chat line (needs a login).
    ///
    /// While the client is reconnecting, the line is queued and sent after the rejoin, in
    /// order; the future resolves when it is written.
    ///
    /// # Errors
    /// [`Error::LoginRequired`], [`Error::InvalidInput`] for empty text, [`Error::NotConnected`],
    /// or [`Error::Closed`] when the client stops first.
    pub async fn send(&self, text: impl Into<String>) -> Result<(), Error> {
        self.send_with_emojis(text, BTreeMap::new()).await
    }

    /// Sends a chat line with emoticons: write them as `{:name:}` in `text` and map each name
    /// to its image URL in `emojis`.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_with_emojis(
        &self,
        text: impl Into<String>,
        emojis: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(Error::InvalidInput("a chat line cannot be empty".into()));
        }
        if !self.is_logged_in() {
            return Err(Error::LoginRequired {
                action: "send_chat",
            });
        }
        let (reply, rx) = oneshot::channel();
        self.command(Command::Send {
            text,
            emojis,
            reply,
        })?;
        rx.await.unwrap_or(Err(Error::Closed {
            code: None,
            reason: "the client stopped".into(),
        }))
    }

    /// Asks for the last `count` lines; the answer arrives as [`Event::RecentChat`].
    ///
    /// # Errors
    /// [`Error::NotConnected`].
    pub fn request_recent_chat(&self, count: u32) -> Result<(), Error> {
        self.command(Command::RecentChat { count, reply: None })
    }

    /// Asks for the last `count` lines and waits for the answer (bounded by
    /// [`Timing::history_timeout`](crate::Timing)).
    ///
    /// # Errors
    /// [`Error::NotConnected`], [`Error::Timeout`], [`Error::RecentChatFailed`].
    pub async fn history(&self, count: u32) -> Result<RecentChat, Error> {
        let (reply, rx) = oneshot::channel();
        self.command(Command::RecentChat {
            count,
            reply: Some(reply),
        })?;
        match tokio::time::timeout(self.inner.config.timing.history_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Closed {
                code: None,
                reason: "the client stopped".into(),
            }),
            Err(_) => Err(Error::Timeout {
                what: "the recent-chat answer",
            }),
        }
    }

    chatwire_net::wait_methods!(
        waiters: |client| client.inner.waiters,
        event: Event,
        error: Error,
    );

    /// Leaves the chat: a closing handshake that still delivers every frame the server sent
    /// before it, then [`Event::Disconnected`] and the end of the stream. Returns when the
    /// client has stopped.
    ///
    /// # Errors
    /// [`Error::NotConnected`] when it was not connected.
    pub async fn close(&self) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.command(Command::Close { reply })?;
        let _ = rx.await;
        Ok(())
    }

    /// The live status of `channel_id` (this client's channel when `None`); `None` when the
    /// channel has no status at all.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn live_status(&self, channel_id: Option<&str>) -> Result<Option<LiveStatus>, Error> {
        let content = self
            .api()
            .live_status(channel_id.unwrap_or(self.channel_id()))
            .await?;
        Ok((!content.is_null()).then(|| decode::live_status(&content)))
    }

    /// The live detail of `channel_id` (this client's channel when `None`). Works without a
    /// login (chzzkpy needlessly requires one); 19+ details need an adult login.
    ///
    /// # Errors
    /// HTTP and network errors.
    pub async fn live_detail(&self, channel_id: Option<&str>) -> Result<Option<LiveDetail>, Error> {
        let content = self
            .api()
            .live_detail(channel_id.unwrap_or(self.channel_id()))
            .await?;
        Ok((!content.is_null()).then(|| decode::live_detail(&content)))
    }

    /// The logged-in user.
    ///
    /// # Errors
    /// [`Error::LoginRequired`], HTTP and network errors.
    pub async fn user_status(&self) -> Result<User, Error> {
        Ok(decode::user(&self.api().user_status().await?))
    }

    async fn current_chat_channel(&self) -> Result<String, Error> {
        if let Some(c) = self.chat_channel_id() {
            return Ok(c);
        }
        let status = self
            .live_status(None)
            .await?
            .ok_or_else(|| Error::ChannelNotFound {
                channel_id: self.channel_id().into(),
            })?;
        status.chat_channel_id.ok_or_else(|| Error::ChannelOffline {
            channel_id: self.channel_id().into(),
        })
    }

    /// A user's profile card in this channel (badges, role, follow date).
    ///
    /// # Errors
    /// [`Error::LoginRequired`], HTTP and network errors, [`Error::Decode`].
    pub async fn profile_card(&self, user_id_hash: &str) -> Result<ProfileCard, Error> {
        let chat = self.current_chat_channel().await?;
        let content = self.api().profile_card(&chat, user_id_hash).await?;
        decode::profile_card(&content)
            .ok_or_else(|| Error::decode("a profile card", "no userIdHash", &content.to_string()))
    }

    /// Pins a line (streamer or manager).
    ///
    /// # Errors
    /// [`Error::LoginRequired`], HTTP and network errors.
    pub async fn pin<E>(&self, message: &Message<E>) -> Result<(), Error> {
        let extras = match message.raw().get("extras") {
            Some(Value::String(s)) => s.clone(),
            Some(v) if v.is_object() => v.to_string(),
            _ => "{}".into(),
        };
        let body = json!({
            "channelId": message.chat_channel_id, "chatType": "STREAMING", "extras": extras,
            "message": message.content, "messageTime": message.time_ms, "messageUserIdHash": message.user_id,
            "streamingChannelId": self.channel_id(),
        });
        self.api().set_notice(body).await.map(drop)
    }

    /// Removes the pin of the current chat channel.
    ///
    /// # Errors
    /// [`Error::LoginRequired`], HTTP and network errors.
    pub async fn unpin(&self) -> Result<(), Error> {
        let chat = self.current_chat_channel().await?;
        self.api().delete_notice(&chat).await.map(drop)
    }

    /// Hides a line (streamer or manager); the server then pushes an [`Event::Blind`].
    ///
    /// # Errors
    /// [`Error::LoginRequired`], HTTP and network errors.
    pub async fn blind<E>(&self, message: &Message<E>) -> Result<(), Error> {
        let body = json!({
            "channelId": message.chat_channel_id, "chatType": "STREAMING", "message": message.content,
            "messageTime": message.time_ms, "messageUserIdHash": message.user_id,
            "streamingChannelId": self.channel_id(),
        });
        self.api().blind(body).await.map(drop)
    }

    /// Times a user out for a short while (30 s on the wire).
    ///
    /// # Errors
    /// [`Error::LoginRequired`], HTTP and network errors.
    pub async fn temporary_restrict(
        &self,
        user_id_hash: &str,
    ) -> Result<Option<PartialUser>, Error> {
        let chat = self.current_chat_channel().await?;
        let body = json!({"chatChannelId": chat, "targetId": user_id_hash});
        let content = self
            .api()
            .manage(
                "POST",
                self.channel_id(),
                "/temporary-restrict-users",
                Some(body),
            )
            .await?;
        Ok(decode::partial_user(&content))
    }

    /// The management API of `channel_id` (this client's channel when `None`): restrictions,
    /// roles, prohibited words, chat rules, missions, ...
    pub fn manage(&self, channel_id: Option<&str>) -> ManageClient {
        ManageClient::new(
            self.clone(),
            channel_id.unwrap_or(self.channel_id()).to_owned(),
        )
    }

    /// The management API of this client's channel.
    pub fn manage_self(&self) -> ManageClient {
        self.manage(None)
    }
}

struct PendingRecent {
    tid: u64,
    reply: Option<oneshot::Sender<Result<RecentChat, Error>>>,
    gap_fill: bool,
}

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

struct Task {
    config: Config,
    client: std::sync::Weak<Inner>,
    shared: Arc<Mutex<Shared>>,
    tx: Emitter<Event, Error>,
    cmds: mpsc::UnboundedReceiver<Command>,
    ws: Option<Ws>,
    chat_channel_id: Option<String>,
    token: Option<AccessToken>,
    uid: Option<String>,
    sid: Option<String>,
    tid: u64,
    rejoins: u32,
    backoff: Backoff,
    live_state: Option<LiveState>,
    live_title: Option<String>,
    /// (author, time) of delivered lines, to deliver each line once across reconnects.
    seen: DedupWindow<(String, i64)>,
    floor_ms: Option<i64>,
    pending_recent: VecDeque<PendingRecent>,
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
        self.tid += 1;
        self.tid
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

    async fn run(mut self, first: oneshot::Sender<Result<(), Error>>) {
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
        for p in self.pending_recent.drain(..) {
            if let Some(r) = p.reply {
                let _ = r.send(Err(Error::Closed {
                    code: None,
                    reason: "the client stopped".into(),
                }));
            }
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
    fn note_broadcast(&mut self, status: &LiveStatus, new_chat: Option<String>) -> bool {
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
            Some(new) if self.chat_channel_id.as_deref() != Some(new.as_str()) => {
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

    /// Resolves the chat channel, token and user id as needed, opens the socket and joins.
    async fn join(&mut self, attempt: u32) -> Result<(), Error> {
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
        if self.floor_ms.is_none() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            self.floor_ms = Some(i64::try_from(now.as_millis()).unwrap_or(i64::MAX));
        }
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

    async fn write(&mut self, text: String) -> Result<(), Error> {
        let ws = self.ws.as_mut().ok_or(Error::NotConnected)?;
        Ok(ws::send_text(ws, text).await?)
    }

    async fn write_chat(
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

    async fn request_recent(
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
            Ok(()) => self.pending_recent.push_back(PendingRecent {
                tid,
                reply,
                gap_fill,
            }),
            Err(e) => {
                if let Some(r) = reply {
                    let _ = r.send(Err(e));
                }
            }
        }
    }

    /// One joined session: frames, commands, keepalive and live-status polling.
    async fn session(&mut self) -> End {
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

    async fn close_quietly(&mut self) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = tokio::time::timeout(self.config.timing.close_timeout, ws.close(None)).await;
        }
    }

    async fn on_command(&mut self, cmd: Command) -> Option<End> {
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
    async fn close_handshake(&mut self) -> End {
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
    async fn on_frame(&mut self, text: &str) -> Option<End> {
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
    fn deliver_live(&mut self, event: Event) {
        if let Some((user, time)) = line_key(&event) {
            if !self.seen.insert((user, time)) {
                return;
            }
            self.floor_ms = Some(self.floor_ms.map_or(time, |f| f.min(time)));
        }
        self.emit(Ok(event));
    }

    fn on_recent_chat(&mut self, tid: Option<&str>, ret_code: i64, ret_msg: String, bdy: &Value) {
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
                let key = (line.user_id().to_owned(), line.time_ms());
                if key.1 >= floor && self.seen.insert(key) {
                    self.emit(Ok(proto::line_event(line)));
                }
            }
            return;
        }
        for line in &recent.messages {
            self.seen
                .insert((line.user_id().to_owned(), line.time_ms()));
        }
        if let Some(r) = pending.and_then(|p| p.reply) {
            let _ = r.send(Ok(recent.clone()));
        }
        self.emit(Ok(Event::RecentChat(recent)));
    }
}

fn line_key(event: &Event) -> Option<(String, i64)> {
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
