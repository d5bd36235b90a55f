//! What the IM Server keeps of messages: deferred messages waiting for an
//! offline user, and the conversation history of users whose history setting
//! is active. A supertrait of [`Store`](crate::store::Store), with the SQLite
//! implementation (tables `deferred` and `history`) and the in-memory one.

use crate::store::StoreResult;
use imsip::im::history::{Direction, HistoryEntry, HistoryQuery};
use rusqlite::{params, Connection};

/// A MESSAGE the IM Server stored for an offline user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deferred {
    /// Its row id (delivery order).
    pub id: i64,
    /// The recipient's AoR.
    pub recipient: String,
    /// The sender's AoR (as authenticated).
    pub sender: String,
    /// The From header value of the original request.
    pub from: String,
    /// Its Content-Type (empty when it had none).
    pub content_type: String,
    /// Its body.
    pub body: Vec<u8>,
    /// When it was stored (Unix seconds): the `Date` of its delivery.
    pub stored_at: u64,
}

/// Deferred messages and history, persisted.
pub(crate) trait MessageStore {
    /// Stores a deferred message (its `id` is assigned); returns the id.
    fn defer(&mut self, m: &Deferred) -> StoreResult<i64>;
    /// The deferred messages of `recipient`, oldest first.
    fn deferred_for(&self, recipient: &str) -> StoreResult<Vec<Deferred>>;
    /// Count and total body bytes of `recipient`'s deferred messages.
    fn deferred_usage(&self, recipient: &str) -> StoreResult<(u64, u64)>;
    /// Removes a delivered message.
    fn delete_deferred(&mut self, id: i64) -> StoreResult<()>;
    /// Removes deferred messages stored before `before`; returns how many.
    fn purge_deferred(&mut self, before: u64) -> StoreResult<u64>;
    /// Adds a message to `owner`'s history (its id is assigned).
    fn add_history(&mut self, owner: &str, e: &HistoryEntry) -> StoreResult<()>;
    /// `owner`'s history matching `q`: the most recent `q.limit`, oldest first.
    fn history(&self, owner: &str, q: &HistoryQuery) -> StoreResult<Vec<HistoryEntry>>;
}

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deferred (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient    TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    from_hdr     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    stored_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deferred_recipient ON deferred (recipient, id);
CREATE TABLE IF NOT EXISTS history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner        TEXT    NOT NULL,
    direction    TEXT    NOT NULL,
    peer         TEXT    NOT NULL,
    time         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS history_owner ON history (owner, time, id);
";

fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The SQLite side, on the store's connection.
pub(crate) struct SqliteMessages<'a>(pub &'a Connection);

