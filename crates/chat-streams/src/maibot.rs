//! MaiBot's own SQLite files: the 0.x `chat_streams` table (read and upsert, without touching
//! its schema or `user_version`) and the 1.x `chat_sessions` table (read, for import).

use std::borrow::Borrow;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use time::{PrimitiveDateTime, UtcOffset};

use crate::Error;
use crate::id::{StreamKey, StreamKind};
use crate::model::{ChatStream, GroupInfo, UserInfo};
use crate::registry::Registry;
use crate::store::{configure, wait_for_locks};

/// The highest MaiBot 1.x schema version (`PRAGMA user_version`) this crate knows.
pub const MAX_KNOWN_V1_VERSION: i64 = 40;

/// The `chat_streams` table and index exactly as MaiBot 0.x (peewee) creates them.
pub const LEGACY_DDL: &str = r#"CREATE TABLE "chat_streams" ("id" INTEGER NOT NULL PRIMARY KEY, "stream_id" TEXT NOT NULL, "create_time" REAL NOT NULL, "group_platform" TEXT, "group_id" TEXT, "group_name" TEXT, "last_active_time" REAL NOT NULL, "platform" TEXT NOT NULL, "user_platform" TEXT NOT NULL, "user_id" TEXT NOT NULL, "user_nickname" TEXT NOT NULL, "user_cardname" TEXT);
CREATE UNIQUE INDEX "chatstreams_stream_id" ON "chat_streams" ("stream_id");"#;

/// Which MaiBot generation a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Generation {
    /// 0.7 to 0.12: table `chat_streams`, `user_version` 0.
    Legacy,
    /// 1.x: table `chat_sessions`, schema version in `user_version`.
    V1 {
        /// `PRAGMA user_version`.
        version: i64,
    },
}

/// An open MaiBot database.
#[derive(Debug)]
pub struct MaiBotDb {
    conn: Connection,
    generation: Generation,
    local_offset: UtcOffset,
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

fn secs_to_ms(s: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let ms = (s * 1000.0).round() as i64;
    ms
}

#[allow(clippy::cast_precision_loss)]
fn ms_to_secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl MaiBotDb {
    /// Opens a MaiBot file and detects its generation. 1.x `DATETIME` values are naive local
    /// time; they are read with `local_offset` (use the offset of the machine MaiBot ran on).
    ///
    /// # Errors
    /// [`Error::NotMaiBot`] when the file has neither table; [`Error::Storage`].
    pub fn open(path: impl AsRef<Path>, local_offset: UtcOffset) -> Result<Self, Error> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::NotMaiBot(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let mut conn = Connection::open(path)?;
        wait_for_locks(&mut conn, std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let generation = if version == 0 && table_exists(&conn, "chat_streams")? {
            Generation::Legacy
        } else if version >= 2 && table_exists(&conn, "chat_sessions")? {
            Generation::V1 { version }
        } else {
            return Err(Error::NotMaiBot(format!(
                "{}: user_version {version}, and no chat_streams (0.x) or chat_sessions (1.x) table",
                path.display()
            )));
        };
        Ok(Self {
            conn,
            generation,
            local_offset,
        })
    }

    /// Creates a new file holding MaiBot 0.x's `chat_streams` table exactly as MaiBot creates
    /// it (for export to a fresh file).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the file exists; [`Error::Storage`].
    pub fn create_legacy(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::InvalidInput(format!(
                "{} already exists",
                path.display()
            )));
        }
        let mut conn = Connection::open(path)?;
        configure(&mut conn, std::time::Duration::from_secs(5))?;
        conn.execute_batch(LEGACY_DDL)?;
        Ok(Self {
            conn,
            generation: Generation::Legacy,
            local_offset: UtcOffset::UTC,
        })
    }

    /// The generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Every stream in the file, with the id the file stored for it.
    ///
    /// # Errors
    /// [`Error::Storage`].
    pub fn read_streams(&self) -> Result<Vec<ChatStream>, Error> {
        match self.generation {
            Generation::Legacy => self.read_legacy(),
            Generation::V1 { .. } => self.read_v1(),
        }
    }

