//! The WebSocket side: [`connect`] with small buffers, [`recv`] that turns the socket's next
//! message into an [`Incoming`], and [`send_text`].

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use hyper::Uri;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{MaybeTls, NetError, stream};

/// An open WebSocket.
pub type Ws = WebSocketStream<MaybeTls>;

/// The largest message accepted (16 MiB); a larger one ends the socket with an error.
pub const MAX_MESSAGE: usize = 16 << 20;

/// The socket's buffers. tungstenite reads into a buffer of `read_buffer_size` (128 KiB by
/// default) allocated up front and zero-filled on the first read, so every idle connection
/// held 128 KiB; 4 KiB (a page) costs no CPU per event even at full speed (`cargo xtask
/// bench`, end to end) and still takes a frame of any size up to the limit in one piece (the
/// buffer grows for it). The write buffer is a `Vec` that grows only to the largest frame sent.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(MAX_MESSAGE))
}

/// Opens a WebSocket to `url` with the request `headers` (an `Origin`, a `User-Agent`; a
/// header whose value is not valid is left out), TCP + TLS + handshake bounded by `limit`.
///
/// # Errors
/// [`NetError::InvalidUrl`], [`NetError::Timeout`] (`"the socket to open"`), [`NetError::Io`].
pub async fn connect(url: &str, headers: &[(&str, &str)], limit: Duration) -> Result<Ws, NetError> {
    let fut = async {
        let mut req = url
            .into_client_request()
            .map_err(|_| NetError::InvalidUrl(url.to_owned()))?;
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                hyper::header::HeaderName::try_from(*name),
                hyper::header::HeaderValue::try_from(*value),
            ) {
                req.headers_mut().insert(name, value);
            }
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| NetError::InvalidUrl(url.to_owned()))?;
        let stream = stream::open(&uri).await?;
        let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(config()))
            .await
            .map_err(NetError::io)?;
        Ok(ws)
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| NetError::Timeout {
            what: "the socket to open",
        })?
}

/// What the socket delivered, with pings, pongs and raw frames already taken care of.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming {
    /// A text message, or a binary one read as (lossy) UTF-8.
    Text(String),
    /// The server's close frame.
    Closed {
        /// The close code, when the frame had one.
        code: Option<u16>,
        /// The close reason (often empty).
        reason: String,
    },
    /// The socket failed (reset, a protocol violation, a message over [`MAX_MESSAGE`]).
    Failed(NetError),
    /// The socket ended without a close frame.
    Ended,
}

/// The next message of `ws`, skipping control frames (tungstenite answers pings itself).
///
/// # Cancel safety
/// Cancel-safe: a message is only taken off the socket when it is returned.
pub async fn recv(ws: &mut Ws) -> Incoming {
    loop {
        return match ws.next().await {
            Some(Ok(Message::Text(t))) => Incoming::Text(t.as_str().to_owned()),
            Some(Ok(Message::Binary(b))) => {
                Incoming::Text(String::from_utf8_lossy(&b).into_owned())
            }
            Some(Ok(Message::Close(frame))) => Incoming::Closed {
                code: frame.as_ref().map(|f| u16::from(f.code)),
                reason: frame
                    .map(|f| f.reason.as_str().to_owned())
                    .unwrap_or_default(),
            },
            Some(Ok(_)) => continue,
            Some(Err(e)) => Incoming::Failed(NetError::io(e)),
            None => Incoming::Ended,
        };
    }
}

/// Sends a text message.
///
/// # Errors
/// [`NetError::Io`] when the socket is gone.
pub async fn send_text(ws: &mut Ws, text: impl Into<String>) -> Result<(), NetError> {
    ws.send(Message::text(text.into()))
        .await
        .map_err(NetError::io)
}

/// Starts the closing handshake: sends our close frame. The caller keeps reading with
/// [`recv`] until the server's close (or its own deadline), so nothing the server sent before
/// is lost.
pub async fn start_close(ws: &mut Ws) {
    let _ = ws.send(Message::Close(None)).await;
}