impl SqliteMessages<'_> {
    pub fn defer(&self, m: &Deferred) -> StoreResult<i64> {
        self.0.execute(
            "INSERT INTO deferred (recipient, sender, from_hdr, content_type, body, stored_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                m.recipient,
                m.sender,
                m.from,
                m.content_type,
                m.body,
                to_sql(m.stored_at)
            ],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    pub fn deferred_for(&self, recipient: &str) -> StoreResult<Vec<Deferred>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, recipient, sender, from_hdr, content_type, body, stored_at
             FROM deferred WHERE recipient = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![recipient], |r| {
                Ok(Deferred {
                    id: r.get(0)?,
                    recipient: r.get(1)?,
                    sender: r.get(2)?,
                    from: r.get(3)?,
                    content_type: r.get(4)?,
                    body: r.get(5)?,
                    stored_at: from_sql(r.get(6)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn deferred_usage(&self, recipient: &str) -> StoreResult<(u64, u64)> {
        let (n, bytes): (i64, Option<i64>) = self.0.query_row(
            "SELECT COUNT(*), SUM(LENGTH(body)) FROM deferred WHERE recipient = ?1",
            params![recipient],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((from_sql(n), from_sql(bytes.unwrap_or(0))))
    }

    pub fn delete_deferred(&self, id: i64) -> StoreResult<()> {
        self.0
            .execute("DELETE FROM deferred WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub fn purge_deferred(&self, before: u64) -> StoreResult<u64> {
        let n = self.0.execute(
            "DELETE FROM deferred WHERE stored_at < ?1",
            params![to_sql(before)],
        )?;
        Ok(n as u64)
    }

    pub fn add_history(&self, owner: &str, e: &HistoryEntry) -> StoreResult<()> {
        self.0.execute(
            "INSERT INTO history (owner, direction, peer, time, content_type, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                owner,
                e.direction.as_str(),
                e.peer,
                to_sql(e.time),
                e.content_type,
                e.body
            ],
        )?;
        Ok(())
    }

    pub fn history(&self, owner: &str, q: &HistoryQuery) -> StoreResult<Vec<HistoryEntry>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, direction, peer, time, content_type, body FROM history
             WHERE owner = ?1 AND (?2 IS NULL OR peer = ?2) AND time >= ?3
             ORDER BY time DESC, id DESC LIMIT ?4",
        )?;
        let limit = q.limit.map_or(-1, i64::from);
        let mut rows = stmt
            .query_map(
                params![owner, q.with, to_sql(q.since.unwrap_or(0)), limit],
                |r| {
                    let dir: String = r.get(1)?;
                    Ok(HistoryEntry {
                        id: r.get::<_, i64>(0)?.to_string(),
                        direction: if dir == "sent" {
                            Direction::Sent
                        } else {
                            Direction::Received
                        },
                        peer: r.get(2)?,
                        time: from_sql(r.get(3)?),
                        content_type: r.get(4)?,
                        body: body_bytes(r.get_ref(5)?),
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.reverse();
        Ok(rows)
    }
}

/// A history body as stored: bytes (a BLOB), or text in a database written
/// before bodies were kept byte for byte.
fn body_bytes(v: rusqlite::types::ValueRef<'_>) -> Vec<u8> {
    match v {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b.to_vec(),
        _ => Vec::new(),
    }
}

/// The in-memory side, for unit tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct MemoryMessages {
    deferred: Vec<Deferred>,
    history: Vec<(String, HistoryEntry)>,
    next: i64,
}

#[cfg(test)]
impl MemoryMessages {
    pub fn defer(&mut self, m: &Deferred) -> StoreResult<i64> {
        self.next += 1;
        let mut m = m.clone();
        m.id = self.next;
        self.deferred.push(m);
        Ok(self.next)
    }

    pub fn deferred_for(&self, recipient: &str) -> StoreResult<Vec<Deferred>> {
        Ok(self
            .deferred
            .iter()
            .filter(|m| m.recipient == recipient)
            .cloned()
            .collect())
    }

    pub fn deferred_usage(&self, recipient: &str) -> StoreResult<(u64, u64)> {
        let mine = self.deferred.iter().filter(|m| m.recipient == recipient);
        Ok(mine.fold((0, 0), |(n, b), m| (n + 1, b + m.body.len() as u64)))
    }

    pub fn delete_deferred(&mut self, id: i64) -> StoreResult<()> {
        self.deferred.retain(|m| m.id != id);
        Ok(())
    }

    pub fn purge_deferred(&mut self, before: u64) -> StoreResult<u64> {
        let n = self.deferred.len();
        self.deferred.retain(|m| m.stored_at >= before);
        Ok((n - self.deferred.len()) as u64)
    }

    pub fn add_history(&mut self, owner: &str, e: &HistoryEntry) -> StoreResult<()> {
        self.next += 1;
        let mut e = e.clone();
        e.id = self.next.to_string();
        self.history.push((owner.to_owned(), e));
        Ok(())
    }

    pub fn history(&self, owner: &str, q: &HistoryQuery) -> StoreResult<Vec<HistoryEntry>> {
        let mut v: Vec<HistoryEntry> = self
            .history
            .iter()
            .filter(|(o, e)| {
                o == owner
                    && q.with.as_deref().is_none_or(|w| e.peer == w)
                    && e.time >= q.since.unwrap_or(0)
            })
            .map(|(_, e)| e.clone())
            .collect();
        if let Some(l) = q.limit {
            let skip = v.len().saturating_sub(l as usize);
            v.drain(..skip);
        }
        Ok(v)
    }
}
