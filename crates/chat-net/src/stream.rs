//! [`MaybeTls`] and [`open`]: TCP, with TLS for `https` and `wss`. The only place a socket is
//! opened.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

use hyper::Uri;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::NetError;

/// A plain or TLS TCP stream.
#[derive(Debug)]
pub enum MaybeTls {
    /// `http` or `ws`.
    Plain(TcpStream),
    /// `https` or `wss`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
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

impl AsyncWrite for MaybeTls {
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

/// The roots the enabled features trust.
fn roots() -> Result<rustls::RootCertStore, String> {
    #[allow(unused_mut)]
    let mut roots = rustls::RootCertStore::empty();
    #[cfg(feature = "rustls-webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "rustls-native-roots")]
    {
        // A store that cannot be read adds nothing; the check below says so when nothing else
        // was trusted either.
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
    }
    if roots.is_empty() {
        return Err("no TLS roots: enable the rustls-webpki-roots or rustls-native-roots feature of chatwire-net (or of the client crate)".into());
    }
    Ok(roots)
}

static TLS: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots()?)
    .with_no_client_auth();
    Ok(Arc::new(config))
});

/// Opens TCP to the URL's host, and TLS on top for `https` and `wss`.
///
/// # Errors
/// [`NetError::InvalidUrl`] without a host; [`NetError::Io`] for TCP and TLS failures
/// (a certificate no enabled root vouches for is `InvalidCertificate`).
pub(crate) async fn open(uri: &Uri) -> Result<MaybeTls, NetError> {
    let host = uri
        .host()
        .ok_or_else(|| NetError::InvalidUrl(format!("{uri} (no host)")))?
        .to_owned();
    let tls = matches!(uri.scheme_str(), Some("https" | "wss"));
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
        .await
        .map_err(NetError::io)?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(MaybeTls::Plain(tcp));
    }
    let config = TLS.as_ref().map_err(|e| NetError::io(e.clone()))?;
    let name = rustls::pki_types::ServerName::try_from(host).map_err(NetError::io)?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await
        .map_err(NetError::io)?;
    Ok(MaybeTls::Tls(Box::new(stream)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_features_trust_some_roots() {
        assert!(super::roots().is_ok_and(|r| !r.is_empty()));
    }
}
