//! What the dev core persists, behind the small [`Store`] trait: the
//! published settings documents (RFC 3903 event state, keyed by AoR and event
//! package) and the AKA sequence number of each AKA user. Nonces are not
//! stored: they live in the authenticator's memory and a restart forgets them
//! (clients are simply challenged again).
//!
//! [`SqliteStore`] keeps them in SQLite (rusqlite), so they survive a restart.
//! Its calls are synchronous and made while the core's lock is held: fine for
//! a development core with a handful of clients on a local file. The unit
//! tests use `MemoryStore`.

use crate::message_store::{Deferred, MessageStore, SqliteMessages};
use imsip::im::history::{HistoryEntry, HistoryQuery};
use rusqlite::{params, Connection, OptionalExtension};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// One stored publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Publication {
    /// The Content-Type the document was published with.
    pub content_type: String,
    /// The document, as published.
    pub document: Vec<u8>,
    /// The current entity-tag.
    pub etag: String,
    /// Expiry, in seconds since the Unix epoch.
    pub expires_at: u64,
}

/// A store operation failed (the message of the underlying error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// The result of a store operation.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// What the dev core persists. Times are Unix seconds.
pub(crate) trait Store: MessageStore + Send {
    /// The publication of `aor` for `package`, unless absent or expired at
    /// `now`.
    fn publication(&self, aor: &str, package: &str, now: u64) -> StoreResult<Option<Publication>>;

    /// Stores (inserting or replacing) the publication of `aor` for `package`.
    fn put_publication(&mut self, aor: &str, package: &str, p: &Publication) -> StoreResult<()>;

    /// Removes the publication of `aor` for `package`.
    fn delete_publication(&mut self, aor: &str, package: &str) -> StoreResult<()>;

    /// Removes every publication expired at `now` and returns their
    /// (AoR, package) pairs.
    fn purge_expired(&mut self, now: u64) -> StoreResult<Vec<(String, String)>>;

    /// The earliest expiry of any stored publication (expired or not).
    fn next_expiry(&self) -> StoreResult<Option<u64>>;

    /// The last SQN used for the AKA user `private_id`, if any.
    fn aka_sqn(&self, private_id: &str) -> StoreResult<Option<u64>>;

    /// Records the last SQN used for the AKA user `private_id`.
    fn set_aka_sqn(&mut self, private_id: &str, sqn: u64) -> StoreResult<()>;
}

/// The SQLite store (one file, created if missing).
pub(crate) struct SqliteStore {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS publications (
    aor          TEXT    NOT NULL,
    package      TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    document     BLOB    NOT NULL,
    etag         TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (aor, package)
);
CREATE INDEX IF NOT EXISTS publications_expiry ON publications (expires_at);
CREATE TABLE IF NOT EXISTS aka_sqn (
    private_id TEXT    PRIMARY KEY,
    sqn        INTEGER NOT NULL
);
";

fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<SqliteStore> {
        let db = Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        db.execute_batch(crate::message_store::SCHEMA)?;
        Ok(SqliteStore { db })
    }
}

impl MessageStore for SqliteStore {
    fn defer(&mut self, m: &Deferred) -> StoreResult<i64> {
        SqliteMessages(&self.db).defer(m)
    }
    fn deferred_for(&self, recipient: &str) -> StoreResult<Vec<Deferred>> {
        SqliteMessages(&self.db).deferred_for(recipient)
    }
    fn deferred_usage(&self, recipient: &str) -> StoreResult<(u64, u64)> {
        SqliteMessages(&self.db).deferred_usage(recipient)
    }
    fn delete_deferred(&mut self, id: i64) -> StoreResult<()> {
        SqliteMessages(&self.db).delete_deferred(id)
    }
    fn purge_deferred(&mut self, before: u64) -> StoreResult<u64> {
        SqliteMessages(&self.db).purge_deferred(before)
    }
    fn add_history(&mut self, owner: &str, e: &HistoryEntry) -> StoreResult<()> {
        SqliteMessages(&self.db).add_history(owner, e)
    }
    fn history(&self, owner: &str, q: &HistoryQuery) -> StoreResult<Vec<HistoryEntry>> {
        SqliteMessages(&self.db).history(owner, q)
    }
}

