//! The registry's own SQLite file: WAL, a busy timeout, one transaction per batch.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::Error;
use crate::id::{StreamKey, StreamKind};
use crate::model::{ChatStream, GroupInfo, UserInfo};

/// The schema version of the registry's own file (kept in `registry_meta`).
pub(crate) const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS streams (
    pk                INTEGER PRIMARY KEY,
    stream_id         TEXT NOT NULL UNIQUE,
    platform          TEXT NOT NULL,
    account_id        TEXT NOT NULL DEFAULT '',
    scope             TEXT NOT NULL DEFAULT '',
    kind              TEXT NOT NULL CHECK (kind IN ('private', 'group')),
    target_id         TEXT NOT NULL,
    group_name        TEXT,
    user_platform     TEXT,
    user_id           TEXT,
    user_nickname     TEXT,
    user_cardname     TEXT,
    created_at_ms     INTEGER NOT NULL,
    last_active_at_ms INTEGER NOT NULL,
    UNIQUE (platform, account_id, scope, kind, target_id)
);
CREATE INDEX IF NOT EXISTS streams_recent ON streams (last_active_at_ms DESC);
CREATE TABLE IF NOT EXISTS stream_aliases (
    alias     TEXT PRIMARY KEY,
    stream_pk INTEGER NOT NULL REFERENCES streams (pk) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// How often a write blocked by another connection's lock tries again.
const BUSY_POLL: Duration = Duration::from_millis(1);

/// Makes a statement blocked by another connection's lock (a running MaiBot, say) try again
/// every millisecond for up to `limit`, instead of failing with "database is locked".
///
/// SQLite's own `busy_timeout` backs off to 100 ms between tries, so a writer that releases
/// its lock only briefly between long transactions could starve us for the whole limit; a
/// fixed short poll takes any gap of a millisecond or more. Past `limit` the statement fails
/// with `SQLITE_BUSY`, which [`Error::retry`] reports as [`Retry::Backoff`](chatwire_core::Retry::Backoff).
pub(crate) fn wait_for_locks(conn: &mut Connection, limit: Duration) -> Result<(), Error> {
    let mut since = Instant::now();
    conn.busy_handler(Some(move |tries: i32| {
        if tries == 0 {
            since = Instant::now();
        }
        if since.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(BUSY_POLL);
        true
    }))?;
    Ok(())
}

/// Applies the pragmas this crate uses on every file it opens.
pub(crate) fn configure(conn: &mut Connection, busy_timeout: Duration) -> Result<(), Error> {
    wait_for_locks(conn, busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
}

/// One stream as stored: its surrogate key, the stream, and every alias.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) pk: i64,
    pub(crate) stream: Arc<ChatStream>,
    pub(crate) aliases: Vec<String>,
}

impl Store {
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Self, Error> {
        let mut conn = Connection::open(path)?;
        configure(&mut conn, busy_timeout)?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM registry_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                conn.execute(
                    "INSERT INTO registry_meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(Ok(v)) if v <= SCHEMA_VERSION => {}
            Some(other) => {
                return Err(Error::InvalidInput(format!(
                    "{} was written by a newer chat-streams (schema version {other:?})",
                    path.display()
                )));
            }
        }
        Ok(Self { conn })
    }

    pub(crate) fn load(&self) -> Result<Vec<Row>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT pk, stream_id, platform, account_id, scope, kind, target_id, group_name, user_platform, user_id,
                    user_nickname, user_cardname, created_at_ms, last_active_at_ms FROM streams ORDER BY pk",
        )?;
        let mut rows: Vec<Row> = stmt
            .query_map([], |r| {
                let platform: String = r.get(2)?;
                let kind = if r.get::<_, String>(5)? == "group" {
                    StreamKind::Group
                } else {
                    StreamKind::Private
                };
                let target: String = r.get(6)?;
                let key = StreamKey {
                    platform: platform.clone(),
                    account: r.get(3)?,
                    scope: r.get(4)?,
                    kind,
                    target: target.clone(),
                };
                let user_id: Option<String> = r.get(9)?;
                let user_info = user_id.filter(|u| !u.is_empty()).map(|user_id| UserInfo {
                    platform: r
                        .get::<_, Option<String>>(8)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| platform.clone()),
                    user_id,
                    user_nickname: r.get(10).ok().flatten(),
                    user_cardname: r.get(11).ok().flatten(),
                });
                let group_info = (kind == StreamKind::Group).then(|| GroupInfo {
                    platform: platform.clone(),
                    group_id: target,
                    group_name: r.get(7).ok().flatten(),
                });
                Ok(Row {
                    pk: r.get(0)?,
                    stream: Arc::new(ChatStream {
                        stream_id: r.get(1)?,
                        key,
                        platform,
                        user_info,
                        group_info,
                        created_at_ms: r.get(12)?,
                        last_active_at_ms: r.get(13)?,
                    }),
                    aliases: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT alias, stream_pk FROM stream_aliases")?;
        let aliases: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let index: std::collections::HashMap<i64, usize> =
            rows.iter().enumerate().map(|(i, r)| (r.pk, i)).collect();
        for (alias, pk) in aliases {
            if let Some(&i) = index.get(&pk) {
                rows[i].aliases.push(alias);
            }
        }
        Ok(rows)
    }

    /// Writes `rows` in one transaction (upserts by surrogate key).
    pub(crate) fn save(&mut self, rows: &[Row]) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO streams (pk, stream_id, platform, account_id, scope, kind, target_id, group_name,
                     user_platform, user_id, user_nickname, user_cardname, created_at_ms, last_active_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (pk) DO UPDATE SET
                     stream_id = excluded.stream_id, group_name = excluded.group_name,
                     user_platform = excluded.user_platform, user_id = excluded.user_id,
                     user_nickname = excluded.user_nickname, user_cardname = excluded.user_cardname,
                     created_at_ms = excluded.created_at_ms, last_active_at_ms = excluded.last_active_at_ms",
            )?;
            let mut alias = tx.prepare_cached(
                "INSERT OR IGNORE INTO stream_aliases (alias, stream_pk) VALUES (?1, ?2)",
            )?;
            for Row {
                pk,
                stream: s,
                aliases,
            } in rows
            {
                let user = s.user_info.as_ref();
                upsert.execute(params![
                    pk,
                    s.stream_id,
                    s.key.platform,
                    s.key.account,
                    s.key.scope,
                    s.key.kind.as_str(),
                    s.key.target,
                    s.group_info.as_ref().and_then(|g| g.group_name.as_deref()),
                    user.map(|u| u.platform.as_str()),
                    user.map(|u| u.user_id.as_str()),
                    user.and_then(|u| u.user_nickname.as_deref()),
                    user.and_then(|u| u.user_cardname.as_deref()),
                    s.created_at_ms,
                    s.last_active_at_ms,
                ])?;
                for a in aliases {
                    alias.execute(params![a, pk])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn delete(&mut self, pk: i64) -> Result<(), Error> {
        self.conn
            .execute("DELETE FROM stream_aliases WHERE stream_pk = ?1", [pk])?;
        self.conn
            .execute("DELETE FROM streams WHERE pk = ?1", [pk])?;
        Ok(())
    }
}
