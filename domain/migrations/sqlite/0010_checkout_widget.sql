-- The shopper widget each installation shows in Fluid's checkout drop zone: the opaque key its URL
-- carries (never the DRI, which opens the admin pages; a new one at each install), whether the
-- merchant has it on, what it shows, and which of the manifest's drop zones carries it.
CREATE TABLE checkout_widgets (
    installation_uuid TEXT PRIMARY KEY REFERENCES installations (uuid),
    widget_key        TEXT NOT NULL UNIQUE,
    enabled           INTEGER NOT NULL,  -- 0 or 1
    shows             TEXT NOT NULL CHECK (shows IN ('best_option', 'free_shipping_progress', 'both')),
    zone_name         TEXT,              -- the drop zone (drop_zones.name) that frames it, once synced
    updated_at        INTEGER NOT NULL
);

-- The URL each drop zone was created or last updated with on Fluid: a different one is sent again.
ALTER TABLE drop_zones ADD COLUMN embed_url TEXT;
