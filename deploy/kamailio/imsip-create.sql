-- The IM Server's own table, next to Kamailio's standard ones (subscriber,
-- location, silo): one row per AoR holding its published OMA IM service
-- settings and the settings read out of them at PUBLISH time.
-- Plain SQL accepted by SQLite, PostgreSQL and MySQL/MariaDB.
CREATE TABLE imsip_settings (
    aor VARCHAR(255) NOT NULL PRIMARY KEY, -- sip:user@domain
    etag VARCHAR(64) NOT NULL,             -- the current SIP-ETag
    expires INTEGER NOT NULL,              -- end of the publication, seconds since the epoch
    body TEXT NOT NULL,                    -- the document, base64 (so no SQL quoting of client bytes)
    isb INTEGER DEFAULT 0 NOT NULL,        -- <incoming-session-barring active> for this AoR's entity
    offline INTEGER DEFAULT 0 NOT NULL,    -- <offline-delivery active>
    hist INTEGER DEFAULT 0 NOT NULL        -- <hist-activation active> (stored, not acted on)
);
