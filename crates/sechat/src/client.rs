//! [`ChatClient`]: an account (or an anonymous reader) on one server, its uploads and
//! profile; [`ChatClient::room`] hands out the [`Room`](crate::Room) handles.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chatwire_net::Waiters;
use hyper::body::Bytes;

use crate::Error;
use crate::config::{ClientBuilder, Server};
use crate::credentials::Credentials;
use crate::error::truncate;
use crate::ids::{RoomId, UserId};
use crate::proto::html;
use crate::room::{Room, RoomInner};
use crate::session::Session;

/// A chat account (or an anonymous reader) on one server: a cheap, clonable handle.
#[derive(Debug, Clone)]
pub struct ChatClient {
    session: Arc<Session>,
}

impl ChatClient {
    /// A builder for a client on `server`: anonymous unless given
    /// [`credentials`](ClientBuilder::credentials).
    pub fn builder(server: &Server) -> ClientBuilder {
        ClientBuilder::new(server)
    }

    /// A client for a logged-in account, with the default settings.
    pub fn new(credentials: &Credentials) -> Self {
        Self::builder(&credentials.server)
            .credentials(credentials)
            .build()
    }

    /// A client without an account, with the default settings: it can read rooms (by
    /// polling), not act in them.
    pub fn anonymous(server: &Server) -> Self {
        Self::builder(server).build()
    }

    pub(crate) fn from_builder(b: ClientBuilder) -> Self {
        Self {
            session: Arc::new(Session::new(b.server, b.options, b.jar, b.user_id)),
        }
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// The logged-in chat user id (`None` when anonymous).
    pub fn user_id(&self) -> Option<UserId> {
        self.session.user_id
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.session.server
    }

    /// A handle on room `room_id` (no I/O): commands, and its events once
    /// [`connect`](Room::connect)ed.
    pub fn room(&self, room_id: impl Into<RoomId>) -> Room {
        Room {
            inner: Arc::new(RoomInner {
                session: Arc::clone(&self.session),
                room_id: room_id.into(),
                counter: AtomicU64::new(0),
                task: Mutex::new(None),
                waiters: Waiters::new(),
            }),
        }
    }

    /// Uploads an image (multipart, like the web client) and returns its URL.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] with the server's message; [`Error::InvalidInput`] for an
    /// empty file.
    pub async fn upload_image(&self, bytes: &[u8], filename: &str) -> Result<String, Error> {
        if bytes.is_empty() {
            return Err(Error::InvalidInput("the image is empty".into()));
        }
        let boundary = format!("sechat-{:016x}", bytes.len() as u64 ^ 0x5eca_7000_0000_0000);
        let name = filename.replace(['"', '\r', '\n'], "_");
        let content_type = match name
            .rsplit('.')
            .next()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => "image/png",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            _ => "application/octet-stream",
        };
        let mut body = Vec::with_capacity(bytes.len() + 512);
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"shadow-filename\"\r\n\r\n{name}\r\n--{boundary}--\r\n").as_bytes());
        let url = self.session.chat_url("/upload/image");
        let resp = self
            .session
            .post_multipart(&url, Bytes::from(body), &boundary)
            .await?;
        if resp.status != 200 {
            return Err(Error::OperationFailed {
                action: "upload_image",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            });
        }
        html::upload_result(&resp.text()).map_err(|text| Error::OperationFailed {
            action: "upload_image",
            status: 200,
            text,
        })
    }

    /// This account's chat profile.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when anonymous.
    pub fn profile(&self) -> Result<Profile, Error> {
        let user_id = self
            .user_id()
            .ok_or_else(|| Error::InvalidInput("an anonymous client has no profile".into()))?;
        Ok(Profile {
            session: Arc::clone(&self.session),
            user_id,
        })
    }
}

/// The "about me" of the logged-in account.
#[derive(Debug, Clone)]
pub struct Profile {
    session: Arc<Session>,
    user_id: UserId,
}

impl Profile {
    /// The longest bio chat keeps; longer text is refused here rather than cut by the server.
    pub const MAX_BIO_CHARS: usize = 200;

    /// The chat user id.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// Replaces the bio.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for more than [`MAX_BIO_CHARS`](Self::MAX_BIO_CHARS)
    /// characters (the server would silently cut it); HTTP errors.
    pub async fn edit_bio(&self, text: &str) -> Result<(), Error> {
        let n = text.chars().count();
        if n > Self::MAX_BIO_CHARS {
            return Err(Error::InvalidInput(format!(
                "the bio has {n} characters; Stack Exchange chat keeps at most {}",
                Self::MAX_BIO_CHARS
            )));
        }
        let url = self
            .session
            .chat_url(&format!("/users/usermessage/{}", self.user_id));
        let resp = self.session.action(&url, &[("message", text)]).await?;
        if resp.status == 200 {
            Ok(())
        } else {
            Err(Error::OperationFailed {
                action: "edit_bio",
                status: resp.status,
                text: truncate(&resp.text(), 512),
            })
        }
    }
}
