//! [`Registry`]: the streams in memory with constant-time indexes, MaiBot's `chat_api`, and
//! write-behind persistence.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chatwire_core::{ChannelKind, ChatEvent, ChatMessage};
use futures_core::Stream;
use futures_util::StreamExt as _;

use crate::Error;
use crate::id::{StreamKey, StreamKind};
use crate::model::{
    ChatStream, GroupInfo, PlatformFilter, StreamInfo, StreamType, StreamsSummary, UserInfo,
};
use crate::store::{Row, Store};

/// How a [`Registry`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Dirty streams are written this often (MaiBot: 300 s). A crash loses at most this much
    /// activity; a clean [`Registry::close`] loses nothing.
    pub flush_interval: Duration,
    /// How long a write waits for a lock held by another connection (another process writing
    /// the same file, as a running MaiBot would). It tries again every millisecond, so any
    /// gap between the other writer's transactions lets it through; only a lock held longer
    /// than this without a break fails the write, with a retryable [`Error::Storage`], and the
    /// streams stay dirty for the next flush.
    pub busy_timeout: Duration,
    /// The bot account new streams are scoped to (`""`: shared, MaiBot 0.x ids).
    pub account: String,
    /// The route scope new streams are scoped to (`""`: none).
    pub scope: String,
}

impl RegistryOptions {
    /// Sets [`flush_interval`](Self::flush_interval).
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Sets [`busy_timeout`](Self::busy_timeout).
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Scopes new streams to a bot account and a route scope (MaiBot 1.x ids).
    #[must_use]
    pub fn with_route(mut self, account: impl Into<String>, scope: impl Into<String>) -> Self {
        self.account = account.into();
        self.scope = scope.into();
        self
    }
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            account: String::new(),
            scope: String::new(),
        }
    }
}

/// Which streams a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Platforms (default: all).
    pub platform: Option<PlatformFilter>,
    /// Only groups or only private chats.
    pub kind: Option<StreamKind>,
    /// Skip this many (most recent first).
    pub offset: usize,
    /// Return at most this many (`0` = no limit).
    pub limit: usize,
}

impl ListQuery {
    /// Every stream, most recent first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only these platforms.
    #[must_use]
    pub fn platform(mut self, platform: impl Into<PlatformFilter>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// Only groups or only private chats.
    #[must_use]
    pub fn kind(mut self, kind: StreamKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// A page: skip `offset`, return at most `limit` (`0` = no limit).
    #[must_use]
    pub fn page(mut self, offset: usize, limit: usize) -> Self {
        self.offset = offset;
        self.limit = limit;
        self
    }
}

/// What [`Registry::consume`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumeReport {
    /// Messages registered.
    pub messages: usize,
    /// Channels registered from connection events.
    pub channels: usize,
    /// Errors the stream yielded (they do not stop the registry).
    pub stream_errors: usize,
    /// Events the registry could not use (invalid ids).
    pub rejected: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Shared snapshots: a lookup hands out an `Arc` (no copy); a change copies a stream only
    /// while someone still holds its old snapshot.
    streams: HashMap<i64, Arc<ChatStream>>,
    aliases: HashMap<i64, Vec<String>>,
    by_key: HashMap<StreamKey, i64>,
    by_alias: HashMap<String, i64>,
    /// Group streams by group id (all platforms, accounts and scopes of that id).
    by_group: HashMap<String, Pks>,
    /// Private streams by user id.
    by_user: HashMap<String, Pks>,
    recent: BTreeSet<(Reverse<i64>, Reverse<i64>)>,
    /// Streams changed since the last flush (a hash set: ingest inserts into it per message).
    dirty: HashSet<i64>,
    in_flight: usize,
    next_pk: i64,
    closed: bool,
}

/// The streams sharing one group or user id (one per platform, account and scope): nearly
/// always one, kept inline so a lookup does not follow a pointer to a list.
#[derive(Debug, Clone)]
enum Pks {
    One(i64),
    Many(Vec<i64>),
}

impl Default for Pks {
    fn default() -> Self {
        Self::Many(Vec::new())
    }
}

impl Pks {
    fn push(&mut self, pk: i64) {
        match self {
            Self::Many(v) if v.is_empty() => *self = Self::One(pk),
            Self::One(first) => *self = Self::Many(vec![*first, pk]),
            Self::Many(v) => v.push(pk),
        }
    }

