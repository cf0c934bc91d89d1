use chatwire_core::{DecodeError, ErrorKind, Platform, Retry};

use crate::transport::TransportError;

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The room refused or lost the packet.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// A message is too large for the format it must travel in.
    #[error("{what} of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A peer sent something that could not be decoded; the payload (lossy UTF-8) is kept
    /// and chat goes on.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Something took longer than its limit (a [`wait_for`](crate::ChatManager::wait_for)).
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
    },
    /// The caller passed something the protocol cannot carry.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The chat manager was closed (the room has no close code: `code` is always `None`).
    #[error("connection closed{}: {reason}", code.map(|c| format!(" with code {c}")).unwrap_or_default())]
    Closed {
        /// The close code; LiveKit rooms have none, so always `None` here.
        code: Option<u16>,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn decode(what: &'static str, why: impl Into<String>, raw: &str) -> Self {
        Self::Decode(DecodeError::new(what, raw, why.into()))
    }

    pub(crate) fn closed() -> Self {
        Self::Closed {
            code: None,
            reason: "the chat manager is closed".into(),
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Transport(TransportError::Disconnected) | Self::Closed { .. } => {
                ErrorKind::Closed
            }
            Self::Transport(_) => ErrorKind::Connect,
            Self::TooLarge { .. } | Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Decode(_) => ErrorKind::Protocol,
            Self::Timeout { .. } => ErrorKind::Timeout,
        }
    }

    /// What trying again would take: [`Retry::Backoff`] for a packet the room refused or lost
    /// and for a wait that timed out,
    /// [`Retry::Now`] for a packet that did not decode (chat goes on), [`Retry::Never`] for a
    /// room that is gone, a closed manager, or input the protocol cannot carry.
    pub fn retry(&self) -> Retry {
        match self {
            Self::Transport(TransportError::Other(_)) | Self::Timeout { .. } => Retry::Backoff,
            Self::Decode(_) => Retry::Now,
            _ => Retry::Never,
        }
    }
}

impl From<chatwire_net::WaitError> for Error {
    fn from(e: chatwire_net::WaitError) -> Self {
        match e {
            chatwire_net::WaitError::Timeout => Self::Timeout {
                what: "a matching event",
            },
            _ => Self::closed(),
        }
    }
}

impl From<Error> for chatwire_core::Error {
    fn from(e: Error) -> Self {
        let retry = e.retry();
        chatwire_core::Error::new(e.kind(), e)
            .with_platform(Platform::LiveKit)
            .with_retry(retry)
    }
}
