//! Support for the protocol crates' secrets tests (`tests/secrets.rs`): a tracing subscriber
//! that keeps every log line, and a TLS server on loopback that no client trusts.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A tracing subscriber that records every event and span field at every level, formatted as
/// a log line would show it (`Debug` of each value). Install it with
/// `tracing::subscriber::set_global_default(capture.clone())` and read [`lines`](Self::lines).
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<String>>>);

impl LogCapture {
    /// Everything logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for LogCapture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {} ", span.metadata().name());
        span.record(&mut Line(&mut line));
        self.push(line);
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record ");
        values.record(&mut Line(&mut line));
        self.push(line);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = format!(
            "{} {} ",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Line(&mut line));
        self.push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Test data, not a secret: a throwaway self-signed certificate for `localhost` and
/// `127.0.0.1` (valid 2000 to 2999, not a CA) and its private key, generated for these tests
/// only (Python `cryptography`, P-256). No client trusts it, which is the point. Its name is
/// unique (`CN=chatwire replay self-signed test server`): with a plain `CN=localhost`, a
/// machine store holding a local CA of that name makes rustls try that root and fail on its key
/// type instead of reporting an unknown issuer.
const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBujCCAV+gAwIBAgIUUdAF/ZzT46yc+lCaGoTaNxY4qvIwCgYIKoZIzj0EAwIw
MjEwMC4GA1UEAwwnY2hhdHdpcmUgcmVwbGF5IHNlbGYtc2lnbmVkIHRlc3Qgc2Vy
dmVyMCAXDTAwMDEwMTAwMDAwMFoYDzI5OTkxMjMxMDAwMDAwWjAyMTAwLgYDVQQD
DCdjaGF0d2lyZSByZXBsYXkgc2VsZi1zaWduZWQgdGVzdCBzZXJ2ZXIwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAASofjLl5m4E9/TEycdu9O7wmk1fl979PKokHV8X
moAOWgGsF/9aabBM6RPUC4iZ33nQHbar0uoRwwBdb56Jo0FJo1EwTzAaBgNVHREE
EzARgglsb2NhbGhvc3SHBH8AAAEwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMC
B4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwCgYIKoZIzj0EAwIDSQAwRgIhAJdf5o1D
k66cACsUsfYbzpUw/QVXuMmqriT+NQDttnh0AiEA2BnsPycrBCSuUcOfF5gSk2IQ
opDjmrLsalM87DXEs6E=
-----END CERTIFICATE-----
";
const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzSN0SQ38/BYIgWWn
5j7Me7HoZM9sFFBn1T4DHrI2w72hRANCAASofjLl5m4E9/TEycdu9O7wmk1fl979
PKokHV8XmoAOWgGsF/9aabBM6RPUC4iZ33nQHbar0uoRwwBdb56Jo0FJ
-----END PRIVATE KEY-----
";

/// The crypto provider the crates use (ring).
fn tls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The self-signed certificate [`SelfSignedServer`] presents (for the client that does trust
/// it, to show the server itself works).
///
/// # Panics
/// Never: the certificate is embedded and parses.
fn self_signed_cert() -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes())
        .expect("invariant: the embedded certificate parses")
}

/// A TLS server on loopback presenting the embedded self-signed certificate.
#[derive(Debug)]
pub struct SelfSignedServer {
    /// Where it listens (`127.0.0.1`).
    pub addr: SocketAddr,
    /// The outcome of every handshake, in order (`Err` with rustls's reason).
    pub handshakes: mpsc::UnboundedReceiver<Result<(), String>>,
}

impl SelfSignedServer {
    /// Binds an ephemeral loopback port and accepts until dropped.
    ///
    /// # Panics
    /// Never: the key is embedded and parses.
    pub async fn start() -> std::io::Result<Self> {
        use rustls::pki_types::pem::PemObject as _;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes())
            .expect("invariant: the embedded key parses");
        let config = rustls::ServerConfig::builder_with_provider(tls_provider())
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![self_signed_cert()], key)
            })
            .map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, handshakes) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let outcome = acceptor
                    .accept(tcp)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                if tx.send(outcome).is_err() {
                    break;
                }
            }
        });
        Ok(Self { addr, handshakes })
    }
}

impl SelfSignedServer {
    /// Connects a client that does trust the certificate and returns the server's side of
    /// that handshake: `Ok` shows the server works, so a refusal by the client under test is
    /// the client's doing.
    ///
    /// # Errors
    /// Why the handshake failed, on either side.
    pub async fn connect_trusting(&mut self) -> Result<(), String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self_signed_cert()).map_err(|e| e.to_string())?;
        let config = rustls::ClientConfig::builder_with_provider(tls_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("client side: {e}"))?;
        self.handshakes
            .recv()
            .await
            .ok_or_else(|| "the server stopped".to_owned())?
    }
}

/// The rustls error somewhere in `e`'s chain (I/O errors wrap it without exposing it as a
/// source).
pub fn rustls_error(e: &(dyn std::error::Error + 'static)) -> Option<rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r.clone());
        }
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r.clone());
        }
        next = e.source();
    }
    None
}
