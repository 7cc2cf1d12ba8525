-- The shipping options each merchant configures; update_cart_shipping answers from them.
CREATE TABLE shipping_options (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    position          INTEGER NOT NULL,
    title             TEXT NOT NULL,
    price             TEXT NOT NULL,     -- decimal, e.g. '5.99': money is never floating point
    currency          TEXT NOT NULL,     -- ISO 4217
    delivery_estimate TEXT NOT NULL,
    countries         TEXT NOT NULL,     -- ISO 3166-1 alpha-2 codes, comma-separated; '' = everywhere
    subtotal_min      TEXT,
    subtotal_max      TEXT,
    free_above        TEXT,
    weight_min        TEXT,
    weight_max        TEXT,
    weight_unit       TEXT NOT NULL CHECK (weight_unit IN ('kg', 'g', 'lb', 'oz')),
    enabled           INTEGER NOT NULL,  -- 0 or 1
    updated_at        INTEGER NOT NULL
);
CREATE INDEX shipping_options_installation ON shipping_options (installation_uuid, position);

-- Each callback answered: outcome and latency, for the activity view.
CREATE TABLE callback_invocations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_uuid TEXT NOT NULL,
    definition_name   TEXT NOT NULL,
    outcome           TEXT NOT NULL,     -- answered, fallback, rejected, error
    status            INTEGER NOT NULL,  -- the HTTP status sent
    latency_us        INTEGER NOT NULL,
    at                INTEGER NOT NULL   -- Unix seconds
);
CREATE INDEX callback_invocations_recent ON callback_invocations (installation_uuid, at);
