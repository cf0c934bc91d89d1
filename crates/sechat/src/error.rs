use std::time::Duration;

use chatwire_net::Method;
use std::path::PathBuf;

use chatwire_core::{DecodeError, ErrorKind, Platform, Retry};

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

chatwire_net::error_enum! {
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
            message_id: crate::MessageId,
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
            method: Method,
            /// The logical URL, without query.
            url: String,
            /// Status.
            status: u16,
            /// The body (truncated).
            body: String,
        },
        /// Reading or writing a credentials file failed.
        #[error("{}: {source}", path.display())]
        File {
            /// The file.
            path: PathBuf,
            /// The I/O error.
            #[source]
            source: std::io::Error,
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
            Self::Login(_) | Self::Expired => ErrorKind::Auth,
            Self::OperationFailed { .. } | Self::NoSuchMessage { .. } | Self::InvalidInput(_) => {
                ErrorKind::InvalidInput
            }
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Http { .. } => ErrorKind::Http,
            Self::Transport { .. } => ErrorKind::Connect,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Decode(_) => ErrorKind::Protocol,
            Self::Closed { .. } => ErrorKind::Closed,
            Self::File { .. } => ErrorKind::Other,
        }
    }

    /// What trying again would take; a joined room's socket follows it (everything but
    /// [`Retry::Never`] is retried).
    ///
    /// - [`Retry::Never`]: the login or the saved credentials were refused, the input or the
    ///   message was wrong, a file could not be used, the server refused an action (other
    ///   than with 409, 429 or 5xx), an HTTP call failed with a 4xx other than 408, 409 and 429.
    /// - [`Retry::Now`]: an event or frame that did not decode (the stream goes on).
    /// - [`Retry::After`]: still rate limited, and the server said how long.
    /// - [`Retry::Backoff`]: network failures, timeouts, closes, HTTP 5xx, 408, 409 and 429.
    pub fn retry(&self) -> Retry {
        // 409 is Stack Exchange's "You can perform this action again in N seconds".
        let passing = |status: u16| matches!(status, 408 | 409 | 429 | 500..);
        match self {
            Self::Login(_)
            | Self::Expired
            | Self::InvalidInput(_)
            | Self::NoSuchMessage { .. }
            | Self::File { .. } => Retry::Never,
            Self::OperationFailed { status, .. } | Self::Http { status, .. }
                if !passing(*status) =>
            {
                Retry::Never
            }
            Self::Decode(_) => Retry::Now,
            Self::RateLimited {
                retry_after: Some(d),
            } => Retry::After(*d),
            Self::OperationFailed { .. }
            | Self::Http { .. }
            | Self::RateLimited { .. }
            | Self::Transport { .. }
            | Self::Timeout { .. }
            | Self::Closed { .. } => Retry::Backoff,
        }
    }
}

chatwire_net::client_error!(Error, Platform::StackExchange);
