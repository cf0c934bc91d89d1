//! One-shot HTTP/1.1: a fresh connection per request, the whole answer read.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::Uri;
use hyper::body::Bytes;

use crate::{Method, NetError, stream};

/// A request (no `Debug`: its headers carry cookies and tokens).
#[allow(missing_debug_implementations)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The whole URL.
    pub url: &'a str,
    /// Headers besides `Host`, which is set from the URL.
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<Bytes>,
}

/// An answer, read whole.
#[derive(Debug)]
#[non_exhaustive]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `req` on a fresh connection (redirects are not followed) and reads the whole answer,
/// all within `limit`.
///
/// # Errors
/// [`NetError::InvalidUrl`], [`NetError::Timeout`] (`"an HTTP answer"`), [`NetError::Io`].
pub async fn send(req: Request<'_>, limit: Duration) -> Result<Response, NetError> {
    let fut = async {
        let uri: Uri = req
            .url
            .parse()
            .map_err(|_| NetError::InvalidUrl(req.url.to_owned()))?;
        let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
        let stream = stream::open(&uri).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(NetError::io)?;
        tokio::spawn(conn);
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let mut builder = hyper::Request::builder()
            .method(req.method.as_str())
            .uri(path)
            .header("host", authority);
        for (k, v) in req.headers {
            builder = builder.header(k, v);
        }
        let request = builder
            .body(Full::new(req.body.unwrap_or_default()))
            .map_err(NetError::io)?;
        let resp = sender.send_request(request).await.map_err(NetError::io)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(NetError::io)?
            .to_bytes();
        Ok(Response {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| NetError::Timeout {
            what: "an HTTP answer",
        })?
}
