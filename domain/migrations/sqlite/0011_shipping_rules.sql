-- Shipping options keep their rules as one JSON document (currency, delivery, weight unit, zone,
-- conditions, rate). Each existing option becomes exactly what it was: a flat price for its
-- countries, with its subtotal and weight bounds and its free-above threshold. SQLite cannot drop
-- a column a CHECK names, so the table is rebuilt.
CREATE TABLE shipping_options_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    position          INTEGER NOT NULL,
    title             TEXT NOT NULL,
    enabled           INTEGER NOT NULL,  -- 0 or 1
    rules             TEXT NOT NULL,     -- JSON; amounts are decimal strings, never floating point
    updated_at        INTEGER NOT NULL
);
INSERT INTO shipping_options_new (id, installation_uuid, position, title, enabled, rules, updated_at)
SELECT id, installation_uuid, position, title, enabled,
       json_object(
           'currency', currency,
           'delivery', json_object('estimate', delivery_estimate),
           'weight_unit', weight_unit,
           'zone', json_object('countries',
               CASE WHEN countries = '' THEN json('[]')
                    ELSE json('["' || replace(countries, ',', '","') || '"]') END),
           'conditions', json_object('subtotal_min', subtotal_min, 'subtotal_max', subtotal_max,
                                     'weight_min', weight_min, 'weight_max', weight_max),
           'rate', json_object('kind', json_object('type', 'flat', 'price', price),
                               'free_above', free_above)
       ),
       updated_at
FROM shipping_options;
-- Ids of options deleted before are never handed out again (the audit log names options by id).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'shipping_options_new', 0
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'shipping_options_new');
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'shipping_options'), 0))
WHERE name = 'shipping_options_new';
DROP TABLE shipping_options;
ALTER TABLE shipping_options_new RENAME TO shipping_options;
CREATE INDEX shipping_options_installation ON shipping_options (installation_uuid, position);
