//! One account's HTTP side: the cookie jar (scoped by logical URLs), the chat fkey, and the
//! action queue that waits out rate limits in order.

use chatwire_net::Method;
use std::sync::Mutex;

use cookie_store::{CookieStore, RawCookie};
use hyper::body::Bytes;
use url::Url;

use crate::Error;
use crate::config::{Options, Server};
use crate::error::truncate;
use crate::ids::UserId;
use crate::proto::{self, html};
pub(crate) use chatwire_net::encode::form;
use chatwire_net::http::{self as net, Request, Response};
use chatwire_net::lock;

pub(crate) struct Session {
    pub(crate) server: Server,
    pub(crate) options: Options,
    jar: Mutex<CookieStore>,
    fkey: Mutex<Option<String>>,
    /// Serialises actions (posts, edits, stars, ...) so a rate-limit wait keeps their order.
    actions: tokio::sync::Mutex<()>,
    pub(crate) user_id: Option<UserId>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server.chat)
            .field("user_id", &self.user_id)
            .field("cookies", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        server: Server,
        options: Options,
        jar: CookieStore,
        user_id: Option<UserId>,
    ) -> Self {
        Self {
            server,
            options,
            jar: Mutex::new(jar),
            fkey: Mutex::new(None),
            actions: tokio::sync::Mutex::new(()),
            user_id,
        }
    }

    pub(crate) fn jar(&self) -> CookieStore {
        lock(&self.jar).clone()
    }

    /// The chat root plus `path`.
    pub(crate) fn chat_url(&self, path: &str) -> String {
        format!("{}{path}", self.server.chat)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        content_type: Option<String>,
        body: Option<Bytes>,
    ) -> Result<Response, Error> {
        let logical =
            Url::parse(url).map_err(|e| Error::InvalidInput(format!("bad URL {url}: {e}")))?;
        let origin = logical.origin().ascii_serialization();
        let mut headers = vec![
            ("user-agent", self.options.user_agent.clone()),
            (
                "accept",
                "application/json, text/javascript, text/html, */*; q=0.01".to_owned(),
            ),
            ("origin", origin.clone()),
            ("referer", format!("{origin}/")),
        ];
        let cookies: Vec<String> = lock(&self.jar)
            .get_request_values(&logical)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            headers.push(("cookie", cookies.join("; ")));
        }
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        let physical = self.server.physical(url);
        let request = Request {
            method,
            url: &physical,
            headers,
            body,
        };
        let resp = net::send(request, self.options.timing.request_timeout).await?;
        let set: Vec<RawCookie<'static>> = resp
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|s| RawCookie::parse(s.to_owned()).ok())
            .collect();
        if !set.is_empty() {
            lock(&self.jar).store_response_cookies(set.into_iter(), &logical);
        }
        Ok(resp)
    }

    pub(crate) async fn get(&self, url: &str) -> Result<Response, Error> {
        self.send(Method::Get, url, None, None).await
    }

    pub(crate) async fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, Error> {
        let body = Bytes::from(form(fields));
        self.send(
            Method::Post,
            url,
            Some("application/x-www-form-urlencoded; charset=UTF-8".into()),
            Some(body),
        )
        .await
    }

    pub(crate) async fn post_multipart(
        &self,
        url: &str,
        body: Bytes,
        boundary: &str,
    ) -> Result<Response, Error> {
        self.send(
            Method::Post,
            url,
            Some(format!("multipart/form-data; boundary={boundary}")),
            Some(body),
        )
        .await
    }

    /// The chat fkey (scraped once from `/chats/join/favorite`, which works anonymously too).
    pub(crate) async fn fkey(&self) -> Result<String, Error> {
        if let Some(k) = lock(&self.fkey).clone() {
            return Ok(k);
        }
        let url = self.chat_url("/chats/join/favorite");
        let resp = self.get(&url).await?;
        if resp.status != 200 {
            return Err(Error::Http {
                method: Method::Get,
                url,
                status: resp.status,
                body: truncate(&resp.text(), 512),
            });
        }
        let key = html::fkey(&resp.text(), None).ok_or_else(|| {
            Error::decode(
                "the chat fkey",
                "no input#fkey on the page",
                &truncate(&resp.text(), 512),
            )
        })?;
        *lock(&self.fkey) = Some(key.clone());
        Ok(key)
    }

    /// Posts an action with the fkey. Rate limits (409) are waited out and retried in order, at
    /// most `max_retries` times.
    pub(crate) async fn action(
        &self,
        url: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, Error> {
        let fkey = self.fkey().await?;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("fkey", &fkey));
        let _queue = self.actions.lock().await;
        let policy = &self.options.rate_limit;
        let mut attempt = 0;
        loop {
            let resp = self.post_form(url, &all).await?;
            let text = resp.text();
            let limited = resp.status == 409
                || (resp.status >= 400 && text.starts_with("You can perform this action again"));
            if !limited {
                return Ok(resp);
            }
            let n = proto::rate_limit_seconds(&text).unwrap_or(policy.default_wait);
            let wait = policy.second * n;
            if attempt >= policy.max_retries {
                return Err(Error::RateLimited {
                    retry_after: Some(wait),
                });
            }
            attempt += 1;
            tracing::debug!(seconds = n, attempt, "rate limited; waiting");
            tokio::time::sleep(wait + policy.margin).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_urlencoded() {
        assert_eq!(
            form(&[("text", "a b&c=d ✓"), ("fkey", "k")]),
            "text=a+b%26c%3Dd+%E2%9C%93&fkey=k"
        );
    }
}
