//! The only module that opens sockets: TCP, TLS (rustls with the webpki roots), the chat
//! WebSocket, and one-shot HTTP/1.1 requests.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::Uri;
use hyper::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::Error;

/// A plain or TLS TCP stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

static TLS: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
});

/// Opens TCP (and TLS for `https`/`wss`) to the URL's host.
async fn open(uri: &Uri) -> Result<Stream, Error> {
    let host = uri
        .host()
        .ok_or_else(|| Error::InvalidInput(format!("no host in {uri}")))?
        .to_owned();
    let tls = matches!(uri.scheme_str(), Some("https" | "wss"));
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
        .await
        .map_err(Error::transport)?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(Stream::Plain(tcp));
    }
    let config = TLS.as_ref().map_err(|e| Error::transport(e.clone()))?;
    let name = rustls::pki_types::ServerName::try_from(host).map_err(Error::transport)?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await
        .map_err(Error::transport)?;
    Ok(Stream::Tls(Box::new(stream)))
}

/// The chat socket.
pub(crate) type Ws = WebSocketStream<Stream>;

/// The socket's buffers. tungstenite reads into a buffer of `read_buffer_size` (128 KiB by
/// default) allocated up front and zero-filled on the first read, so every idle connection
/// held 128 KiB; 4 KiB (a page) costs no CPU per event even at full speed (`cargo xtask
/// bench`, end to end) and still takes a frame of any size up to the limit in one piece (the
/// buffer grows for it). The write buffer is a `Vec` that grows only to the largest frame sent.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(16 << 20))
}

/// Opens the chat WebSocket.
pub(crate) async fn ws_connect(url: &str, user_agent: &str, limit: Duration) -> Result<Ws, Error> {
    let fut = async {
        let mut req = url.into_client_request().map_err(Error::transport)?;
        if let Ok(v) = user_agent.parse() {
            req.headers_mut().insert("user-agent", v);
        }
        req.headers_mut().insert(
            "origin",
            hyper::header::HeaderValue::from_static("https://chzzk.naver.com"),
        );
        let uri: Uri = url
            .parse()
            .map_err(|_| Error::InvalidInput(format!("bad chat URL {url}")))?;
        let stream = open(&uri).await?;
        let config = ws_config();
        let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(config))
            .await
            .map_err(Error::transport)?;
        Ok(ws)
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| Error::Timeout {
            what: "the chat socket to open",
        })?
}

/// An HTTP request (no `Debug`: it carries the login cookie).
#[allow(missing_debug_implementations)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'static str,
    pub(crate) url: String,
    pub(crate) cookie: Option<String>,
    pub(crate) json: Option<serde_json::Value>,
    pub(crate) user_agent: &'a str,
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the whole answer.
pub(crate) async fn http(req: Request<'_>, limit: Duration) -> Result<(u16, Bytes), Error> {
    let fut = async {
        let uri: Uri = req
            .url
            .parse()
            .map_err(|_| Error::InvalidInput(format!("bad URL {}", req.url)))?;
        let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
        let stream = open(&uri).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(Error::transport)?;
        tokio::spawn(conn);
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(path)
            .header("host", authority)
            .header("user-agent", req.user_agent)
            .header("accept", "application/json, text/plain, */*")
            .header("origin", "https://chzzk.naver.com")
            .header("referer", "https://chzzk.naver.com/");
        if let Some(c) = &req.cookie {
            builder = builder.header("cookie", c);
        }
        let body = match &req.json {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder.body(Full::new(body)).map_err(Error::transport)?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(Error::transport)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(Error::transport)?
            .to_bytes();
        Ok((status, bytes))
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| Error::Timeout {
            what: "an HTTP answer",
        })?
}
