-- The rate a merchant chooses to answer update_cart_shipping with when the droplet cannot answer
-- in time (its handler failed or overran): none means Fluid's fallback, the empty list.
CREATE TABLE shipping_backup_rates (
    installation_uuid TEXT PRIMARY KEY REFERENCES installations (uuid),
    title             TEXT NOT NULL,
    price             TEXT NOT NULL,     -- decimal
    currency          TEXT NOT NULL,     -- ISO 4217
    delivery_estimate TEXT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- The latest update_cart_shipping decisions per installation (the newest 200 are kept), so a
-- merchant can see why a customer was offered what they were.
CREATE TABLE shipping_decisions (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    at                BIGINT NOT NULL,  -- Unix seconds
    outcome           TEXT NOT NULL CHECK (outcome IN ('answered', 'backup', 'fallback')),
    latency_us        BIGINT NOT NULL,
    cart              TEXT NOT NULL,     -- JSON: destination, subtotal, weight, items (no shopper identity)
    lines             TEXT NOT NULL      -- JSON: each option, its total when offered, and why
);
CREATE INDEX shipping_decisions_recent ON shipping_decisions (installation_uuid, id);
