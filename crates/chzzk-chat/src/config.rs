use crate::model::ChannelId;
use std::fmt;
use std::time::Duration;

use chatwire_net::ReconnectPolicy;

/// The NAVER login cookies (`NID_AUT`, `NID_SES`) copied from a browser. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub(crate) nid_aut: String,
    pub(crate) nid_ses: String,
}

impl Credentials {
    /// Login cookies: `NID_AUT` and `NID_SES`.
    pub fn new(nid_aut: impl Into<String>, nid_ses: impl Into<String>) -> Self {
        Self {
            nid_aut: nid_aut.into(),
            nid_ses: nid_ses.into(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        format!("NID_AUT={}; NID_SES={}", self.nid_aut, self.nid_ses)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("nid_aut", &"<redacted>")
            .field("nid_ses", &"<redacted>")
            .finish()
    }
}

chatwire_net::settings! {
    /// Every URL the client contacts. Replay tests point them all at loopback with
    /// [`Endpoints::local`]; each can also be set on its own.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Endpoints {
        /// The Chzzk service API (`https://api.chzzk.naver.com`): live status and detail,
        /// moderation, missions.
        api: String,
        /// The NAVER game community API (`https://comm-api.game.naver.com/nng_main`): chat
        /// token, user, notices, blinds, profile cards.
        game: String,
        /// The chat socket. `{n}` is replaced by a server number: the chzzkpy formula's first,
        /// then the others in turn on reconnects (`wss://kr-ss{n}.chat.naver.com/chat`).
        chat: String,
    }
}

impl Endpoints {
    /// The real Chzzk services.
    pub fn production() -> Self {
        Self {
            api: "https://api.chzzk.naver.com".into(),
            game: "https://comm-api.game.naver.com/nng_main".into(),
            chat: "wss://kr-ss{n}.chat.naver.com/chat".into(),
        }
    }

    /// The loopback override (the same name in every chatwire client): everything on one
    /// local server, `{http}` for both APIs (the game API under `/nng_main`) and `{ws}/chat`
    /// for the socket.
    pub fn local(http_base: &str, ws_base: &str) -> Self {
        let http = http_base.trim_end_matches('/');
        Self {
            api: http.to_owned(),
            game: format!("{http}/nng_main"),
            chat: format!("{}/chat", ws_base.trim_end_matches('/')),
        }
    }

    /// The socket URL for the `attempt`-th try (0 = first) on `chat_channel_id`.
    pub(crate) fn chat_url(&self, chat_channel_id: &str, attempt: u32) -> String {
        if !self.chat.contains("{n}") {
            return self.chat.clone();
        }
        let first = chat_channel_id.chars().map(|c| c as u32).sum::<u32>() % 9;
        let n = (first + attempt) % 9 + 1;
        self.chat.replace("{n}", &n.to_string())
    }
}

impl Default for Endpoints {
    fn default() -> Self {
        Self::production()
    }
}

chatwire_net::settings! {
    /// Intervals and timeouts. Everything is configurable so tests can use milliseconds.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Timing {
        /// Send a PING when nothing arrived for this long (default and web client: 20 s).
        ping_after: Duration,
        /// Give the connection up when nothing arrives this long after our PING (default and
        /// web: 10 s).
        pong_timeout: Duration,
        /// Poll the live status this often to follow broadcasts (default and web: 30 s);
        /// `None` = never.
        live_poll: Option<Duration>,
        /// Limit for TCP + TLS + WebSocket handshake, and for the join answer (default 10 s).
        connect_timeout: Duration,
        /// Limit for one HTTP call (default 10 s).
        request_timeout: Duration,
        /// Limit for [`ChatClient::history`](crate::ChatClient::history) to get its answer
        /// (default 10 s).
        history_timeout: Duration,
        /// Limit for the closing handshake in `close()` (default 5 s).
        close_timeout: Duration,
    }
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            ping_after: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(10),
            live_poll: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            history_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// What a [`ChatClient`](crate::ChatClient) is built from.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) channel_id: ChannelId,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) endpoints: Endpoints,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) timing: Timing,
    pub(crate) user_agent: String,
    pub(crate) gap_fill: u32,
    pub(crate) wait_for_live: bool,
    pub(crate) jitter_seed: Option<u64>,
}

/// A browser user agent: without one, the servers sometimes drop requests (chzzkpy #8).
pub(crate) const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Builds a [`ChatClient`](crate::ChatClient). `build()` cannot fail; problems surface on use.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    pub(crate) config: Config,
}

impl ClientBuilder {
    pub(crate) fn new(channel_id: impl Into<ChannelId>) -> Self {
        Self {
            config: Config {
                channel_id: channel_id.into(),
                credentials: None,
                endpoints: Endpoints::production(),
                reconnect: ReconnectPolicy::default(),
                timing: Timing::default(),
                user_agent: USER_AGENT.into(),
                gap_fill: 50,
                wait_for_live: false,
                jitter_seed: None,
            },
        }
    }

    /// Log in with the `NID_AUT` / `NID_SES` cookies (needed to send, moderate, and join 19+).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = Some(credentials);
        self
    }

    /// Where to connect (default: production).
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.config.endpoints = endpoints;
        self
    }

    /// How to reconnect (default: 1 s doubling to 30 s with jitter, forever).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = policy;
        self
    }

    /// Intervals and timeouts.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.config.timing = timing;
        self
    }

    /// The `User-Agent` of HTTP calls and the socket handshake.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.config.user_agent = user_agent.into();
        self
    }

    /// How many recent lines to ask for after a reconnect to fill the gap (default 50; 0 turns
    /// gap filling off).
    pub fn gap_fill(mut self, count: u32) -> Self {
        self.config.gap_fill = count;
        self
    }

    /// When the channel is off air at connect time, wait for its next broadcast (polling the
    /// live status) instead of failing with [`Error::ChannelOffline`](crate::Error::ChannelOffline).
    pub fn wait_for_live(mut self, wait: bool) -> Self {
        self.config.wait_for_live = wait;
        self
    }

    /// Seeds the reconnect jitter (tests and reproducible runs; default: from the clock).
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.config.jitter_seed = Some(seed);
        self
    }

    /// The client.
    pub fn build(self) -> crate::ChatClient {
        crate::ChatClient::from_config(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_number_follows_chzzkpy_then_rotates() {
        let e = Endpoints::production();
        // Worked examples from the protocol notes.
        assert_eq!(e.chat_url("N2mCH5", 0), "wss://kr-ss7.chat.naver.com/chat");
        assert_eq!(e.chat_url("N2l_uf", 0), "wss://kr-ss2.chat.naver.com/chat");
        assert_eq!(e.chat_url("N15cWS", 0), "wss://kr-ss9.chat.naver.com/chat");
        assert_eq!(e.chat_url("N15cWS", 1), "wss://kr-ss1.chat.naver.com/chat");
        assert_eq!(
            Endpoints::local("http://127.0.0.1:1", "ws://127.0.0.1:1").chat_url("x", 3),
            "ws://127.0.0.1:1/chat"
        );
    }

    #[test]
    fn credentials_never_print() {
        let c = Credentials::new("secret-aut-value", "secret-ses-value");
        let shown = format!(
            "{c:?} {:?}",
            ClientBuilder::new("ch").credentials(c.clone())
        );
        assert!(!shown.contains("secret"), "{shown}");
    }
}
