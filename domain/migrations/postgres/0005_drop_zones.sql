-- The drop zones created for each company from droplet.toml, by name, with Fluid's id.
CREATE TABLE drop_zones (
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    name              TEXT NOT NULL,
    fluid_uuid        TEXT,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'registered', 'failed', 'deleted')),
    last_error        TEXT,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (installation_uuid, name)
);
