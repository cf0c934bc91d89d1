use std::time::Duration;

use crate::model::ChannelId;
use chatwire_core::{DecodeError, ErrorKind, Platform, Retry};
use chatwire_net::Method;

chatwire_net::error_enum! {
    /// Everything that can go wrong, by failure class.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum Error {
        /// The channel has no live status at all (never broadcast, or a wrong id).
        #[error("channel {channel_id} has no live status (wrong id, or it never broadcast)")]
        ChannelNotFound {
            /// The channel.
            channel_id: ChannelId,
        },
        /// The channel has no chat channel right now (off air).
        #[error("channel {channel_id} has no chat channel now (off air)")]
        ChannelOffline {
            /// The channel.
            channel_id: ChannelId,
        },
        /// The live is 19+ and the client is not logged in as a verified adult.
        #[error("channel {channel_id} is 19+: log in with a verified adult account to join its chat")]
        AdultRestricted {
            /// The channel.
            channel_id: ChannelId,
        },
        /// The chat server refused the join (its `retCode` and `retMsg`).
        #[error("the chat server refused to join: retCode {ret_code} ({ret_msg})")]
        ConnectFailed {
            /// `retCode`: 105 is an unknown chat channel; 302–304 ask to reconnect elsewhere.
            ret_code: i64,
            /// `retMsg`.
            ret_msg: String,
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
            method: Method,
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
        /// A recent-chat request failed on the server.
        #[error("recent chat request failed: retCode {ret_code} ({ret_msg})")]
        RecentChatFailed {
            /// `retCode`.
            ret_code: i64,
            /// `retMsg`.
            ret_msg: String,
        },
    }
}

pub(crate) use chatwire_core::excerpt as truncate;

impl Error {
    pub(crate) fn decode(what: &'static str, why: impl Into<String>, raw: &str) -> Self {
        Self::Decode(DecodeError::new(what, raw, why.into()))
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
            Self::Decode(_) | Self::RecentChatFailed { .. } => ErrorKind::Protocol,
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }

    /// What trying again would take; the client's own rejoin loop follows it (once a join has
    /// worked, everything but [`Retry::Never`] is retried).
    ///
    /// - [`Retry::Never`]: the channel is gone, the live is 19+, the login cookies are
    ///   missing or expired, the server ended the session, the client is not connected, the
    ///   input was refused, or an HTTP call failed with a 4xx other than 408 and 429 (the
    ///   envelope's `code` counts as the status when it is 429 or 5xx).
    /// - [`Retry::Now`]: a "reconnect elsewhere" join answer (302–304), a frame or line that
    ///   did not decode, a failed recent-chat request (the stream goes on).
    /// - [`Retry::After`]: a rate limit that said how long.
    /// - [`Retry::Backoff`]: network failures, timeouts, closes, an off-air channel, a refused
    ///   join (the chat channel is looked up again), HTTP 5xx, 408 and 429.
    pub fn retry(&self) -> Retry {
        match self {
            Self::ChannelNotFound { .. }
            | Self::AdultRestricted { .. }
            | Self::LoginRequired { .. }
            | Self::SessionEnded
            | Self::NotConnected
            | Self::InvalidInput(_) => Retry::Never,
            Self::ConnectFailed { ret_code, .. } if (302..=304).contains(ret_code) => Retry::Now,
            Self::Decode(_) | Self::RecentChatFailed { .. } => Retry::Now,
            Self::RateLimited {
                retry_after: Some(d),
            } => Retry::After(*d),
            Self::Http { status, code, .. }
                if !matches!(status, 408 | 429 | 500..)
                    && !code.is_some_and(|c| c == 429 || c >= 500) =>
            {
                Retry::Never
            }
            Self::ChannelOffline { .. }
            | Self::ConnectFailed { .. }
            | Self::Closed { .. }
            | Self::Http { .. }
            | Self::RateLimited { .. }
            | Self::Transport { .. }
            | Self::Timeout { .. } => Retry::Backoff,
        }
    }
}

chatwire_net::client_error!(Error, Platform::Chzzk);
