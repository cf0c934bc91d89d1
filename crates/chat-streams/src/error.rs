use chatwire_core::{BoxError, ErrorKind, Retry};

/// Everything that can go wrong. Messages for invalid parameters repeat MaiBot's own text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An empty group id (MaiBot: `ValueError("group_id 不能为空")`).
    #[error("group_id must not be empty (group_id 不能为空)")]
    EmptyGroupId,
    /// An empty user id (MaiBot: `ValueError("user_id 不能为空")`).
    #[error("user_id must not be empty (user_id 不能为空)")]
    EmptyUserId,
    /// An empty platform.
    #[error("platform must not be empty")]
    EmptyPlatform,
    /// Neither a user nor a group (MaiBot: `ValueError("用户信息或群组信息必须提供")`).
    #[error("a user or a group is required (用户信息或群组信息必须提供)")]
    MissingIdentity,
    /// Some other invalid argument.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The file is not a MaiBot database this crate understands.
    #[error("not a MaiBot database: {0}")]
    NotMaiBot(String),
    /// A MaiBot 1.x database newer than the schema versions this crate knows.
    #[error(
        "MaiBot schema version {found} is newer than the highest known ({known}); refusing to write"
    )]
    UnsupportedMaiBotVersion {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The highest this crate knows.
        known: i64,
    },
    /// The registry was closed.
    #[error("the registry is closed")]
    Closed,
    /// SQLite failed (busy, I/O, corrupt file, ...). Dirty streams stay dirty and are retried.
    /// The SQLite error is the [`source`](std::error::Error::source), boxed so that a new
    /// `rusqlite` is not a breaking change here.
    #[error("storage: {source}")]
    Storage {
        /// A locked or busy database (worth retrying).
        busy: bool,
        /// The SQLite error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::EmptyGroupId
            | Self::EmptyUserId
            | Self::EmptyPlatform
            | Self::MissingIdentity
            | Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::NotMaiBot(_) | Self::UnsupportedMaiBotVersion { .. } => ErrorKind::Protocol,
            Self::Closed => ErrorKind::Closed,
            Self::Storage { busy: true, .. } => ErrorKind::Timeout,
            Self::Storage { .. } => ErrorKind::Other,
        }
    }

    /// What trying again would take: [`Retry::Backoff`] for a locked or busy database,
    /// [`Retry::Never`] for everything else.
    pub fn retry(&self) -> Retry {
        match self {
            Self::Storage { busy: true, .. } => Retry::Backoff,
            _ => Retry::Never,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        Self::Storage {
            busy,
            source: Box::new(e),
        }
    }
}

impl From<Error> for chatwire_core::Error {
    fn from(e: Error) -> Self {
        let retry = e.retry();
        chatwire_core::Error::new(e.kind(), e).with_retry(retry)
    }
}
