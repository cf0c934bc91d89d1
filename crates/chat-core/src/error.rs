use std::fmt;
use std::time::Duration;

use crate::Platform;

/// A boxed error, the only form in which dependency errors cross a public API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The class of a failure, shared by every protocol crate so generic code can decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ErrorKind {
    /// Could not establish a connection (DNS, TCP, TLS, WebSocket handshake, join refused).
    Connect,
    /// The connection was closed, by the server or because the client was closed.
    Closed,
    /// Credentials were missing, wrong or expired.
    Auth,
    /// The server asked us to slow down.
    RateLimited,
    /// The server sent something we could not understand (the raw payload is kept).
    Protocol,
    /// An HTTP call failed with an unexpected status.
    Http,
    /// Something took longer than its configured limit.
    Timeout,
    /// The caller passed a value the platform cannot accept.
    InvalidInput,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether an error of this kind is, by default, worth retrying later.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Connect | Self::Closed | Self::RateLimited | Self::Timeout
        )
    }

    /// A short lower-case name (`"rate_limited"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Closed => "closed",
            Self::Auth => "auth",
            Self::RateLimited => "rate_limited",
            Self::Protocol => "protocol",
            Self::Http => "http",
            Self::Timeout => "timeout",
            Self::InvalidInput => "invalid_input",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one error type generic code sees.
///
/// Every protocol crate has its own detailed error enum and converts it into this one with
/// `From`, keeping the detailed error as the [`source`](std::error::Error::source).
pub struct Error {
    kind: ErrorKind,
    platform: Option<Platform>,
    retryable: bool,
    retry_after: Option<Duration>,
    source: BoxError,
}

impl Error {
    /// An error of `kind` caused by `source`; retryable as [`ErrorKind::is_retryable`] says.
    pub fn new(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            platform: None,
            retryable: kind.is_retryable(),
            retry_after: None,
            source: source.into(),
        }
    }

    /// Tags the error with the platform it came from.
    #[must_use]
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Overrides whether retrying may help.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Records how long the server asked us to wait; this also marks the error retryable.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self.retryable = true;
        self
    }

    /// The class of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The platform the error came from, when known.
    pub fn platform(&self) -> Option<Platform> {
        self.platform
    }

    /// Whether trying the same thing again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// How long the server asked us to wait before trying again, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The detailed error of the protocol crate (or the dependency) behind this one.
    pub fn into_source(self) -> BoxError {
        self.source
    }

    /// The detailed error, if it is of type `E` (for example `chzzk_chat::Error`).
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref::<E>()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("platform", &self.platform)
            .field("retryable", &self.retryable)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(platform) = self.platform {
            write!(f, "{platform}: ")?;
        }
        write!(f, "{}", self.source)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// At most `max_bytes` of `s`, cut on a character boundary, with `…` when cut: how the protocol
/// crates keep a payload (a raw frame, an HTTP body) in an error without keeping all of it.
pub fn excerpt(s: &str, max_bytes: usize) -> String {
    if s.len() <= max_bytes {
        return s.to_owned();
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_character_boundaries() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("가나다", 4), "가…"); // 3 bytes each: byte 4 is inside '나'
    }

    #[derive(Debug)]
    struct Detailed;
    impl fmt::Display for Detailed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the server said no")
        }
    }
    impl std::error::Error for Detailed {}

    #[test]
    fn classification() {
        let e = Error::new(ErrorKind::Auth, Detailed).with_platform(Platform::Chzzk);
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(!e.is_retryable());
        assert_eq!(e.retry_after(), None);
        assert_eq!(e.to_string(), "chzzk: the server said no");
        assert!(e.downcast_ref::<Detailed>().is_some());

        let e = Error::new(ErrorKind::Http, "503").with_retry_after(Duration::from_secs(3));
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(Error::new(ErrorKind::Timeout, "slow").is_retryable());
        assert!(
            !Error::new(ErrorKind::Timeout, "slow")
                .with_retryable(false)
                .is_retryable()
        );
    }

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_send_sync::<crate::ChatEvent>();
    }
}
