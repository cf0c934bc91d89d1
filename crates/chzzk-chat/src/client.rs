//! [`ChatClient`]: the handle. It builds nothing but commands: the socket, rejoins, gap fill
//! and deduplication are the driver's ([`crate::driver`]).

use crate::model::{ChannelId, ChatChannelId};
use chatwire_net::Method;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chatwire_net::{Waiters, lock};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::config::{ClientBuilder, Config, Credentials};
use crate::driver::Task;
use crate::event::{Context, Dispatcher, Event, Handler};
use crate::http::Api;
use crate::model::{LiveDetail, LiveStatus, Message, PartialUser, ProfileCard, RecentChat, User};
use crate::proto::decode;
use crate::{Error, ManageClient};

pub(crate) type QueuedSend = (
    String,
    BTreeMap<String, String>,
    oneshot::Sender<Result<(), Error>>,
);

pub(crate) enum Command {
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
pub(crate) struct Shared {
    pub(crate) chat_channel_id: Option<ChatChannelId>,
    pub(crate) connected: bool,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) credentials: RwLock<Option<Credentials>>,
    pub(crate) commands: Mutex<Option<mpsc::UnboundedSender<Command>>>,
    pub(crate) shared: Arc<Mutex<Shared>>,
    pub(crate) waiters: Waiters<Event>,
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
    pub fn new(channel_id: impl Into<ChannelId>) -> Self {
        Self::builder(channel_id).build()
    }

    /// A builder for `channel_id`.
    pub fn builder(channel_id: impl Into<ChannelId>) -> ClientBuilder {
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
    pub fn channel_id(&self) -> &ChannelId {
        &self.inner.config.channel_id
    }

    /// The chat channel of the current session, once connected.
    pub fn chat_channel_id(&self) -> Option<ChatChannelId> {
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
    ///
    /// # Cancel safety
    /// Not cancel-safe: the client's task starts when the future is first polled, and
    /// dropping the future later leaves it joining (and then connected) with nobody reading
    /// its events. Call [`close`](Self::close) before connecting again.
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
        let task = Task::new(&self.inner, tx, cmd_rx);
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
    ///
    /// # Cancel safety
    /// The close is asked for when the future is first polled; dropping it afterwards only
    /// stops waiting for the client to stop, not the close.
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

    async fn current_chat_channel(&self) -> Result<ChatChannelId, Error> {
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
                Method::Post,
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
            channel_id.map_or_else(|| self.channel_id().clone(), ChannelId::from),
        )
    }

    /// The management API of this client's channel.
    pub fn manage_self(&self) -> ManageClient {
        self.manage(None)
    }
}
