//! The REST calls, built on [`Endpoints`](crate::Endpoints). Every answer is the envelope
//! `{"code", "message", "content"}`; `code` 200 is success.

use chatwire_net::Method;
use std::time::Duration;

use serde_json::Value;

use crate::Error;
use crate::config::{Credentials, Endpoints};
use crate::error::truncate;
use crate::proto::json::Obj;
use chatwire_net::http::{self as net, Request};

/// The web client's origin, sent with every call and the socket (some gateways want it).
pub(crate) const ORIGIN: &str = "https://chzzk.naver.com";

/// What one call needs; cheap to build per call.
pub(crate) struct Api<'a> {
    pub(crate) endpoints: &'a Endpoints,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) user_agent: &'a str,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Api<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("endpoints", self.endpoints)
            .field("logged_in", &self.credentials.is_some())
            .finish()
    }
}

pub(crate) use chatwire_net::encode::percent as enc;

/// Whether a call sends the login cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// Sent when available.
    Optional,
    /// Required: fails locally without credentials.
    Required(&'static str),
}

impl Api<'_> {
    /// Sends a call and returns the envelope's `content` (`Null` when absent).
    pub(crate) async fn call(
        &self,
        method: Method,
        url: String,
        login: Login,
        json: Option<Value>,
    ) -> Result<Value, Error> {
        if let (Login::Required(action), None) = (login, &self.credentials) {
            return Err(Error::LoginRequired { action });
        }
        let shown = url.split('?').next().unwrap_or_default().to_owned();
        let mut headers = vec![
            ("user-agent", self.user_agent.to_owned()),
            ("accept", "application/json, text/plain, */*".to_owned()),
            ("origin", ORIGIN.to_owned()),
            ("referer", format!("{ORIGIN}/")),
        ];
        if let Some(credentials) = &self.credentials {
            headers.push(("cookie", credentials.cookie_header()));
        }
        let body = json.map(|v| {
            headers.push(("content-type", "application/json".to_owned()));
            v.to_string().into()
        });
        let request = Request {
            method,
            url: &url,
            headers,
            body,
        };
        let resp = net::send(request, self.timeout).await?;
        let (status, body) = (resp.status, resp.body);
        let text = String::from_utf8_lossy(&body);
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let envelope = parsed.as_ref().map(Obj::of);
        let code = envelope.and_then(|o| o.i64(&["code"]));
        let message = envelope.and_then(|o| o.str(&["message"]));
        if status == 429 {
            return Err(Error::RateLimited { retry_after: None });
        }
        if status >= 400 || code.is_some_and(|c| c != 200) {
            return Err(Error::Http {
                method,
                url: shown,
                status,
                code,
                message,
                body: truncate(&text, 2048),
            });
        }
        let Some(parsed) = parsed else {
            return Err(Error::decode("an HTTP answer", "not JSON", &text));
        };
        Ok(Obj::of(&parsed)
            .get(&["content"])
            .cloned()
            .unwrap_or(Value::Null))
    }

    pub(crate) async fn live_status(&self, channel_id: &str) -> Result<Value, Error> {
        let url = format!(
            "{}/polling/v2/channels/{}/live-status",
            self.endpoints.api,
            enc(channel_id)
        );
        self.call(Method::Get, url, Login::Optional, None).await
    }

    pub(crate) async fn live_detail(&self, channel_id: &str) -> Result<Value, Error> {
        let url = format!(
            "{}/service/v2/channels/{}/live-detail",
            self.endpoints.api,
            enc(channel_id)
        );
        self.call(Method::Get, url, Login::Optional, None).await
    }

    pub(crate) async fn access_token(&self, chat_channel_id: &str) -> Result<Value, Error> {
        let url = format!(
            "{}/v1/chats/access-token?channelId={}&chatType=STREAMING",
            self.endpoints.game,
            enc(chat_channel_id)
        );
        self.call(Method::Get, url, Login::Optional, None).await
    }

    pub(crate) async fn user_status(&self) -> Result<Value, Error> {
        let url = format!("{}/v1/user/getUserStatus", self.endpoints.game);
        self.call(Method::Get, url, Login::Required("getUserStatus"), None)
            .await
    }

    pub(crate) async fn profile_card(
        &self,
        chat_channel_id: &str,
        user_id: &str,
    ) -> Result<Value, Error> {
        let url = format!(
            "{}/v1/chats/{}/users/{}/profile-card?chatType=STREAMING",
            self.endpoints.game,
            enc(chat_channel_id),
            enc(user_id)
        );
        self.call(Method::Get, url, Login::Required("profile_card"), None)
            .await
    }

    pub(crate) async fn set_notice(&self, body: Value) -> Result<Value, Error> {
        let url = format!("{}/v1/chats/notices", self.endpoints.game);
        self.call(
            Method::Post,
            url,
            Login::Required("set_notice_message"),
            Some(body),
        )
        .await
    }

    pub(crate) async fn delete_notice(&self, chat_channel_id: &str) -> Result<Value, Error> {
        let url = format!("{}/v1/chats/notices", self.endpoints.game);
        let body = serde_json::json!({"channelId": chat_channel_id, "chatType": "STREAMING"});
        self.call(
            Method::Delete,
            url,
            Login::Required("delete_notice_message"),
            Some(body),
        )
        .await
    }

    pub(crate) async fn blind(&self, body: Value) -> Result<Value, Error> {
        let url = format!("{}/v1/chats/blind-message", self.endpoints.game);
        self.call(
            Method::Post,
            url,
            Login::Required("blind_message"),
            Some(body),
        )
        .await
    }

    /// A call to the streamer's management API (`{api}/manage/v1/channels/{id}{path}`).
    pub(crate) async fn manage(
        &self,
        method: Method,
        channel_id: &str,
        path: &str,
        json: Option<Value>,
    ) -> Result<Value, Error> {
        let url = format!(
            "{}/manage/v1/channels/{}{path}",
            self.endpoints.api,
            enc(channel_id)
        );
        self.call(method, url, Login::Required("the management API"), json)
            .await
    }
}