impl Store for SqliteStore {
    fn publication(&self, aor: &str, package: &str, now: u64) -> StoreResult<Option<Publication>> {
        let p = self
            .db
            .query_row(
                "SELECT content_type, document, etag, expires_at FROM publications
                 WHERE aor = ?1 AND package = ?2 AND expires_at > ?3",
                params![aor, package, to_sql(now)],
                |r| {
                    Ok(Publication {
                        content_type: r.get(0)?,
                        document: r.get(1)?,
                        etag: r.get(2)?,
                        expires_at: from_sql(r.get(3)?),
                    })
                },
            )
            .optional()?;
        Ok(p)
    }

    fn put_publication(&mut self, aor: &str, package: &str, p: &Publication) -> StoreResult<()> {
        self.db.execute(
            "INSERT INTO publications (aor, package, content_type, document, etag, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (aor, package) DO UPDATE SET
                content_type = excluded.content_type, document = excluded.document,
                etag = excluded.etag, expires_at = excluded.expires_at",
            params![
                aor,
                package,
                p.content_type,
                p.document,
                p.etag,
                to_sql(p.expires_at)
            ],
        )?;
        Ok(())
    }

    fn delete_publication(&mut self, aor: &str, package: &str) -> StoreResult<()> {
        self.db.execute(
            "DELETE FROM publications WHERE aor = ?1 AND package = ?2",
            params![aor, package],
        )?;
        Ok(())
    }

