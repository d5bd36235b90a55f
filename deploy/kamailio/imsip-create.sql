-- The IM Server's own tables, next to Kamailio's standard ones (subscriber,
-- location, silo). Plain SQL accepted by SQLite, PostgreSQL and MySQL/MariaDB,
-- except history.id (see there).

-- One row per AoR holding its published OMA IM service settings and the settings
-- read out of them at PUBLISH time.
CREATE TABLE imsip_settings (
    aor VARCHAR(255) NOT NULL PRIMARY KEY, -- sip:user@domain
    etag VARCHAR(64) NOT NULL,             -- the current SIP-ETag
    expires INTEGER NOT NULL,              -- end of the publication, seconds since the epoch
    body TEXT NOT NULL,                    -- the document, base64 (so no SQL quoting of client bytes)
    isb INTEGER DEFAULT 0 NOT NULL,        -- <incoming-session-barring active> for this AoR's entity
    offline INTEGER DEFAULT 0 NOT NULL,    -- <offline-delivery active>
    hist INTEGER DEFAULT 0 NOT NULL        -- <hist-activation active>: MESSAGEs kept in history
);

-- Conversation history: the MESSAGEs a user sent or received while their
-- <hist-activation> was active, read back with SUBSCRIBE Event: im-history.
-- Never deleted by the core. The id is the row's integer key, assigned by the
-- database: this line is SQLite's form (a rowid alias); PostgreSQL wants
-- `id SERIAL PRIMARY KEY`, MySQL/MariaDB `id INTEGER AUTO_INCREMENT PRIMARY KEY`.
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    owner VARCHAR(255) NOT NULL,           -- whose history: sip:user@domain
    direction VARCHAR(8) NOT NULL,         -- 'sent' (by owner, to peer) or 'received' (from peer)
    peer VARCHAR(255) NOT NULL,            -- the other party: sip:user@domain
    time INTEGER NOT NULL,                 -- relayed (the 2xx) or stored, seconds since the epoch
    content_type VARCHAR(255) NOT NULL,    -- the MESSAGE's Content-Type ('' when it had none)
    body TEXT NOT NULL,                    -- the body: as sent when it is UTF-8 XML 1.0 text,
                                           -- else its base64
    encoding VARCHAR(8) DEFAULT '' NOT NULL -- 'base64' for a base64 body, '' for text
);
CREATE INDEX history_owner_time ON history (owner, time);
