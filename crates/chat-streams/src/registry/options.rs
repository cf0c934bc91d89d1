//! What configures a [`Registry`], what selects a listing, and what [`Registry::consume`]
//! reports.

use std::time::Duration;

use crate::id::StreamKind;
use crate::model::PlatformFilter;
#[cfg(doc)]
use crate::{Error, Registry};

/// How a [`Registry`] behaves: `RegistryOptions::default()` and the setters you need (the
/// same convention as the protocol crates' settings: no public fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Dirty streams are written this often (MaiBot: 300 s). A crash loses at most this much
    /// activity; a clean [`Registry::close`] loses nothing.
    pub(crate) flush_interval: Duration,
    /// How long a write waits for a lock held by another connection (another process writing
    /// the same file, as a running MaiBot would). It tries again every millisecond, so any
    /// gap between the other writer's transactions lets it through; only a lock held longer
    /// than this without a break fails the write, with a retryable [`Error::Storage`], and the
    /// streams stay dirty for the next flush.
    pub(crate) busy_timeout: Duration,
    /// The bot account new streams are scoped to (`""`: shared, MaiBot 0.x ids).
    pub(crate) account: String,
    /// The route scope new streams are scoped to (`""`: none).
    pub(crate) scope: String,
}

impl RegistryOptions {
    /// How often dirty streams are written (default 5 s; MaiBot: 300 s). A crash loses at most
    /// this much activity; a clean [`Registry::close`] loses nothing.
    #[must_use]
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How long a write waits for a lock held by another connection, such as another process
    /// writing the same file as a running MaiBot would (default 5 s). It tries again every
    /// millisecond, so any gap between the other writer's transactions lets it through; only
    /// a lock held longer than this without a break fails the write, with a retryable
    /// [`Error::Storage`], and the streams stay dirty for the next flush.
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Scopes new streams to a bot account and a route scope (MaiBot 1.x ids).
    #[must_use]
    pub fn route(mut self, account: impl Into<String>, scope: impl Into<String>) -> Self {
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
