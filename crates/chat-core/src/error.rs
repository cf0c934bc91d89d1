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
    /// What to do, by default, about a failure of this kind: wait with backoff for
    /// connection losses, rate limits and timeouts; never for the rest.
    pub const fn default_retry(self) -> Retry {
        match self {
            Self::Connect | Self::Closed | Self::RateLimited | Self::Timeout => Retry::Backoff,
            _ => Retry::Never,
        }
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

/// The one retry decision every error of every chatwire crate makes: what trying the same
/// thing again would take.
///
/// A client's own reconnect loop follows it (after a first successful join, everything but
/// [`Never`](Self::Never) is retried), `run(handler)` returns the error that ended the stream
/// only when it is `Never`, and generic code can follow it too.
///
/// ```
/// use std::time::Duration;
/// use chatwire_core::Retry;
///
/// fn wait_before_retrying(retry: Retry, backoff: Duration) -> Option<Duration> {
///     match retry {
///         Retry::Never => None,
///         Retry::Now => Some(Duration::ZERO),
///         Retry::After(d) => Some(d),
///         Retry::Backoff => Some(backoff),
///     }
/// }
/// assert_eq!(wait_before_retrying(Retry::After(Duration::from_secs(3)), Duration::ZERO), Some(Duration::from_secs(3)));
/// assert_eq!(wait_before_retrying(Retry::Never, Duration::ZERO), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(
    clippy::exhaustive_enums,
    reason = "a decision callers must handle whole: a new variant would be a breaking change on purpose"
)]
pub enum Retry {
    /// Waiting cannot help: the input, the credentials or the target is wrong, or the same
    /// payload would fail to decode again.
    Never,
    /// Try again at once: the failure concerned one item (a frame that did not decode, and the
    /// stream goes on) or the server asked to reconnect elsewhere.
    Now,
    /// Try again after this long, as the server asked.
    After(Duration),
    /// Try again after an exponential backoff with jitter: a lost connection, a timeout, a
    /// gateway error page.
    Backoff,
}

impl Retry {
    /// Whether trying again may help (anything but [`Never`](Self::Never)).
    pub const fn is_retryable(self) -> bool {
        !matches!(self, Self::Never)
    }

    /// The wait the server asked for, when it did.
    pub const fn after(self) -> Option<Duration> {
        match self {
            Self::After(d) => Some(d),
            _ => None,
        }
    }
}

/// The one error type generic code sees.
///
/// Every protocol crate has its own detailed error enum and converts it into this one with
/// `From`, keeping the detailed error as the [`source`](std::error::Error::source).
pub struct Error {
    kind: ErrorKind,
    platform: Option<Platform>,
    retry: Retry,
    source: BoxError,
}

impl Error {
    /// An error of `kind` caused by `source`, with the [`ErrorKind::default_retry`] decision.
    pub fn new(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            platform: None,
            retry: kind.default_retry(),
            source: source.into(),
        }
    }

    /// Tags the error with the platform it came from.
    #[must_use]
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Sets the retry decision (protocol crates pass their own error's).
    #[must_use]
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
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

    /// What trying again would take.
    pub fn retry(&self) -> Retry {
        self.retry
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
            .field("retry", &self.retry)
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

/// A payload the server (or a peer) sent that could not be decoded: what it was meant to be,
/// an excerpt of the payload, and why it failed. Every protocol crate's `Error::Decode` holds
/// one; the event stream goes on after it. Cheap to clone (the source is shared), so a client
/// that broadcasts events to many subscribers can hand each its copy.
#[derive(Clone)]
pub struct DecodeError {
    what: &'static str,
    raw: String,
    source: std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>,
}

impl DecodeError {
    /// The longest excerpt of the payload kept, in bytes.
    pub const MAX_RAW: usize = 4096;

    /// `raw` failed to decode as `what` because of `source` (a serde error, or a sentence).
    pub fn new(what: &'static str, raw: &str, source: impl Into<BoxError>) -> Self {
        Self {
            what,
            raw: excerpt(raw, Self::MAX_RAW),
            source: source.into().into(),
        }
    }

    /// What was being decoded ("a chat frame", "the ws-auth answer", ...).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The payload, cut to [`MAX_RAW`](Self::MAX_RAW) bytes on a character boundary.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("what", &self.what)
            .field("raw", &self.raw)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode {}: {} (raw: {})",
            self.what, self.source, self.raw
        )
    }
}

impl std::error::Error for DecodeError {
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
        assert_eq!(e.retry(), Retry::Never);
        assert!(!e.retry().is_retryable());
        assert_eq!(e.to_string(), "chzzk: the server said no");
        assert!(e.downcast_ref::<Detailed>().is_some());

        let e = Error::new(ErrorKind::Http, "503").with_retry(Retry::After(Duration::from_secs(3)));
        assert!(e.retry().is_retryable());
        assert_eq!(e.retry().after(), Some(Duration::from_secs(3)));
        assert_eq!(
            Error::new(ErrorKind::Timeout, "slow").retry(),
            Retry::Backoff
        );
        assert_eq!(
            Error::new(ErrorKind::Timeout, "slow")
                .with_retry(Retry::Never)
                .retry(),
            Retry::Never
        );
    }

    #[test]
    fn decode_errors_keep_an_excerpt_and_the_source() {
        let long = "가".repeat(DecodeError::MAX_RAW);
        let e = DecodeError::new("a frame", &long, Detailed);
        assert_eq!(e.what(), "a frame");
        assert!(e.raw().len() <= DecodeError::MAX_RAW + '…'.len_utf8());
        assert!(e.raw().ends_with('…'));
        assert_eq!(
            std::error::Error::source(&e)
                .map(ToString::to_string)
                .as_deref(),
            Some("the server said no")
        );
        assert!(
            e.to_string()
                .starts_with("could not decode a frame: the server said no (raw: 가")
        );
    }

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_send_sync::<DecodeError>();
        assert_send_sync::<Retry>();
        assert_send_sync::<crate::ChatEvent>();
    }
}
