//! Logging in, and saving, loading and validating the login cookies.

use chatwire_net::Method;
use std::path::Path;

use cookie_store::{CookieDomain, CookieExpiration, CookieStore, RawCookie};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::ChatClient;
use crate::Error;
use crate::config::Server;
use crate::error::{LoginError, truncate};
use crate::ids::UserId;
use crate::proto::html::{self, TopBar};
use crate::session::Session;

/// A logged-in Stack Exchange chat account: the server, the chat user id, and the cookies
/// (`acct` and `prov` on the login domain, the chat session cookie on the chat host).
/// Cookies never appear in `Debug`.
#[derive(Clone)]
pub struct Credentials {
    pub(crate) server: Server,
    pub(crate) user_id: UserId,
    pub(crate) jar: CookieStore,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server", &self.server.chat)
            .field("user_id", &self.user_id)
            .field("cookies", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The saved file (`version` 1). Documented in the crate README.
#[derive(Debug, Serialize, Deserialize)]
struct SavedFile {
    format: String,
    version: u32,
    server: String,
    user_id: UserId,
    cookies: Vec<SavedCookie>,
}

#[derive(Serialize, Deserialize)]
struct SavedCookie {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    /// Unix seconds; `None` for a session cookie.
    expires: Option<i64>,
    secure: bool,
    http_only: bool,
}

impl std::fmt::Debug for SavedCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedCookie")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

const FORMAT: &str = "sechat-credentials";

fn url(s: &str) -> Result<Url, Error> {
    Url::parse(s).map_err(|e| Error::InvalidInput(format!("bad URL {s}: {e}")))
}

impl Credentials {
    /// The chat server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The chat user id (per server; not the site or network account id).
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// Logs in with e-mail and password: the Q&A site's login form, then the chat root, which
    /// must set its session cookie and name the user.
    ///
    /// # Errors
    /// [`Error::Login`] with the reason (bad credentials, CAPTCHA, no chat cookie, user id
    /// not found); network errors.
    pub async fn authenticate(email: &str, password: &str, server: &Server) -> Result<Self, Error> {
        Self::authenticate_with(email, password, &ChatClient::anonymous(server)).await
    }

    /// [`authenticate`](Self::authenticate) through `via`, an anonymous client built with the
    /// settings to use (server, user agent, timeouts).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate).
    pub async fn authenticate_with(
        email: &str,
        password: &str,
        via: &ChatClient,
    ) -> Result<Self, Error> {
        let server = via.server();
        let options = &via.session().options;
        if email.is_empty() || password.is_empty() {
            return Err(Error::InvalidInput(
                "e-mail and password must not be empty".into(),
            ));
        }
        let session = Session::new(
            server.clone(),
            options.clone(),
            CookieStore::default(),
            None,
        );
        let login_page = format!("{}/users/login", server.login);
        let page = session.get(&login_page).await?;
        if page.status != 200 {
            return Err(LoginError::Rejected {
                step: "GET /users/login",
                status: page.status,
            }
            .into());
        }
        let fkey = html::fkey(&page.text(), Some("login-form")).ok_or(LoginError::NoFkey {
            url: login_page.clone(),
        })?;
        let track = session
            .post_form(
                &format!("{}/users/login-or-signup/validation/track", server.login),
                &[
                    ("isSignup", "false"),
                    ("isLogin", "true"),
                    ("isPassword", "false"),
                    ("isAddLogin", "false"),
                    ("fkey", &fkey),
                    ("ssrc", "head"),
                    ("email", email),
                    ("password", password),
                    ("oauthversion", ""),
                    ("oauthserver", ""),
                ],
            )
            .await?;
        if track.status != 200 {
            return Err(LoginError::Rejected {
                step: "POST /users/login-or-signup/validation/track",
                status: track.status,
            }
            .into());
        }
        let login = session
            .post_form(
                &login_page,
                &[
                    ("fkey", &fkey),
                    ("ssrc", "login"),
                    ("email", email),
                    ("password", password),
                    ("oauth_version", ""),
                    ("oauth_server", ""),
                ],
            )
            .await?;
        if login.status != 302 {
            return Err(LoginError::BadCredentials.into());
        }
        let location = login
            .headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let path = Url::parse(&server.login)
            .and_then(|base| base.join(&location))
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        if path != "/" {
            return Err(LoginError::Captcha { location }.into());
        }
        let jar = session.jar();
        let root = format!("https://{}/", server.cookie_root);
        for name in ["acct", "prov"] {
            if !jar.get_request_values(&url(&root)?).any(|(n, _)| n == name) {
                tracing::debug!(cookie = name, "login cookie missing");
            }
        }
        let (user_id, jar) = validate(&session, server).await?;
        Ok(Self {
            server: server.clone(),
            user_id,
            jar,
        })
    }

    /// Loads saved credentials and checks the chat server still accepts them. `Ok(None)` when
    /// they expired or belong to another user.
    ///
    /// # Errors
    /// [`Error::File`], a malformed file ([`Error::Decode`]), network errors.
    pub async fn load(path: impl AsRef<Path>) -> Result<Option<Self>, Error> {
        Self::load_from(path, None).await
    }

    /// [`load`](Self::load) through `via`, a client built with the settings to use: its server
    /// (for example one with [`Server::local`]) must have the chat root saved in the file.
    ///
    /// # Errors
    /// As [`load`](Self::load); [`Error::InvalidInput`] when the servers differ.
    pub async fn load_with(
        path: impl AsRef<Path>,
        via: &ChatClient,
    ) -> Result<Option<Self>, Error> {
        Self::load_from(path, Some(via)).await
    }

    async fn load_from(
        path: impl AsRef<Path>,
        via: Option<&ChatClient>,
    ) -> Result<Option<Self>, Error> {
        let default_options = crate::config::Options::default();
        let (server, options) = match via {
            Some(c) => (Some(c.server()), &c.session().options),
            None => (None, &default_options),
        };
        let path = path.as_ref();
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| Error::File {
                path: path.to_path_buf(),
                source,
            })?;
        // serde's message can quote a value of the file (a cookie): keep only where it failed.
        let saved: SavedFile = serde_json::from_str(&text).map_err(|e| {
            Error::decode(
                "a credentials file",
                format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
                "<redacted>",
            )
        })?;
        if saved.format != FORMAT || saved.version != 1 {
            return Err(Error::decode(
                "a credentials file",
                format!(
                    "unknown format {:?} version {}",
                    saved.format, saved.version
                ),
                "<redacted>",
            ));
        }
        let server = match server {
            Some(s) if s.chat == saved.server => s.clone(),
            Some(s) => {
                return Err(Error::InvalidInput(format!(
                    "the file is for {}, not {}",
                    saved.server, s.chat
                )));
            }
            None => Server::from_chat_root(&saved.server)
                .ok_or_else(|| Error::InvalidInput(format!("unknown server {}", saved.server)))?,
        };
        let mut jar = CookieStore::default();
        for c in &saved.cookies {
            let mut raw = RawCookie::build((c.name.clone(), c.value.clone()))
                .path(c.path.clone())
                .secure(c.secure)
                .http_only(c.http_only);
            if !c.host_only {
                raw = raw.domain(c.domain.clone());
            }
            if let Some(t) = c
                .expires
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            {
                raw = raw.expires(t);
            }
            let at = url(&format!(
                "https://{}{}",
                c.domain.trim_start_matches('.'),
                c.path
            ))?;
            let _ = jar.insert_raw(&raw.build(), &at);
        }
        let session = Session::new(server.clone(), options.clone(), jar, Some(saved.user_id));
        match validate(&session, &server).await {
            Ok((user_id, jar)) if user_id == saved.user_id => Ok(Some(Self {
                server,
                user_id,
                jar,
            })),
            Ok((other, _)) => {
                tracing::warn!(
                    saved = saved.user_id.get(),
                    found = other.get(),
                    "saved credentials belong to another chat user"
                );
                Ok(None)
            }
            Err(Error::Expired) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saves to `path` as JSON (the format is documented in the README): created with mode
    /// 0600 on Unix and replaced atomically (written beside it, then renamed).
    ///
    /// # Errors
    /// [`Error::File`].
    pub async fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref().to_owned();
        let cookies = self
            .jar
            .iter_unexpired()
            .filter(|c| c.is_persistent() || matches!(c.expires, CookieExpiration::SessionEnd))
            .map(|c| {
                let (domain, host_only) = match &c.domain {
                    CookieDomain::HostOnly(h) => (h.clone(), true),
                    CookieDomain::Suffix(d) => (d.clone(), false),
                    CookieDomain::NotPresent | CookieDomain::Empty => (String::new(), true),
                };
                SavedCookie {
                    name: c.name().to_owned(),
                    value: c.value().to_owned(),
                    domain,
                    host_only,
                    path: String::from(&c.path),
                    expires: match c.expires {
                        CookieExpiration::AtUtc(t) => Some(t.unix_timestamp()),
                        CookieExpiration::SessionEnd => None,
                    },
                    secure: c.secure().unwrap_or(false),
                    http_only: c.http_only().unwrap_or(false),
                }
            })
            .collect::<Vec<SavedCookie>>();
        let mut cookies = cookies;
        cookies.sort_by(|a, b| (&a.domain, &a.name, &a.path).cmp(&(&b.domain, &b.name, &b.path)));
        let saved = SavedFile {
            format: FORMAT.into(),
            version: 1,
            server: self.server.chat.clone(),
            user_id: self.user_id,
            cookies,
        };
        let text = serde_json::to_string_pretty(&saved)
            .map_err(|e| Error::decode("credentials", e.to_string(), ""))?;
        tokio::task::spawn_blocking(move || write_private(&path, text.as_bytes()))
            .await
            .map_err(|e| Error::File {
                path: std::path::PathBuf::new(),
                source: std::io::Error::other(e),
            })?
    }

    /// Loads saved credentials when they are still valid, otherwise logs in and saves.
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate) and [`save`](Self::save).
    pub async fn load_or_authenticate(
        path: impl AsRef<Path>,
        email: &str,
        password: &str,
        server: &Server,
    ) -> Result<Self, Error> {
        Self::load_or_authenticate_with(path, email, password, &ChatClient::anonymous(server)).await
    }

    /// [`load_or_authenticate`](Self::load_or_authenticate) through `via`, a client built with
    /// the settings to use (server, user agent, timeouts).
    ///
    /// # Errors
    /// As [`load_or_authenticate`](Self::load_or_authenticate).
    pub async fn load_or_authenticate_with(
        path: impl AsRef<Path>,
        email: &str,
        password: &str,
        via: &ChatClient,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        if path.exists() {
            match Self::load_with(path, via).await {
                Ok(Some(c)) => return Ok(c),
                Ok(None) => tracing::info!("saved credentials expired; logging in again"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not use saved credentials; logging in again");
                }
            }
        }
        let creds = Self::authenticate_with(email, password, via).await?;
        creds.save(path).await?;
        Ok(creds)
    }
}

/// GETs the chat root: it must set (or accept) the chat cookie and name the logged-in user.
async fn validate(session: &Session, server: &Server) -> Result<(UserId, CookieStore), Error> {
    let root = format!("{}/", server.chat);
    let resp = session.get(&root).await?;
    if resp.status != 200 {
        return Err(Error::Http {
            method: Method::Get,
            url: root,
            status: resp.status,
            body: truncate(&resp.text(), 512),
        });
    }
    let jar = session.jar();
    let has_cookie = jar
        .get_request_values(&url(&root)?)
        .any(|(n, _)| n == server.chat_cookie);
    match html::topbar_user(&resp.text()) {
        TopBar::User(id) if has_cookie => Ok((UserId(id.cast_signed()), jar)),
        TopBar::User(_) => Err(LoginError::NoChatCookie {
            cookie: server.chat_cookie.clone(),
        }
        .into()),
        TopBar::LoggedOut if session.user_id.is_some() => Err(Error::Expired),
        TopBar::LoggedOut | TopBar::Missing => Err(LoginError::UserIdNotFound { url: root }.into()),
    }
}

/// Writes `bytes` to a new sibling temporary file with mode 0600, syncs it, and renames it over
/// `path`. Each call has its own temporary file (created exclusively, so never a stale or
/// planted one), which is removed when anything fails: concurrent saves never mix, and a
/// reader sees the old file or the new one, whole.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let err = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("credentials");
    let mut attempts = 0;
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed)
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        match opts.open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 16 => {
                attempts += 1;
            }
            Err(e) => return Err(err(e)),
        }
    };
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| {
            drop(f);
            std::fs::rename(&tmp, path)
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    // The rename itself survives a power loss once the directory is synced (best effort).
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
