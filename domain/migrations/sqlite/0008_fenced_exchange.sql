-- The signed time (X-Fluid-Timestamp) of the install applied last: an uninstall signed before it
-- is a late or replayed delivery that must not remove the newer install.
ALTER TABLE installations ADD COLUMN installed_signed_at INTEGER;

-- Exchange claims, fenced and durable (SQLite cannot change a CHECK constraint: the table is
-- rebuilt, its rows carried over).
--   claimed    a delivery (its `holder`) is exchanging the token now
--   released   given up after Fluid was unavailable; the next delivery claims it again
--   exchanged  Fluid answered: the credentials are in `sealed_answer`, activation not yet done
--   completed  activated (or superseded by an uninstall); `sealed_answer` erased
--   failed     Fluid refused the exchange for good (`failure_reason`)
CREATE TABLE exchange_claims_0008 (
    token_hash        TEXT PRIMARY KEY,   -- SHA-256 of the dex_ token, hex; never the token itself
    installation_uuid TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('claimed', 'released', 'exchanged', 'completed', 'failed')),
    holder            TEXT,               -- random id of the delivery holding the claim: the fence
    possibly_spent    INTEGER NOT NULL DEFAULT 0 CHECK (possibly_spent IN (0, 1)), -- an attempt may have reached Fluid and its answer been lost
    signed_at         INTEGER,            -- the install's signed time
    sealed_answer     TEXT,               -- the exchange's credentials, AEAD-sealed, until activated
    failure_reason    TEXT,
    claimed_at        INTEGER NOT NULL,   -- Unix seconds
    finished_at       INTEGER
);
INSERT INTO exchange_claims_0008 (token_hash, installation_uuid, state, failure_reason, claimed_at, finished_at)
    SELECT token_hash, installation_uuid, state, failure_reason, claimed_at, finished_at FROM exchange_claims;
DROP TABLE exchange_claims;
ALTER TABLE exchange_claims_0008 RENAME TO exchange_claims;
CREATE INDEX exchange_claims_installation ON exchange_claims (installation_uuid);
