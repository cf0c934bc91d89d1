use std::time::Duration;

use chatwire_net::ReconnectPolicy;

use crate::Credentials;
use crate::ids::UserId;

/// A Stack Exchange chat server: its chat root, the Q&A site accounts log in on, the domain
/// of the login cookies, and the name of the chat session cookie.
///
/// URLs here are *logical*: cookies are scoped by them. [`Server::local`] sends every
/// request (and the websocket URL that `/ws-auth` hands back) to another origin instead,
/// which is how tests run against a local server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub(crate) chat: String,
    pub(crate) login: String,
    pub(crate) cookie_root: String,
    pub(crate) chat_cookie: String,
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

    /// The chat root (`https://chat.stackexchange.com`).
    pub fn chat(&self) -> &str {
        &self.chat
    }

    /// The Q&A site accounts log in on (`https://meta.stackexchange.com`).
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The domain of the `acct`/`prov` login cookies (`stackexchange.com`).
    pub fn cookie_root(&self) -> &str {
        &self.cookie_root
    }

    /// The chat session cookie (`sechatusr` or `chatusr`).
    pub fn chat_cookie(&self) -> &str {
        &self.chat_cookie
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

    /// The loopback override (the same name in every chatwire client): sends every HTTP
    /// request to `http_base` and every websocket to `ws_base` (for example
    /// `http://127.0.0.1:PORT` / `ws://127.0.0.1:PORT`), keeping paths and queries, including
    /// the URLs the server hands back. Cookies stay scoped by the logical URLs.
    #[must_use]
    pub fn local(mut self, http_base: &str, ws_base: &str) -> Self {
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

chatwire_net::settings! {
    /// How rate limits (HTTP 409 "You can perform this action again in N seconds") are
    /// handled: wait N seconds plus a margin and retry, in order, at most `max_retries` times.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RateLimitPolicy {
        /// Retries before [`Error::RateLimited`](crate::Error::RateLimited) is returned
        /// (default 5).
        max_retries: u32,
        /// Added to every wait, as the server's rounding is rough (default 500 ms).
        margin: Duration,
        /// How long one of the server's "seconds" is (1 s; tests shorten it).
        second: Duration,
        /// The wait in seconds when the body does not say (default 5).
        default_wait: u32,
    }
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

chatwire_net::settings! {
    /// Intervals and timeouts (configurable so tests use milliseconds).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Timing {
        /// Reconnect when the socket has been silent this long (default 120 s; Stack Exchange
        /// has no heartbeat, and quiet rooms still get counter frames).
        silence_timeout: Duration,
        /// Replace the socket this often even when it looks healthy (default 2 h; `None` =
        /// never).
        refresh_every: Option<Duration>,
        /// Limit for opening the socket (default 15 s).
        connect_timeout: Duration,
        /// Limit for one HTTP call (default 20 s).
        request_timeout: Duration,
        /// Anonymous reading: time between polls (default 3 s).
        poll_interval: Duration,
        /// Anonymous reading: consecutive failures tolerated (default 5).
        poll_retries: u32,
        /// Anonymous reading: wait per consecutive failure, so `n` failures wait `n` times
        /// this (default 10 s).
        poll_failure_backoff: Duration,
        /// Limit for the closing handshake in [`Room::close`](crate::Room::close) (default
        /// 5 s).
        close_timeout: Duration,
    }
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

/// Everything configurable about a client, set through
/// [`ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub(crate) rate_limit: RateLimitPolicy,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) timing: Timing,
    pub(crate) user_agent: String,
    pub(crate) ack_pings: bool,
    pub(crate) jitter_seed: Option<u64>,
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

/// Builds a [`ChatClient`](crate::ChatClient): `ChatClient::builder(&server)`, the setters
/// you need, then [`build`](Self::build). Building does no I/O. Clone it to build several
/// clients with the same settings (an anonymous one to log in with, then the logged-in one).
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    pub(crate) server: Server,
    pub(crate) jar: cookie_store::CookieStore,
    pub(crate) user_id: Option<UserId>,
    pub(crate) options: Options,
}

impl ClientBuilder {
    pub(crate) fn new(server: &Server) -> Self {
        Self {
            server: server.clone(),
            jar: cookie_store::CookieStore::default(),
            user_id: None,
            options: Options::default(),
        }
    }

    /// Acts as the account of `credentials` (without them the client reads anonymously). The
    /// server becomes the one the credentials were made or loaded with.
    pub fn credentials(mut self, credentials: &Credentials) -> Self {
        self.server = credentials.server.clone();
        self.jar = credentials.jar.clone();
        self.user_id = Some(credentials.user_id);
        self
    }

    /// Rate-limit handling (default: [`RateLimitPolicy::default`]).
    pub fn rate_limit(mut self, policy: RateLimitPolicy) -> Self {
        self.options.rate_limit = policy;
        self
    }

    /// How the event socket reconnects (default: 1 s doubling to 60 s with jitter, forever),
    /// with a fresh `/ws-auth` each time and the last event counter, so the server replays
    /// what was missed.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.options.reconnect = policy;
        self
    }

    /// Intervals and timeouts (default: [`Timing::default`]).
    pub fn timing(mut self, timing: Timing) -> Self {
        self.options.timing = timing;
        self
    }

    /// The `User-Agent` of every request.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.options.user_agent = user_agent.into();
        self
    }

    /// Whether to acknowledge mentions and replies (`POST /messages/ack`) as the web client
    /// does (default: yes).
    pub fn ack_pings(mut self, ack: bool) -> Self {
        self.options.ack_pings = ack;
        self
    }

    /// Seeds the reconnect jitter, for reproducible tests (default: from the clock).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.options.jitter_seed = Some(seed);
        self
    }

    /// The client.
    pub fn build(self) -> crate::ChatClient {
        crate::ChatClient::from_builder(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_goes_through_the_override() {
        let s = Server::stack_exchange().local("http://127.0.0.1:9", "ws://127.0.0.1:9");
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
