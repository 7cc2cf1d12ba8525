-- Who changed what in the admin UI: one row per write, with the verified Fluid user, the time and
-- the state before and after (JSON), kept after an uninstall.
CREATE TABLE audit_log (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    installation_uuid TEXT NOT NULL,
    at                BIGINT NOT NULL,   -- Unix seconds
    user_id           TEXT,              -- Fluid's user id; NULL when ADMIN_AUTH=dri let a DRI holder write
    user_name         TEXT NOT NULL,
    action            TEXT NOT NULL,
    subject           TEXT NOT NULL,
    before_json       TEXT,
    after_json        TEXT
);
CREATE INDEX audit_log_installation ON audit_log (installation_uuid, id);