    fn remove(&mut self, pk: i64) {
        match self {
            Self::One(p) if *p == pk => *self = Self::default(),
            Self::One(_) => {}
            Self::Many(v) => v.retain(|p| *p != pk),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Self::Many(v) if v.is_empty())
    }

    fn iter(&self) -> std::slice::Iter<'_, i64> {
        match self {
            Self::One(pk) => std::slice::from_ref(pk).iter(),
            Self::Many(v) => v.iter(),
        }
    }
}

impl State {
    fn insert(&mut self, pk: i64, stream: Arc<ChatStream>, aliases: Vec<String>) {
        let target = stream.key.target.clone();
        match stream.key.kind {
            StreamKind::Group => self.by_group.entry(target).or_default().push(pk),
            StreamKind::Private => self.by_user.entry(target).or_default().push(pk),
        }
        self.by_key.insert(stream.key.clone(), pk);
        self.by_alias.insert(stream.stream_id.clone(), pk);
        for a in &aliases {
            self.by_alias.entry(a.clone()).or_insert(pk);
        }
        self.recent
            .insert((Reverse(stream.last_active_at_ms), Reverse(pk)));
        self.aliases.insert(pk, aliases);
        self.streams.insert(pk, stream);
        self.next_pk = self.next_pk.max(pk + 1);
    }

    fn touch(&mut self, pk: i64, at_ms: i64) {
        let Some(s) = self.streams.get_mut(&pk).map(Arc::make_mut) else {
            return;
        };
        if at_ms > s.last_active_at_ms {
            self.recent
                .remove(&(Reverse(s.last_active_at_ms), Reverse(pk)));
            s.last_active_at_ms = at_ms;
            self.recent.insert((Reverse(at_ms), Reverse(pk)));
        }
        self.dirty.insert(pk);
    }

    fn remove(&mut self, pk: i64) -> Option<Arc<ChatStream>> {
        let s = self.streams.remove(&pk)?;
        self.recent
            .remove(&(Reverse(s.last_active_at_ms), Reverse(pk)));
        self.by_key.remove(&s.key);
        self.by_alias.retain(|_, v| *v != pk);
        let index = match s.key.kind {
            StreamKind::Group => &mut self.by_group,
            StreamKind::Private => &mut self.by_user,
        };
        if let Some(v) = index.get_mut(s.key.target.as_str()) {
            v.remove(pk);
            if v.is_empty() {
                index.remove(s.key.target.as_str());
            }
        }
        self.aliases.remove(&pk);
        self.dirty.remove(&pk);
        Some(s)
    }

    /// The stream with exactly this key, found without building a [`StreamKey`].
    fn find(
        &self,
        kind: StreamKind,
        platform: &str,
        account: &str,
        scope: &str,
        target: &str,
    ) -> Option<i64> {
        let index = match kind {
            StreamKind::Group => &self.by_group,
            StreamKind::Private => &self.by_user,
        };
        index.get(target)?.iter().copied().find(|pk| {
            self.streams.get(pk).is_some_and(|s| {
                s.key.platform == platform && s.key.account == account && s.key.scope == scope
            })
        })
    }

    /// The streams of `pks`, most recently active first.
    fn most_recent(&self, pks: &[i64]) -> Vec<Arc<ChatStream>> {
        let mut v: Vec<&Arc<ChatStream>> = pks.iter().filter_map(|p| self.streams.get(p)).collect();
        v.sort_by_key(|s| Reverse(s.last_active_at_ms));
        v.into_iter().cloned().collect()
    }

    fn iter_recent(&self) -> impl Iterator<Item = &Arc<ChatStream>> {
        self.recent
            .iter()
            .filter_map(|(_, Reverse(pk))| self.streams.get(pk))
    }
}

