-- Zones a merchant defines once and uses in several shipping options. An option that names one
-- ships where the zone says (its own zone is then unused); a zone in use cannot be deleted.
CREATE TABLE shipping_zones (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,     -- the name in lower case: names are unique regardless of case
    zone              TEXT NOT NULL,     -- JSON: countries, regions, postal codes, exclusions
    updated_at        INTEGER NOT NULL,
    UNIQUE (installation_uuid, name_key)
);
ALTER TABLE shipping_options ADD COLUMN zone_id INTEGER REFERENCES shipping_zones (id);
