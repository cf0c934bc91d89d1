use std::time::Duration;

use chatwire_net::ReconnectPolicy;

/// A Stack Exchange chat server: its chat root, the Q&A site accounts log in on, the domain
/// of the login cookies, and the name of the chat session cookie.
///
/// URLs here are *logical*: cookies are scoped by them. [`Server::with_base`] sends every
/// request (and the websocket URL that `/ws-auth` hands back) to another origin instead,
/// which is how tests run against a local server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Server {
    /// `https://chat.stackexchange.com`.
    pub chat: String,
    /// The Q&A site accounts log in on (`https://meta.stackexchange.com`).
    pub login: String,
    /// The domain of the `acct`/`prov` login cookies (`stackexchange.com`).
    pub cookie_root: String,
    /// The chat session cookie (`sechatusr` or `chatusr`).
    pub chat_cookie: String,
    base: Option<(String, String)>,
}

impl Server {
    /// `chat.stackexchange.com` (login on meta.stackexchange.com, cookie `sechatusr`).
    pub fn stack_exchange() -> Self {
        Self::new(
            "https://chat.stackexchange.com",
            "https://meta.stackexchange.com",
            "stackexchange.com",
            "sechatusr",
        )
    }

    /// `chat.stackoverflow.com` (login on stackoverflow.com itself, cookie `chatusr`).
    pub fn stack_overflow() -> Self {
        Self::new(
            "https://chat.stackoverflow.com",
            "https://stackoverflow.com",
            "stackoverflow.com",
            "chatusr",
        )
    }

    /// `chat.meta.stackexchange.com` (login on meta.stackexchange.com, cookie `chatusr`).
    pub fn meta_stack_exchange() -> Self {
        Self::new(
            "https://chat.meta.stackexchange.com",
            "https://meta.stackexchange.com",
            "stackexchange.com",
            "chatusr",
        )
    }

    /// A server described by hand.
    pub fn new(chat: &str, login: &str, cookie_root: &str, chat_cookie: &str) -> Self {
        Self {
            chat: chat.trim_end_matches('/').into(),
            login: login.trim_end_matches('/').into(),
            cookie_root: cookie_root.into(),
            chat_cookie: chat_cookie.into(),
            base: None,
        }
    }

    /// The three real servers.
    pub fn all() -> [Self; 3] {
        [
            Self::stack_exchange(),
            Self::stack_overflow(),
            Self::meta_stack_exchange(),
        ]
    }

    /// The known server whose chat root is `chat` (as saved in a credentials file).
    pub fn from_chat_root(chat: &str) -> Option<Self> {
        Self::all()
            .into_iter()
            .find(|s| s.chat == chat.trim_end_matches('/'))
    }

    /// Sends every HTTP request to `http_base` and every websocket to `ws_base` (for example
    /// `http://127.0.0.1:PORT` / `ws://127.0.0.1:PORT`), keeping paths and queries. Cookies
    /// stay scoped by the logical URLs.
    #[must_use]
    pub fn with_base(mut self, http_base: &str, ws_base: &str) -> Self {
        self.base = Some((
            http_base.trim_end_matches('/').into(),
            ws_base.trim_end_matches('/').into(),
        ));
        self
    }

    /// The URL actually contacted for a logical `url`.
    pub(crate) fn physical(&self, url: &str) -> String {
        match &self.base {
            Some((http, ws)) => {
                let base = if url.starts_with("ws") { ws } else { http };
                match url.find("://").map(|i| i + 3) {
                    Some(start) => {
                        let path_start = url[start..].find('/').map_or(url.len(), |i| start + i);
                        format!("{base}{}", &url[path_start..])
                    }
                    None => url.to_owned(),
                }
            }
            None => url.to_owned(),
        }
    }
}

/// How rate limits (HTTP 409 "You can perform this action again in N seconds") are handled:
/// wait N seconds plus a margin and retry, in order, at most `max_retries` times.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitPolicy {
    /// Retries before [`Error::RateLimited`](crate::Error::RateLimited) is returned.
    pub max_retries: u32,
    /// Added to every wait (the server's rounding is rough).
    pub margin: Duration,
    /// How long one of the server's "seconds" is (1 s; tests shorten it).
    pub second: Duration,
    /// The wait when the body does not say.
    pub default_wait: u32,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            margin: Duration::from_millis(500),
            second: Duration::from_secs(1),
            default_wait: 5,
        }
    }
}

/// Intervals and timeouts (configurable so tests use milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timing {
    /// Reconnect when the socket has been silent this long (Stack Exchange has no heartbeat;
    /// quiet rooms still get counter frames).
    pub silence_timeout: Duration,
    /// Replace the socket this often even when it looks healthy (`None` = never).
    pub refresh_every: Option<Duration>,
    /// Limit for opening the socket.
    pub connect_timeout: Duration,
    /// Limit for one HTTP call.
    pub request_timeout: Duration,
    /// Anonymous polling: time between polls.
    pub poll_interval: Duration,
    /// Anonymous polling: consecutive failures tolerated.
    pub poll_retries: u32,
    /// Anonymous polling: wait per consecutive failure (`n` failures wait `n` times this).
    pub poll_failure_backoff: Duration,
    /// Limit for the closing handshake in [`Room::close`](crate::Room::close).
    pub close_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            silence_timeout: Duration::from_secs(120),
            refresh_every: Some(Duration::from_secs(2 * 3600)),
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(20),
            poll_interval: Duration::from_secs(3),
            poll_retries: 5,
            poll_failure_backoff: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything configurable about a client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// Rate-limit handling.
    pub rate_limit: RateLimitPolicy,
    /// How the event socket reconnects (default: 1 s doubling to 60 s with jitter, forever),
    /// with a fresh `/ws-auth` each time and the last event counter so the server replays
    /// what was missed.
    pub reconnect: ReconnectPolicy,
    /// Intervals and timeouts.
    pub timing: Timing,
    /// The `User-Agent` of every request.
    pub user_agent: String,
    /// Acknowledge mentions and replies (`POST /messages/ack`), as the web client does.
    pub ack_pings: bool,
    /// Seed of the reconnect jitter (`None`: from the clock).
    pub jitter_seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rate_limit: RateLimitPolicy::default(),
            reconnect: ReconnectPolicy::default().max(Duration::from_secs(60)),
            timing: Timing::default(),
            user_agent: concat!(
                "Mozilla/5.0 (compatible; sechat-rs/",
                env!("CARGO_PKG_VERSION"),
                ")"
            )
            .into(),
            ack_pings: true,
            jitter_seed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_goes_through_the_override() {
        let s = Server::stack_exchange().with_base("http://127.0.0.1:9", "ws://127.0.0.1:9");
        assert_eq!(
            s.physical("https://chat.stackexchange.com/chats/1/messages/new"),
            "http://127.0.0.1:9/chats/1/messages/new"
        );
        assert_eq!(
            s.physical("https://meta.stackexchange.com/users/login?x=1"),
            "http://127.0.0.1:9/users/login?x=1"
        );
        assert_eq!(
            s.physical("wss://chat.sockets.stackexchange.com/events/12345/abc?l=5"),
            "ws://127.0.0.1:9/events/12345/abc?l=5"
        );
        assert_eq!(
            s.physical("https://chat.stackexchange.com"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            Server::stack_overflow().physical("https://x.y/z"),
            "https://x.y/z"
        );
        assert_eq!(
            Server::from_chat_root("https://chat.stackoverflow.com/")
                .unwrap()
                .chat_cookie,
            "chatusr"
        );
    }
}