struct Shared {
    state: Mutex<State>,
    store: Option<Mutex<Store>>,
    options: RegistryOptions,
    wake: Condvar,
    flushed: Condvar,
    flushes: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A registry of chat streams across platforms.
///
/// Lookups by stream id, by (platform, group) and by (platform, user) are hash lookups; listings
/// come most recently active first. With a file ([`Registry::open`]) dirty streams are written
/// in batches every [`RegistryOptions::flush_interval`], on [`flush`](Self::flush), and on
/// [`close`](Self::close) (also attempted on drop).
pub struct Registry {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("Registry")
            .field("streams", &st.streams.len())
            .field("dirty", &st.dirty.len())
            .field("persistent", &self.shared.store.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Registry {
    /// A registry that lives in memory only.
    pub fn in_memory(options: RegistryOptions) -> Self {
        Self::build(None, Vec::new(), options)
    }

    /// Opens (or creates) the registry's own SQLite file, loads every stream, and starts the
    /// background writer.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be opened or read.
    pub fn open(path: impl AsRef<Path>, options: RegistryOptions) -> Result<Self, Error> {
        let store = Store::open(path.as_ref(), options.busy_timeout)?;
        let rows = store.load()?;
        Ok(Self::build(Some(store), rows, options))
    }

    fn build(store: Option<Store>, rows: Vec<Row>, options: RegistryOptions) -> Self {
        let mut state = State {
            next_pk: 1,
            ..State::default()
        };
        for row in rows {
            state.insert(row.pk, row.stream, row.aliases);
        }
        let persistent = store.is_some();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            store: store.map(Mutex::new),
            options,
            wake: Condvar::new(),
            flushed: Condvar::new(),
            flushes: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let flusher = persistent.then(|| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("chat-streams-flush".into())
                .spawn(move || flush_loop(&shared))
                .ok()
        });
        Self {
            shared,
            flusher: Mutex::new(flusher.flatten()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// The stream with this key, created if new. Names are refreshed (group name for groups,
    /// nickname and card for private chats) and the last-active time moves to `at_ms` (never
    /// backwards).
    ///
    /// # Errors
    /// [`Error::Closed`] after [`close`](Self::close).
    ///
    /// # Panics
    /// Never: the internal indexes always point at existing streams.
    pub fn upsert(
        &self,
        key: StreamKey,
        user: Option<UserInfo>,
        group_name: Option<String>,
        at_ms: i64,
    ) -> Result<Arc<ChatStream>, Error> {
        let mut st = self.state();
        if st.closed {
            return Err(Error::Closed);
        }
        if let Some(&pk) = st.by_key.get(&key) {
            let s = Arc::make_mut(
                st.streams
                    .get_mut(&pk)
                    .expect("invariant: indexed streams exist"),
            );
            if let (Some(g), Some(name)) = (s.group_info.as_mut(), group_name) {
                g.group_name = Some(name);
            }
            if key.kind == StreamKind::Private
                && let Some(u) = user
            {
                {
                    let keep_card = s
                        .user_info
                        .as_ref()
                        .and_then(|old| old.user_cardname.clone());
                    s.user_info = Some(UserInfo {
                        user_cardname: u.user_cardname.or(keep_card),
                        ..u
                    });
                }
            }
            st.touch(pk, at_ms);
            return Ok(st.streams[&pk].clone());
        }
        let group_info = (key.kind == StreamKind::Group).then(|| GroupInfo {
            platform: key.platform.clone(),
            group_id: key.target.clone(),
            group_name,
        });
        let user_info =
            match key.kind {
                StreamKind::Private => Some(user.unwrap_or_else(|| {
                    UserInfo::new(key.platform.clone(), key.target.clone(), None)
                })),
                StreamKind::Group => None,
            };
        let stream = ChatStream {
            stream_id: key.maibot_id(),
            platform: key.platform.clone(),
            key,
            user_info,
            group_info,
            created_at_ms: at_ms,
            last_active_at_ms: at_ms,
        };
        let pk = st.next_pk;
        let stream = Arc::new(stream);
        st.insert(pk, Arc::clone(&stream), Vec::new());
        st.dirty.insert(pk);
        Ok(stream)
    }

    /// MaiBot's `get_or_create_stream(platform, user_info, group_info)`: a group stream when a
    /// group is given, else the private stream of the user. Scoped by the registry's account and
    /// scope.
    ///
    /// # Errors
    /// [`Error::MissingIdentity`] without either; empty-id errors.
    pub fn get_or_create(
        &self,
        platform: &str,
        user_info: Option<UserInfo>,
        group_info: Option<GroupInfo>,
    ) -> Result<Arc<ChatStream>, Error> {
        let o = &self.shared.options;
        match (group_info, user_info) {
            (Some(g), _) => {
                let key = StreamKey::scoped(
                    platform,
                    &o.account,
                    &o.scope,
                    StreamKind::Group,
                    &g.group_id,
                )?;
                self.upsert(key, None, g.group_name, now_ms())
            }
            (None, Some(u)) => {
                let key = StreamKey::scoped(
                    platform,
                    &o.account,
                    &o.scope,
                    StreamKind::Private,
                    &u.user_id,
                )?;
                self.upsert(key, Some(u), None, now_ms())
            }
            (None, None) => Err(Error::MissingIdentity),
        }
    }

    /// Registers a normalised message of any platform: a channel or room is a group stream, a
    /// direct conversation the private stream of its channel id (the peer). The last-active
    /// time is the message's timestamp (or now), never moving backwards.
    ///
    /// # Errors
    /// Empty-id errors, [`Error::Closed`].
    pub fn register_message(&self, message: &ChatMessage) -> Result<Arc<ChatStream>, Error> {
        let at = message_time(message);
        if let Some(stream) = self.touch_group(message, at, Arc::clone)? {
            return Ok(stream);
        }
        self.register_slow(message, at)
    }

    /// [`register_message`](Self::register_message) without returning the stream: the fast
    /// path for feeding the registry (a message to a known group takes no allocation).
    ///
    /// # Errors
    /// As [`register_message`](Self::register_message).
    pub fn ingest_message(&self, message: &ChatMessage) -> Result<(), Error> {
        let at = message_time(message);
        if self.touch_group(message, at, |_| ())?.is_some() {
            return Ok(());
        }
        self.register_slow(message, at).map(drop)
    }

    /// A message to a group this registry knows: touches it (and takes a new group name)
    /// under one lock, without building a key. `None` when the stream is new or private.
    fn touch_group<R>(
        &self,
        message: &ChatMessage,
        at: i64,
        f: impl FnOnce(&Arc<ChatStream>) -> R,
    ) -> Result<Option<R>, Error> {
        if message.channel.kind == ChannelKind::Direct {
            return Ok(None);
        }
        let o = &self.shared.options;
        let mut st = self.state();
        if st.closed {
            return Err(Error::Closed);
        }
        let Some(pk) = st.find(
            StreamKind::Group,
            message.platform.as_str(),
            &o.account,
            &o.scope,
            &message.channel.id,
        ) else {
            return Ok(None);
        };
        if let (Some(name), Some(g)) = (
            &message.channel.name,
            st.streams
                .get_mut(&pk)
                .and_then(|s| Arc::make_mut(s).group_info.as_mut()),
        ) && g.group_name.as_ref() != Some(name)
        {
            g.group_name = Some(name.clone());
        }
        st.touch(pk, at);
        Ok(st.streams.get(&pk).map(f))
    }

    fn register_slow(&self, message: &ChatMessage, at: i64) -> Result<Arc<ChatStream>, Error> {
        let o = &self.shared.options;
        let platform = message.platform.as_str();
        if message.channel.kind == ChannelKind::Direct {
            {
                let key = StreamKey::scoped(
                    platform,
                    &o.account,
                    &o.scope,
                    StreamKind::Private,
                    &message.channel.id,
                )?;
                let mut user = UserInfo::new(platform, message.channel.id.clone(), None);
                if message.author.id == message.channel.id {
                    user.user_nickname.clone_from(&message.author.name);
                }
                self.upsert(key, Some(user), None, at)
            }
        } else {
            let key = StreamKey::scoped(
                platform,
                &o.account,
                &o.scope,
                StreamKind::Group,
                &message.channel.id,
            )?;
            self.upsert(key, None, message.channel.name.clone(), at)
        }
    }

    /// Registers what an event says about a conversation: messages and edits touch their
    /// stream, a connection creates the channel's stream. Other events are ignored.
    ///
    /// # Errors
    /// As [`register_message`](Self::register_message).
    pub fn register_event(&self, event: &ChatEvent) -> Result<Option<Arc<ChatStream>>, Error> {
        match event {
            ChatEvent::Message(m) | ChatEvent::MessageEdited(m) => {
                self.register_message(m).map(Some)
            }
            ChatEvent::Connected { platform, channel } => {
                let o = &self.shared.options;
                let kind = if channel.kind == ChannelKind::Direct {
                    StreamKind::Private
                } else {
                    StreamKind::Group
                };
                let key =
                    StreamKey::scoped(platform.as_str(), &o.account, &o.scope, kind, &channel.id)?;
                let existing = self.state().by_key.get(&key).copied();
                match existing {
                    Some(pk) => Ok(self.state().streams.get(&pk).cloned()),
                    None => self
                        .upsert(key, None, channel.name.clone(), now_ms())
                        .map(Some),
                }
            }
            _ => Ok(None),
        }
    }

    /// Feeds the registry from any stream of normalised events until it ends.
    pub async fn consume<S>(&self, stream: S) -> ConsumeReport
    where
        S: Stream<Item = Result<ChatEvent, chatwire_core::Error>>,
    {
        let mut report = ConsumeReport::default();
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(ChatEvent::Message(m) | ChatEvent::MessageEdited(m)) => {
                    match self.ingest_message(&m) {
                        Ok(()) => report.messages += 1,
                        Err(_) => report.rejected += 1,
                    }
                }
                Ok(event) => match self.register_event(&event) {
                    Ok(Some(_)) if matches!(event, ChatEvent::Connected { .. }) => {
                        report.channels += 1;
                    }
                    Ok(Some(_)) => report.messages += 1,
                    Ok(None) => {}
                    Err(_) => report.rejected += 1,
                },
                Err(_) => report.stream_errors += 1,
            }
        }
        report
    }

    /// A stream by MaiBot id (or any alias).
    pub fn get_stream(&self, stream_id: &str) -> Option<Arc<ChatStream>> {
        let st = self.state();
        st.by_alias
            .get(stream_id)
            .and_then(|pk| st.streams.get(pk))
            .cloned()
    }

    /// A stream by structured key.
    pub fn get_by_key(&self, key: &StreamKey) -> Option<Arc<ChatStream>> {
        let st = self.state();
        st.by_key
            .get(key)
            .and_then(|pk| st.streams.get(pk))
            .cloned()
    }

    /// Number of streams.
    pub fn len(&self) -> usize {
        self.state().streams.len()
    }

    /// True when there is no stream.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Streams, most recently active first, filtered and paginated.
    pub fn list(&self, query: &ListQuery) -> Vec<Arc<ChatStream>> {
        let st = self.state();
        let it = st
            .iter_recent()
            .filter(|s| {
                query
                    .platform
                    .as_ref()
                    .is_none_or(|f| f.matches(&s.platform))
            })
            .filter(|s| query.kind.is_none_or(|k| s.key.kind == k))
            .skip(query.offset);
        if query.limit == 0 {
            it.cloned().collect()
        } else {
            it.take(query.limit).cloned().collect()
        }
    }

    /// MaiBot's `get_all_streams(platform)`, most recently active first.
    pub fn get_all_streams(&self, platform: impl Into<PlatformFilter>) -> Vec<Arc<ChatStream>> {
        self.list(&ListQuery {
            platform: Some(platform.into()),
            ..ListQuery::default()
        })
    }

    /// MaiBot's `get_group_streams(platform)`, most recently active first.
    pub fn get_group_streams(&self, platform: impl Into<PlatformFilter>) -> Vec<Arc<ChatStream>> {
        self.list(&ListQuery {
            platform: Some(platform.into()),
            kind: Some(StreamKind::Group),
            ..ListQuery::default()
        })
    }

    /// MaiBot's `get_private_streams(platform)`, most recently active first.
    pub fn get_private_streams(&self, platform: impl Into<PlatformFilter>) -> Vec<Arc<ChatStream>> {
        self.list(&ListQuery {
            platform: Some(platform.into()),
            kind: Some(StreamKind::Private),
            ..ListQuery::default()
        })
    }

    /// The pks of the streams with this group or user id on the platforms of `platform`.
    fn target_pks(st: &State, group: bool, id: &str, platform: &PlatformFilter) -> Vec<i64> {
        let index = if group { &st.by_group } else { &st.by_user };
        index.get(id).map_or_else(Vec::new, |pks| {
            pks.iter()
                .copied()
                .filter(|pk| {
                    st.streams
                        .get(pk)
                        .is_some_and(|s| platform.matches(&s.platform))
                })
                .collect()
        })
    }

    fn by_target(&self, group: bool, id: &str, platform: &PlatformFilter) -> Vec<Arc<ChatStream>> {
        let st = self.state();
        st.most_recent(&Self::target_pks(&st, group, id, platform))
    }

    /// The most recently active of [`by_target`](Self::by_target) (the first on ties), cloning
    /// only that one.
    fn first_by_target(
        &self,
        group: bool,
        id: &str,
        platform: &PlatformFilter,
    ) -> Option<Arc<ChatStream>> {
        let st = self.state();
        let index = if group { &st.by_group } else { &st.by_user };
        index
            .get(id)?
            .iter()
            .filter_map(|pk| st.streams.get(pk))
            .filter(|s| platform.matches(&s.platform))
            .min_by_key(|s| Reverse(s.last_active_at_ms))
            .cloned()
    }

    /// MaiBot's `get_stream_by_group_id(group_id, platform)`: the most recently active match.
    ///
    /// Unlike MaiBot 0.x, [`PlatformFilter::All`] matches every platform (MaiBot compares the
    /// enum with the stream's platform string and never finds anything). Several bot accounts
    /// or scopes can share a group: [`find_streams_by_group_id`](Self::find_streams_by_group_id)
    /// returns them all.
    ///
    /// # Errors
    /// [`Error::EmptyGroupId`].
    pub fn get_stream_by_group_id(
        &self,
        group_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Option<Arc<ChatStream>>, Error> {
        if group_id.is_empty() {
            return Err(Error::EmptyGroupId);
        }
        Ok(self.first_by_target(true, group_id, &platform.into()))
    }

    /// Every stream of a group (one per account and scope, across platforms for `All`), most
    /// recently active first.
    ///
    /// # Errors
    /// [`Error::EmptyGroupId`].
    pub fn find_streams_by_group_id(
        &self,
        group_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Vec<Arc<ChatStream>>, Error> {
        if group_id.is_empty() {
            return Err(Error::EmptyGroupId);
        }
        Ok(self.by_target(true, group_id, &platform.into()))
    }

    /// MaiBot's `get_stream_by_user_id(user_id, platform)`: the private stream with the user
    /// (the most recently active one). [`PlatformFilter::All`] matches every platform.
    ///
    /// # Errors
    /// [`Error::EmptyUserId`].
    pub fn get_stream_by_user_id(
        &self,
        user_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Option<Arc<ChatStream>>, Error> {
        if user_id.is_empty() {
            return Err(Error::EmptyUserId);
        }
        Ok(self.first_by_target(false, user_id, &platform.into()))
    }

    /// Every private stream with the user, most recently active first.
    ///
    /// # Errors
    /// [`Error::EmptyUserId`].
    pub fn find_streams_by_user_id(
        &self,
        user_id: &str,
        platform: impl Into<PlatformFilter>,
    ) -> Result<Vec<Arc<ChatStream>>, Error> {
        if user_id.is_empty() {
            return Err(Error::EmptyUserId);
        }
        Ok(self.by_target(false, user_id, &platform.into()))
    }

    /// MaiBot's `get_stream_type`.
    pub fn get_stream_type(stream: &ChatStream) -> StreamType {
        match (stream.key.kind, &stream.group_info) {
            (StreamKind::Group, Some(_)) => StreamType::Group,
            (StreamKind::Private, None) => StreamType::Private,
            _ => StreamType::Unknown,
        }
    }

    /// MaiBot's `get_stream_info`, with its keys in its order.
    pub fn get_stream_info(stream: &ChatStream) -> StreamInfo {
        StreamInfo {
            stream_id: stream.stream_id.clone(),
            platform: stream.platform.clone(),
            stream_type: Self::get_stream_type(stream),
            group: stream
                .group_info
                .as_ref()
                .map(|g| (g.group_id.clone(), g.group_name.clone())),
            user: stream
                .user_info
                .as_ref()
                .map(|u| (u.user_id.clone(), u.user_nickname.clone())),
        }
    }

    /// MaiBot's `get_streams_summary`, plus a count per platform.
    pub fn get_streams_summary(&self) -> StreamsSummary {
        let st = self.state();
        let mut out = StreamsSummary::default();
        for s in st.streams.values() {
            out.total_streams += 1;
            match s.key.kind {
                StreamKind::Group => out.group_streams += 1,
                StreamKind::Private => out.private_streams += 1,
            }
            *out.by_platform.entry(s.platform.clone()).or_default() += 1;
        }
        out.qq_streams = out.by_platform.get("qq").copied().unwrap_or(0);
        out
    }

    /// Forgets a stream (by id or alias), in memory and in the file.
    ///
    /// # Errors
    /// [`Error::Storage`].
    pub fn forget(&self, stream_id: &str) -> Result<Option<Arc<ChatStream>>, Error> {
        let removed = {
            let mut st = self.state();
            let pk = st.by_alias.get(stream_id).copied();
            pk.and_then(|pk| st.remove(pk).map(|s| (pk, s)))
        };
        if let (Some((pk, _)), Some(store)) = (&removed, &self.shared.store) {
            lock(store).delete(*pk)?;
        }
        Ok(removed.map(|(_, s)| s))
    }

    /// Adds streams from elsewhere (a MaiBot import): new keys are inserted, known ones merged
    /// (earliest creation, latest activity, names from the more recent side). Every given id
    /// becomes an alias.
    pub(crate) fn merge(&self, streams: Vec<(ChatStream, Vec<String>)>) -> usize {
        let mut st = self.state();
        let mut n = 0;
        for (s, aliases) in streams {
            n += 1;
            if let Some(&pk) = st.by_key.get(&s.key) {
                let newer = s.last_active_at_ms > st.streams[&pk].last_active_at_ms;
                {
                    let cur = Arc::make_mut(
                        st.streams
                            .get_mut(&pk)
                            .expect("invariant: indexed streams exist"),
                    );
                    cur.created_at_ms = cur.created_at_ms.min(s.created_at_ms);
                    if newer {
                        if s.group_info
                            .as_ref()
                            .is_some_and(|g| g.group_name.is_some())
                        {
                            cur.group_info.clone_from(&s.group_info);
                        }
                        if s.user_info.is_some() {
                            cur.user_info.clone_from(&s.user_info);
                        }
                    }
                }
                st.touch(pk, s.last_active_at_ms);
                for a in aliases.into_iter().chain([s.stream_id]) {
                    st.by_alias.entry(a.clone()).or_insert(pk);
                    let list = st.aliases.entry(pk).or_default();
                    if !list.contains(&a) {
                        list.push(a);
                    }
                }
            } else {
                let pk = st.next_pk;
                let mut all = aliases;
                if s.stream_id != s.key.maibot_id() {
                    all.push(s.key.maibot_id());
                }
                st.insert(pk, Arc::new(s), all);
                st.dirty.insert(pk);
            }
        }
        n
    }

    /// Every stream, for export.
    pub(crate) fn snapshot(&self) -> Vec<Arc<ChatStream>> {
        self.state().iter_recent().cloned().collect()
    }

    /// Writes every dirty stream now, in one transaction. Returns how many were written.
    ///
    /// # Errors
    /// [`Error::Storage`] (for example a lock held longer than the busy timeout); the streams
    /// stay dirty and are written by the next flush.
    pub fn flush(&self) -> Result<usize, Error> {
        flush(&self.shared)
    }

    /// Waits until no stream is dirty, at most `timeout`, without forcing a write: it returns
    /// once the background writer (or another caller's [`flush`](Self::flush)) has caught up.
    /// Returns whether it did. Useful to signal durability to another process.
    pub fn wait_flushed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state();
        loop {
            if st.dirty.is_empty() && st.in_flight == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.shared.store.is_none() {
                return false;
            }
            st = self
                .shared
                .flushed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// How many flushes have written something (a progress counter).
    pub fn flush_count(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// The last error of the background writer, if its last attempt failed.
    pub fn last_flush_error(&self) -> Option<String> {
        lock(&self.shared.last_error).clone()
    }

    /// Stops the background writer and writes everything that is dirty. Nothing is lost on a
    /// clean close.
    ///
    /// # Errors
    /// [`Error::Storage`] when the final write fails (the data is then still in memory).
    pub fn close(&self) -> Result<(), Error> {
        self.state().closed = true;
        self.shared.wake.notify_all();
        if let Some(handle) = lock(&self.flusher).take() {
            let _ = handle.join();
        }
        flush(&self.shared).map(drop)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            *lock(&self.shared.last_error) = Some(e.to_string());
        }
    }
}

fn flush(shared: &Shared) -> Result<usize, Error> {
    let Some(store) = &shared.store else {
        return Ok(0);
    };
    let rows: Vec<Row> = {
        let mut st = lock(&shared.state);
        let mut dirty: Vec<i64> = std::mem::take(&mut st.dirty).into_iter().collect();
        // In key order: SQLite appends to its B-tree instead of inserting all over it.
        dirty.sort_unstable();
        st.in_flight += 1;
        dirty
            .into_iter()
            .filter_map(|pk| {
                Some(Row {
                    pk,
                    stream: Arc::clone(st.streams.get(&pk)?),
                    aliases: st.aliases.get(&pk).cloned().unwrap_or_default(),
                })
            })
            .collect()
    };
    let result = if rows.is_empty() {
        Ok(())
    } else {
        lock(store).save(&rows)
    };
    let mut st = lock(&shared.state);
    st.in_flight -= 1;
    let out = match result {
        Ok(()) => {
            if !rows.is_empty() {
                shared.flushes.fetch_add(1, Ordering::Relaxed);
            }
            *lock(&shared.last_error) = None;
            Ok(rows.len())
        }
        Err(e) => {
            for r in &rows {
                if st.streams.contains_key(&r.pk) {
                    st.dirty.insert(r.pk);
                }
            }
            *lock(&shared.last_error) = Some(e.to_string());
            Err(e)
        }
    };
    drop(st);
    shared.flushed.notify_all();
    out
}

fn flush_loop(shared: &Shared) {
    loop {
        // Sleep a whole interval: a condition variable may wake up spuriously, and a write
        // before the interval is up would break the documented crash bound (tests kill a
        // writer mid-interval and count what was written).
        let deadline = Instant::now() + shared.options.flush_interval;
        {
            let mut st = lock(&shared.state);
            loop {
                if st.closed {
                    return;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                st = shared
                    .wake
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let _ = flush(shared);
    }
}

/// A message's time in Unix milliseconds (now when it has none).
fn message_time(message: &ChatMessage) -> i64 {
    message.timestamp.map_or_else(now_ms, |t| {
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::Pks;

    #[test]
    fn pks_hold_one_inline_and_grow_and_shrink() {
        let mut p = Pks::default();
        assert!(p.is_empty());
        p.push(7);
        assert!(matches!(p, Pks::One(7)));
        p.push(9);
        p.push(11);
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), [7, 9, 11]);
        p.remove(9);
        p.remove(42);
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), [7, 11]);
        p.remove(7);
        p.remove(11);
        assert!(p.is_empty());
        p.push(3);
        p.remove(3);
        assert!(p.is_empty() && p.iter().next().is_none());
    }
}
