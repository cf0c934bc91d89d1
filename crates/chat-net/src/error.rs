//! [`NetError`]: what can go wrong below the protocol.

use chatwire_core::BoxError;

/// A failure below the protocol: each client maps it into its own `Error` (`Transport`,
/// `Timeout` or `InvalidInput`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The URL cannot be used (no host, an unknown scheme, not a URL).
    #[error("bad URL {0}")]
    InvalidUrl(String),
    /// The step named by `what` took longer than its limit.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was being waited for ("the socket to open", "an HTTP answer").
        what: &'static str,
    },
    /// Network, TLS, HTTP or WebSocket failure.
    #[error("network error: {0}")]
    Io(#[source] BoxError),
}

impl NetError {
    pub(crate) fn io(source: impl Into<BoxError>) -> Self {
        Self::Io(source.into())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::fmt::Debug + 'static>() {}
        assert_send_sync::<super::NetError>();
    }
}