    fn purge_expired(&mut self, now: u64) -> StoreResult<Vec<(String, String)>> {
        let mut stmt = self
            .db
            .prepare_cached("SELECT aor, package FROM publications WHERE expires_at <= ?1")?;
        let gone = stmt
            .query_map(params![to_sql(now)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
        drop(stmt);
        if !gone.is_empty() {
            self.db.execute(
                "DELETE FROM publications WHERE expires_at <= ?1",
                params![to_sql(now)],
            )?;
        }
        Ok(gone)
    }

    fn next_expiry(&self) -> StoreResult<Option<u64>> {
        let min: Option<i64> =
            self.db
                .query_row("SELECT MIN(expires_at) FROM publications", [], |r| r.get(0))?;
        Ok(min.map(from_sql))
    }

    fn aka_sqn(&self, private_id: &str) -> StoreResult<Option<u64>> {
        let sqn = self
            .db
            .query_row(
                "SELECT sqn FROM aka_sqn WHERE private_id = ?1",
                params![private_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        Ok(sqn.map(from_sql))
    }

    fn set_aka_sqn(&mut self, private_id: &str, sqn: u64) -> StoreResult<()> {
        self.db.execute(
            "INSERT INTO aka_sqn (private_id, sqn) VALUES (?1, ?2)
             ON CONFLICT (private_id) DO UPDATE SET sqn = excluded.sqn",
            params![private_id, to_sql(sqn)],
        )?;
        Ok(())
    }
}

/// A store in memory, for unit tests; `fail` makes every call fail.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    publications: std::collections::BTreeMap<(String, String), Publication>,
    sqn: std::collections::HashMap<String, u64>,
    messages: crate::message_store::MemoryMessages,
    /// When set, every call fails (to test the 500 paths).
    pub fail: bool,
}

#[cfg(test)]
impl MessageStore for MemoryStore {
    fn defer(&mut self, m: &Deferred) -> StoreResult<i64> {
        self.check()?;
        self.messages.defer(m)
    }
    fn deferred_for(&self, recipient: &str) -> StoreResult<Vec<Deferred>> {
        self.check()?;
        self.messages.deferred_for(recipient)
    }
    fn deferred_usage(&self, recipient: &str) -> StoreResult<(u64, u64)> {
        self.check()?;
        self.messages.deferred_usage(recipient)
    }
    fn delete_deferred(&mut self, id: i64) -> StoreResult<()> {
        self.check()?;
        self.messages.delete_deferred(id)
    }
    fn purge_deferred(&mut self, before: u64) -> StoreResult<u64> {
        self.check()?;
        self.messages.purge_deferred(before)
    }
    fn add_history(&mut self, owner: &str, e: &HistoryEntry) -> StoreResult<()> {
        self.check()?;
        self.messages.add_history(owner, e)
    }
    fn history(&self, owner: &str, q: &HistoryQuery) -> StoreResult<Vec<HistoryEntry>> {
        self.check()?;
        self.messages.history(owner, q)
    }
}

#[cfg(test)]
impl MemoryStore {
    fn check(&self) -> StoreResult<()> {
        if self.fail {
            Err(StoreError("store unavailable".into()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
impl Store for MemoryStore {
    fn publication(&self, aor: &str, package: &str, now: u64) -> StoreResult<Option<Publication>> {
        self.check()?;
        Ok(self
            .publications
            .get(&(aor.to_owned(), package.to_owned()))
            .filter(|p| p.expires_at > now)
            .cloned())
    }

    fn put_publication(&mut self, aor: &str, package: &str, p: &Publication) -> StoreResult<()> {
        self.check()?;
        self.publications
            .insert((aor.to_owned(), package.to_owned()), p.clone());
        Ok(())
    }

    fn delete_publication(&mut self, aor: &str, package: &str) -> StoreResult<()> {
        self.check()?;
        self.publications
            .remove(&(aor.to_owned(), package.to_owned()));
        Ok(())
    }

    fn purge_expired(&mut self, now: u64) -> StoreResult<Vec<(String, String)>> {
        self.check()?;
        let gone: Vec<(String, String)> = self
            .publications
            .iter()
            .filter(|(_, p)| p.expires_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.publications.remove(k);
        }
        Ok(gone)
    }

    fn next_expiry(&self) -> StoreResult<Option<u64>> {
        self.check()?;
        Ok(self.publications.values().map(|p| p.expires_at).min())
    }

    fn aka_sqn(&self, private_id: &str) -> StoreResult<Option<u64>> {
        self.check()?;
        Ok(self.sqn.get(private_id).copied())
    }

    fn set_aka_sqn(&mut self, private_id: &str, sqn: u64) -> StoreResult<()> {
        self.check()?;
        self.sqn.insert(private_id.to_owned(), sqn);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract every store keeps.
    fn contract(s: &mut dyn Store) {
        let p = Publication {
            content_type: "application/service-settings+xml".into(),
            document: b"<x/>".to_vec(),
            etag: "e1".into(),
            expires_at: 100,
        };
        assert_eq!(s.next_expiry().unwrap(), None);
        s.put_publication("sip:a@b", "service-settings", &p)
            .unwrap();
        let q = Publication {
            expires_at: 50,
            ..p.clone()
        };
        s.put_publication("sip:a@b", "poc-settings", &q).unwrap();
        assert_eq!(s.next_expiry().unwrap(), Some(50));
        assert_eq!(
            s.publication("sip:a@b", "service-settings", 99).unwrap(),
            Some(p.clone())
        );
        assert_eq!(
            s.publication("sip:a@b", "service-settings", 100).unwrap(),
            None,
            "expired at its expiry time"
        );
        assert_eq!(
            s.purge_expired(50).unwrap(),
            vec![("sip:a@b".to_owned(), "poc-settings".to_owned())]
        );
        assert_eq!(s.next_expiry().unwrap(), Some(100));
        s.delete_publication("sip:a@b", "service-settings").unwrap();
        assert_eq!(s.next_expiry().unwrap(), None);
        assert!(s.purge_expired(1000).unwrap().is_empty());
        assert_eq!(s.aka_sqn("c").unwrap(), None);
        s.set_aka_sqn("c", 7).unwrap();
        s.set_aka_sqn("c", 8).unwrap();
        assert_eq!(s.aka_sqn("c").unwrap(), Some(8));
    }

    #[test]
    fn memory_store_keeps_the_contract() {
        contract(&mut MemoryStore::default());
    }

    #[test]
    fn sqlite_store_keeps_the_contract_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let mut s = SqliteStore::open(&path).unwrap();
        contract(&mut s);
        let p = Publication {
            content_type: "application/service-settings+xml".into(),
            document: b"<x/>".to_vec(),
            etag: "e1".into(),
            expires_at: 100,
        };
        s.put_publication("sip:a@b", "service-settings", &p)
            .unwrap();
        drop(s);
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.aka_sqn("c").unwrap(), Some(8));
        assert_eq!(s.next_expiry().unwrap(), Some(100));
        assert_eq!(
            s.purge_expired(100).unwrap(),
            vec![("sip:a@b".to_owned(), "service-settings".to_owned())]
        );
        assert!(s.purge_expired(100).unwrap().is_empty());
    }
}
