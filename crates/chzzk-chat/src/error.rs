use std::time::Duration;

use chatwire_core::{BoxError, ErrorKind, Platform};

/// Everything that can go wrong, by failure class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The channel has no live status at all (never broadcast, or a wrong id).
    #[error("channel {channel_id} has no live status (wrong id, or it never broadcast)")]
    ChannelNotFound {
        /// The channel.
        channel_id: String,
    },
    /// The channel has no chat channel right now (off air).
    #[error("channel {channel_id} has no chat channel now (off air)")]
    ChannelOffline {
        /// The channel.
        channel_id: String,
    },
    /// The live is 19+ and the client is not logged in as a verified adult.
    #[error("channel {channel_id} is 19+: log in with a verified adult account to join its chat")]
    AdultRestricted {
        /// The channel.
        channel_id: String,
    },
    /// The chat server refused the join (its `retCode` and `retMsg`).
    #[error("the chat server refused to join: retCode {ret_code} ({ret_msg})")]
    ConnectFailed {
        /// `retCode`: 105 is an unknown chat channel; 302–304 ask to reconnect elsewhere.
        ret_code: i64,
        /// `retMsg`.
        ret_msg: String,
    },
    /// The connection closed.
    #[error("connection closed{}: {reason}", code.map(|c| format!(" with code {c}")).unwrap_or_default())]
    Closed {
        /// The close code, when there was a close frame.
        code: Option<u16>,
        /// Why.
        reason: String,
    },
    /// The server ended the session (90102).
    #[error("the server ended the chat session")]
    SessionEnded,
    /// The call needs the `NID_AUT`/`NID_SES` cookies.
    #[error("{action} needs a login (NID_AUT and NID_SES cookies)")]
    LoginRequired {
        /// What was attempted.
        action: &'static str,
    },
    /// A command needs a joined chat and the client is not connected.
    #[error("not connected: call connect() first")]
    NotConnected,
    /// An HTTP call answered with an error status or an error `code`.
    #[error("{method} {url} failed: HTTP {status}{}: {}", code.map(|c| format!(", code {c}")).unwrap_or_default(), message.as_deref().unwrap_or(body))]
    Http {
        /// Method.
        method: &'static str,
        /// URL, without query.
        url: String,
        /// HTTP status.
        status: u16,
        /// The envelope's `code`, when the body had one.
        code: Option<i64>,
        /// The envelope's `message`.
        message: Option<String>,
        /// The body (truncated to 2 KiB).
        body: String,
    },
    /// The server asked for a pause.
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// How long, when said.
        retry_after: Option<Duration>,
    },
    /// Network or TLS failure.
    #[error("network error: {source}")]
    Transport {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Something took longer than its configured limit.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What.
        what: &'static str,
    },
    /// The server sent something that could not be decoded; the raw payload is kept and the
    /// event stream goes on.
    #[error("could not decode {what}: {why} (raw: {raw})")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        why: String,
        /// The payload (truncated to 4 KiB).
        raw: String,
    },
    /// A recent-chat request failed on the server.
    #[error("recent chat request failed: retCode {ret_code} ({ret_msg})")]
    RecentChatFailed {
        /// `retCode`.
        ret_code: i64,
        /// `retMsg`.
        ret_msg: String,
    },
    /// The caller passed something Chzzk cannot accept.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

pub(crate) use chatwire_core::excerpt as truncate;

impl Error {
    pub(crate) fn decode(what: &'static str, why: impl Into<String>, raw: &str) -> Self {
        Self::Decode {
            what,
            why: why.into(),
            raw: truncate(raw, 4096),
        }
    }

    pub(crate) fn transport(source: impl Into<BoxError>) -> Self {
        Self::Transport {
            source: source.into(),
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::ChannelNotFound { .. }
            | Self::ChannelOffline { .. }
            | Self::ConnectFailed { .. }
            | Self::Transport { .. } => ErrorKind::Connect,
            Self::AdultRestricted { .. } | Self::LoginRequired { .. } => ErrorKind::Auth,
            Self::Closed { .. } | Self::SessionEnded | Self::NotConnected => ErrorKind::Closed,
            Self::Http { .. } => ErrorKind::Http,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Decode { .. } | Self::RecentChatFailed { .. } => ErrorKind::Protocol,
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }

    /// Whether trying again later may help: network failures, timeouts, abnormal closes,
    /// "reconnect elsewhere" join answers (302–304), HTTP 5xx and 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. }
            | Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::ChannelOffline { .. } => true,
            Self::Closed { code, .. } => *code != Some(1000),
            Self::ConnectFailed { ret_code, .. } => (302..=304).contains(ret_code),
            Self::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// Whether waiting cannot help once the client has joined before: the channel is gone, the
    /// live is 19+, the login cookies stopped working, or the input was refused. The client
    /// retries every other failure of a rejoin.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::ChannelNotFound { .. }
                | Self::AdultRestricted { .. }
                | Self::LoginRequired { .. }
                | Self::InvalidInput(_)
                | Self::SessionEnded
        )
    }

    /// How long the server asked to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl From<Error> for chatwire_core::Error {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let retryable = e.is_retryable();
        let retry_after = e.retry_after();
        let mut out = chatwire_core::Error::new(kind, e)
            .with_platform(Platform::Chzzk)
            .with_retryable(retryable);
        if let Some(d) = retry_after {
            out = out.with_retry_after(d);
        }
        out
    }
}