    fn read_legacy(&self) -> Result<Vec<ChatStream>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT stream_id, create_time, group_platform, group_id, group_name, last_active_time, platform,
                    user_platform, user_id, user_nickname, user_cardname FROM chat_streams ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let platform: String = r.get(6)?;
            let group_id = non_empty(r.get(3)?);
            let user_id = non_empty(r.get(8)?);
            let user_info = user_id.map(|user_id| UserInfo {
                platform: non_empty(r.get(7).ok().flatten()).unwrap_or_else(|| platform.clone()),
                user_id,
                user_nickname: non_empty(r.get(9).ok().flatten()),
                user_cardname: non_empty(r.get(10).ok().flatten()),
            });
            let (kind, target, group_info) = match group_id {
                Some(g) => (
                    StreamKind::Group,
                    g.clone(),
                    Some(GroupInfo {
                        platform: non_empty(r.get(2).ok().flatten())
                            .unwrap_or_else(|| platform.clone()),
                        group_id: g,
                        group_name: non_empty(r.get(4).ok().flatten()),
                    }),
                ),
                None => (
                    StreamKind::Private,
                    user_info
                        .as_ref()
                        .map(|u| u.user_id.clone())
                        .unwrap_or_default(),
                    None,
                ),
            };
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, f64>(5)?,
                platform,
                kind,
                target,
                user_info,
                group_info,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (stream_id, created, active, platform, kind, target, user_info, group_info) = row?;
            let Ok(key) = StreamKey::new(&platform, kind, &target) else {
                continue;
            };
            out.push(ChatStream {
                stream_id,
                key,
                platform,
                user_info,
                group_info,
                created_at_ms: secs_to_ms(created),
                last_active_at_ms: secs_to_ms(active),
            });
        }
        Ok(out)
    }

    fn parse_datetime(&self, s: Option<String>) -> Option<i64> {
        let s = s?;
        let fmt = time::macros::format_description!(
            version = 2,
            "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        let dt = PrimitiveDateTime::parse(s.trim(), fmt).ok()?;
        i64::try_from(dt.assume_offset(self.local_offset).unix_timestamp_nanos() / 1_000_000).ok()
    }

    fn read_v1(&self) -> Result<Vec<ChatStream>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT session_id, created_timestamp, last_active_timestamp, user_id, user_nickname, user_cardname,
                    group_id, group_name, platform, account_id, scope FROM chat_sessions ORDER BY id",
        )?;
        let rows: Vec<[Option<String>; 11]> = stmt
            .query_map([], |r| {
                let mut a: [Option<String>; 11] = Default::default();
                for (i, slot) in a.iter_mut().enumerate() {
                    *slot = r.get::<_, Option<String>>(i).or_else(|_| {
                        r.get::<_, Option<i64>>(i).map(|v| v.map(|v| v.to_string()))
                    })?;
                }
                Ok(a)
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for [
            session_id,
            created,
            active,
            user_id,
            nick,
            card,
            group_id,
            group_name,
            platform,
            account,
            scope,
        ] in rows
        {
            let (Some(session_id), Some(platform)) = (session_id, platform) else {
                continue;
            };
            let account = account.unwrap_or_default();
            let scope = scope.unwrap_or_default();
            let (kind, target) = match (non_empty(group_id), non_empty(user_id.clone())) {
                (Some(g), _) => (StreamKind::Group, g),
                (None, Some(u)) => (StreamKind::Private, u),
                (None, None) => continue,
            };
            let Ok(key) = StreamKey::scoped(&platform, &account, &scope, kind, &target) else {
                continue;
            };
            let created_ms = self.parse_datetime(created).unwrap_or(0);
            let user_info = non_empty(user_id).map(|u| UserInfo {
                platform: platform.clone(),
                user_id: u,
                user_nickname: non_empty(nick),
                user_cardname: non_empty(card),
            });
            let group_info = (kind == StreamKind::Group).then(|| GroupInfo {
                platform: platform.clone(),
                group_id: target.clone(),
                group_name: non_empty(group_name),
            });
            out.push(ChatStream {
                stream_id: session_id,
                platform,
                key,
                user_info,
                group_info,
                created_at_ms: created_ms,
                last_active_at_ms: self.parse_datetime(active).unwrap_or(created_ms),
            });
        }
        Ok(out)
    }

    /// Inserts or updates `streams` in a 0.x `chat_streams` table, one small transaction,
    /// without changing the schema or `user_version`. Private rows get `''` group columns, as
    /// MaiBot writes them. Returns the number of rows written.
    ///
    /// A row already in the file keeps its stored values bit for bit unless the stream brings
    /// something new: `last_active_time` only moves forward, and only when the stream's time,
    /// in milliseconds, is later than the stored one rounded to milliseconds (so an import
    /// followed by an export leaves untouched rows as they were); an empty name never replaces
    /// a stored one (nor a stored `NULL`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a 1.x file (import only), and for any stream scoped to a bot
    /// account or a route scope (MaiBot 1.x ids): 0.x has no such streams (its id for a group
    /// is `md5("platform_group")`, the conversation every account shares), so it would never
    /// find the row and would create a duplicate, and writing the 0.x id instead would merge
    /// distinct conversations into one row. Nothing is written then. [`Error::Storage`].
    pub fn upsert_streams<S: Borrow<ChatStream>>(&mut self, streams: &[S]) -> Result<usize, Error> {
        if let Generation::V1 { version } = self.generation {
            if version > MAX_KNOWN_V1_VERSION {
                return Err(Error::UnsupportedMaiBotVersion {
                    found: version,
                    known: MAX_KNOWN_V1_VERSION,
                });
            }
            return Err(Error::InvalidInput(
                "writing MaiBot 1.x chat_sessions is not supported; import it instead".into(),
            ));
        }
        let scoped: Vec<&ChatStream> = streams
            .iter()
            .map(Borrow::borrow)
            .filter(|s: &&ChatStream| !s.key.account.is_empty() || !s.key.scope.is_empty())
            .collect();
        if let Some(first) = scoped.first() {
            return Err(Error::InvalidInput(format!(
                "{} stream(s) scoped to a bot account or route scope (first: {}, id {}) cannot be \
                 written to a MaiBot 0.x file: 0.x ids have no account or scope, so 0.x would never \
                 find these rows and would create duplicates; nothing was written (export only \
                 unscoped streams)",
                scoped.len(),
                first.key,
                first.stream_id
            )));
        }
        // Immediate: the write lock is taken (waiting out MaiBot's writes) before the stored
        // times are read, so the read cannot go stale and fail its upgrade to a write.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stored =
                tx.prepare("SELECT last_active_time FROM chat_streams WHERE stream_id = ?1")?;
            let mut stmt = tx.prepare(
                "INSERT INTO chat_streams (stream_id, create_time, group_platform, group_id, group_name, last_active_time,
                     platform, user_platform, user_id, user_nickname, user_cardname)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (stream_id) DO UPDATE SET
                     group_name = CASE WHEN excluded.group_name <> '' THEN excluded.group_name ELSE group_name END,
                     last_active_time = max(last_active_time, excluded.last_active_time),
                     user_nickname = CASE WHEN excluded.user_nickname <> '' THEN excluded.user_nickname ELSE user_nickname END,
                     user_cardname = CASE WHEN excluded.user_cardname <> '' THEN excluded.user_cardname ELSE user_cardname END",
            )?;
            for s in streams {
                let s: &ChatStream = s.borrow();
                let (gp, gid, gname) = match &s.group_info {
                    Some(g) => (
                        g.platform.as_str(),
                        g.group_id.as_str(),
                        g.group_name.as_deref().unwrap_or(""),
                    ),
                    None => ("", "", ""),
                };
                // The stored seconds, when the stream is not later than them at millisecond
                // precision (what an import read): writing them back changes nothing, where
                // the millisecond value could be rounded above them.
                let active = stored
                    .query_row([&s.stream_id], |r| r.get::<_, f64>(0))
                    .optional()?
                    .filter(|&secs| secs_to_ms(secs) >= s.last_active_at_ms)
                    .unwrap_or_else(|| ms_to_secs(s.last_active_at_ms));
                let user = s.user_info.as_ref();
                stmt.execute(params![
                    s.stream_id,
                    ms_to_secs(s.created_at_ms),
                    gp,
                    gid,
                    gname,
                    active,
                    s.platform,
                    user.map_or(s.platform.as_str(), |u| u.platform.as_str()),
                    user.map_or("", |u| u.user_id.as_str()),
                    user.and_then(|u| u.user_nickname.as_deref()).unwrap_or(""),
                    user.and_then(|u| u.user_cardname.as_deref()).unwrap_or(""),
                ])?;
            }
        }
        tx.commit()?;
        Ok(streams.len())
    }
}

impl Registry {
    /// Imports every stream of a MaiBot file (0.x or 1.x) into this registry; known streams are
    /// merged. Returns the number of streams read.
    ///
    /// # Errors
    /// [`Error::Storage`].
    pub fn import_maibot(&self, db: &MaiBotDb) -> Result<usize, Error> {
        let streams = db.read_streams()?;
        Ok(self.merge(streams.into_iter().map(|s| (s, Vec::new())).collect()))
    }

    /// Writes every stream of this registry into a MaiBot 0.x file (upsert by stream id).
    /// Returns the number written. A registry holding streams scoped to a bot account or route
    /// (MaiBot 1.x ids) is refused as a whole; pass the unscoped ones to
    /// [`MaiBotDb::upsert_streams`] yourself to export those.
    ///
    /// # Errors
    /// As [`MaiBotDb::upsert_streams`].
    pub fn export_maibot(&self, db: &mut MaiBotDb) -> Result<usize, Error> {
        db.upsert_streams(&self.snapshot())
    }
}
