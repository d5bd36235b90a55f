//! The SQLite store: published settings documents (RFC 3903 event state,
//! keyed by AoR and event package) and the AKA sequence number of each AKA
//! user. Both survive a restart of the dev core.

use rusqlite::{params, Connection, OptionalExtension};
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

/// The database of the dev core.
pub(crate) struct Store {
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

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
        let db = Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Store { db })
    }

    /// The publication of `aor` for `package`, unless absent or expired at
    /// `now` (Unix seconds).
    pub fn publication(
        &self,
        aor: &str,
        package: &str,
        now: u64,
    ) -> rusqlite::Result<Option<Publication>> {
        self.db
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
            .optional()
    }

    /// Stores (inserting or replacing) the publication of `aor` for `package`.
    pub fn put_publication(
        &self,
        aor: &str,
        package: &str,
        p: &Publication,
    ) -> rusqlite::Result<()> {
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

    /// Removes the publication of `aor` for `package`.
    pub fn delete_publication(&self, aor: &str, package: &str) -> rusqlite::Result<()> {
        self.db.execute(
            "DELETE FROM publications WHERE aor = ?1 AND package = ?2",
            params![aor, package],
        )?;
        Ok(())
    }

    /// Removes every publication expired at `now` and returns their
    /// (AoR, package) pairs.
    pub fn purge_expired(&self, now: u64) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self
            .db
            .prepare_cached("SELECT aor, package FROM publications WHERE expires_at <= ?1")?;
        let gone = stmt
            .query_map(params![to_sql(now)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
        if !gone.is_empty() {
            self.db.execute(
                "DELETE FROM publications WHERE expires_at <= ?1",
                params![to_sql(now)],
            )?;
        }
        Ok(gone)
    }

    /// The last SQN used for the AKA user `private_id`, if any.
    pub fn aka_sqn(&self, private_id: &str) -> rusqlite::Result<Option<u64>> {
        self.db
            .query_row(
                "SELECT sqn FROM aka_sqn WHERE private_id = ?1",
                params![private_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|o| o.map(from_sql))
    }

    /// Records the last SQN used for the AKA user `private_id`.
    pub fn set_aka_sqn(&self, private_id: &str, sqn: u64) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO aka_sqn (private_id, sqn) VALUES (?1, ?2)
             ON CONFLICT (private_id) DO UPDATE SET sqn = excluded.sqn",
            params![private_id, to_sql(sqn)],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publications_and_sqn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let s = Store::open(&path).unwrap();
        let p = Publication {
            content_type: "application/service-settings+xml".into(),
            document: b"<x/>".to_vec(),
            etag: "e1".into(),
            expires_at: 100,
        };
        s.put_publication("sip:a@b", "service-settings", &p)
            .unwrap();
        assert_eq!(
            s.publication("sip:a@b", "service-settings", 99).unwrap(),
            Some(p.clone())
        );
        assert_eq!(
            s.publication("sip:a@b", "service-settings", 100).unwrap(),
            None
        );
        assert_eq!(s.aka_sqn("c").unwrap(), None);
        s.set_aka_sqn("c", 7).unwrap();
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.aka_sqn("c").unwrap(), Some(7));
        assert_eq!(
            s.purge_expired(100).unwrap(),
            vec![("sip:a@b".to_owned(), "service-settings".to_owned())]
        );
        assert!(s.purge_expired(100).unwrap().is_empty());
    }
}
