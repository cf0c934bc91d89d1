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
    #[cfg(feature = "sockets")]
    pub(crate) fn io(source: impl Into<BoxError>) -> Self {
        Self::Io(source.into())
    }
}

/// Implements the glue every socket client's `Error` needs, so it is written once:
/// `From<NetError>` (into the client's `InvalidInput(String)`, `Timeout { what }` and
/// `Transport { source }` variants), `From<WaitError>` (into `Timeout` and
/// `Closed { code, reason }`), [`Retryable`](crate::Retryable) through the client's
/// inherent `retry()`, and `From<Error> for chatwire_core::Error` tagged with `$platform`,
/// keeping the client's `kind()` and `retry()`.
///
/// ```
/// use chatwire_core::{BoxError, ErrorKind, Platform, Retry};
///
/// #[derive(Debug, thiserror::Error)]
/// enum Error {
///     #[error("network error: {source}")]
///     Transport { source: BoxError },
///     #[error("timed out waiting for {what}")]
///     Timeout { what: &'static str },
///     #[error("invalid input: {0}")]
///     InvalidInput(String),
///     #[error("closed: {reason}")]
///     Closed { code: Option<u16>, reason: String },
/// }
///
/// impl Error {
///     fn kind(&self) -> ErrorKind {
///         ErrorKind::Connect
///     }
///     fn retry(&self) -> Retry {
///         Retry::Backoff
///     }
/// }
///
/// chatwire_net::client_error!(Error, Platform::Chzzk);
///
/// let core: chatwire_core::Error = Error::from(chatwire_net::NetError::InvalidUrl("x".into())).into();
/// assert_eq!(core.platform(), Some(Platform::Chzzk));
/// ```
#[macro_export]
macro_rules! client_error {
    ($error:ty, $platform:expr) => {
        impl ::core::convert::From<$crate::NetError> for $error {
            fn from(e: $crate::NetError) -> Self {
                match e {
                    $crate::NetError::InvalidUrl(url) => {
                        Self::InvalidInput(format!("bad URL {url}"))
                    }
                    $crate::NetError::Timeout { what } => Self::Timeout { what },
                    $crate::NetError::Io(source) => Self::Transport { source },
                    other => Self::Transport {
                        source: ::std::boxed::Box::new(other),
                    },
                }
            }
        }

        impl ::core::convert::From<$crate::WaitError> for $error {
            fn from(e: $crate::WaitError) -> Self {
                match e {
                    $crate::WaitError::Timeout => Self::Timeout {
                        what: "a matching event",
                    },
                    _ => Self::Closed {
                        code: None,
                        reason: "the client stopped".into(),
                    },
                }
            }
        }

        impl $crate::Retryable for $error {
            fn retry(&self) -> $crate::chatwire_core::Retry {
                <$error>::retry(self)
            }
        }

        impl ::core::convert::From<$error> for $crate::chatwire_core::Error {
            fn from(e: $error) -> Self {
                let (kind, retry) = (e.kind(), e.retry());
                $crate::chatwire_core::Error::new(kind, e)
                    .with_platform($platform)
                    .with_retry(retry)
            }
        }
    };
}

/// Declares a socket client's `Error` enum: the variants given, then the five every socket
/// client shares, declared once here with their messages: `Transport { source }`,
/// `Timeout { what }`, `Decode(DecodeError)`, `Closed { code, reason }` and
/// `InvalidInput(String)`. Derive `thiserror::Error` on it (the shared variants carry their
/// `#[error]` attributes), then call [`client_error!`] for the conversions.
///
/// ```
/// chatwire_net::error_enum! {
///     /// Everything that can go wrong.
///     #[derive(Debug, thiserror::Error)]
///     pub enum Error {
///         /// The login was refused.
///         #[error("login refused")]
///         LoginRefused,
///     }
/// }
///
/// let e = Error::Timeout { what: "an answer" };
/// assert_eq!(e.to_string(), "timed out waiting for an answer");
/// ```
#[macro_export]
macro_rules! error_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($own:tt)*
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($own)*
            /// Network, TLS, HTTP or WebSocket failure.
            #[error("network error: {source}")]
            Transport {
                /// The underlying error.
                #[source]
                source: $crate::chatwire_core::BoxError,
            },
            /// Something took longer than its configured limit.
            #[error("timed out waiting for {what}")]
            Timeout {
                /// What was being waited for.
                what: &'static str,
            },
            /// The server sent something that could not be decoded; the raw payload is kept
            /// and the event stream goes on.
            #[error("{0}")]
            Decode(#[from] $crate::chatwire_core::DecodeError),
            /// The connection closed.
            #[error("connection closed{}: {reason}", code.map(|c| format!(" with code {c}")).unwrap_or_default())]
            Closed {
                /// The close code, when there was a close frame.
                code: Option<u16>,
                /// Why.
                reason: String,
            },
            /// The caller passed something the platform cannot accept; the message says what
            /// to fix.
            #[error("invalid input: {0}")]
            InvalidInput(String),
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + std::fmt::Debug + 'static>() {}
        assert_send_sync::<super::NetError>();
    }
}
