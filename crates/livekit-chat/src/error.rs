use chatwire_core::{ErrorKind, Platform};

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
    /// A peer sent something that could not be decoded; the payload is kept and chat goes on.
    #[error("could not decode {what}: {why} (raw: {raw})")]
    Decode {
        /// What.
        what: &'static str,
        /// Why.
        why: String,
        /// The payload (truncated; lossy UTF-8).
        raw: String,
    },
    /// The caller passed something the protocol cannot carry.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The chat manager was closed.
    #[error("the chat manager is closed")]
    Closed,
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

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Transport(TransportError::Disconnected) | Self::Closed => ErrorKind::Closed,
            Self::Transport(_) => ErrorKind::Connect,
            Self::TooLarge { .. } | Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Decode { .. } => ErrorKind::Protocol,
        }
    }

    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transport(TransportError::Other(_)))
    }
}

impl From<Error> for chatwire_core::Error {
    fn from(e: Error) -> Self {
        let retryable = e.is_retryable();
        chatwire_core::Error::new(e.kind(), e)
            .with_platform(Platform::LiveKit)
            .with_retryable(retryable)
    }
}
