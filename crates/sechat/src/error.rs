use std::time::Duration;

use chatwire_core::{BoxError, ErrorKind, Platform};

/// Why logging in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The login page had no `fkey` in its login form.
    #[error("no fkey on {url} (the login page changed?)")]
    NoFkey {
        /// The page.
        url: String,
    },
    /// A login step answered with an unexpected status.
    #[error("{step} answered HTTP {status}")]
    Rejected {
        /// Which step.
        step: &'static str,
        /// The status.
        status: u16,
    },
    /// `POST /users/login` did not redirect: wrong e-mail or password.
    #[error("login failed: incorrect e-mail or password?")]
    BadCredentials,
    /// `POST /users/login` redirected somewhere other than `/`: human verification (CAPTCHA).
    /// It usually follows too many logins; wait 5 to 10 minutes, and reuse saved credentials.
    #[error(
        "redirected to {location}: caught by a CAPTCHA? (too many logins; wait a few minutes and reuse saved credentials)"
    )]
    Captcha {
        /// Where the login redirected.
        location: String,
    },
    /// The chat server did not set its session cookie.
    #[error("the chat server did not set its {cookie} cookie: the login was not accepted by chat")]
    NoChatCookie {
        /// `sechatusr` or `chatusr`.
        cookie: String,
    },
    /// The chat page did not name the logged-in user.
    #[error("could not find the chat user id on {url}: the credentials were not accepted by chat")]
    UserIdNotFound {
        /// The page.
        url: String,
    },
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Logging in failed.
    #[error("login: {0}")]
    Login(#[from] LoginError),
    /// Saved credentials are no longer accepted (log in again).
    #[error("the saved credentials have expired")]
    Expired,
    /// The server refused an action and said why (its text, verbatim).
    #[error("{action} failed (HTTP {status}): {text}")]
    OperationFailed {
        /// What was attempted.
        action: &'static str,
        /// HTTP status.
        status: u16,
        /// The server's text.
        text: String,
    },
    /// The message does not exist (the server redirects instead of answering).
    #[error("message {message_id} does not exist")]
    NoSuchMessage {
        /// The id.
        message_id: u64,
    },
    /// Still rate limited after the configured retries.
    #[error("rate limited{}", retry_after.map(|d| format!(": try again in {d:?}")).unwrap_or_default())]
    RateLimited {
        /// What the server asked for last.
        retry_after: Option<Duration>,
    },
    /// An HTTP call answered with an unexpected status.
    #[error("{method} {url} failed: HTTP {status}: {body}")]
    Http {
        /// Method.
        method: &'static str,
        /// The logical URL, without query.
        url: String,
        /// Status.
        status: u16,
        /// The body (truncated).
        body: String,
    },
    /// Network or TLS failure.
    #[error("network error: {source}")]
    Transport {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// Something took longer than its limit.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What.
        what: &'static str,
    },
    /// The server sent something that could not be decoded; the payload is kept.
    #[error("could not decode {what}: {why} (raw: {raw})")]
    Decode {
        /// What.
        what: &'static str,
        /// Why.
        why: String,
        /// The payload (truncated).
        raw: String,
    },
    /// The event stream ended.
    #[error("closed: {reason}")]
    Closed {
        /// Why.
        reason: String,
    },
    /// The caller passed something Stack Exchange cannot accept.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Reading or writing a credentials file failed.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

pub(crate) use chatwire_core::excerpt as truncate;

impl Error {
    pub(crate) fn transport(source: impl Into<BoxError>) -> Self {
        Self::Transport {
            source: source.into(),
        }
    }

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
            Self::Login(_) | Self::Expired => ErrorKind::Auth,
            Self::OperationFailed { .. } | Self::NoSuchMessage { .. } | Self::InvalidInput(_) => {
                ErrorKind::InvalidInput
            }
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Http { .. } => ErrorKind::Http,
            Self::Transport { .. } => ErrorKind::Connect,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Decode { .. } => ErrorKind::Protocol,
            Self::Closed { .. } => ErrorKind::Closed,
            Self::File { .. } => ErrorKind::Other,
        }
    }

    /// Whether waiting cannot help: the login or the saved credentials were refused, the
    /// input or the message was wrong, a file could not be used. A joined room's socket
    /// retries every other failure (gateway error pages, rate limits, lost connections).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Login(_)
                | Self::Expired
                | Self::InvalidInput(_)
                | Self::NoSuchMessage { .. }
                | Self::File { .. }
        )
    }

    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. }
            | Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::Closed { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// How long the server asked to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl From<Error> for chatwire_core::Error {
    fn from(e: Error) -> Self {
        let (kind, retryable, after) = (e.kind(), e.is_retryable(), e.retry_after());
        let mut out = chatwire_core::Error::new(kind, e)
            .with_platform(Platform::StackExchange)
            .with_retryable(retryable);
        if let Some(d) = after {
            out = out.with_retry_after(d);
        }
        out
    }
}
