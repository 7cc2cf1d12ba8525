-- Shipping options keep their rules as one JSON document (currency, delivery, weight unit, zone,
-- conditions, rate). Each existing option becomes exactly what it was: a flat price for its
-- countries, with its subtotal and weight bounds and its free-above threshold.
ALTER TABLE shipping_options ADD COLUMN rules TEXT;  -- JSON; amounts are decimal strings
UPDATE shipping_options SET rules = json_build_object(
    'currency', currency,
    'delivery', json_build_object('estimate', delivery_estimate),
    'weight_unit', weight_unit,
    'zone', json_build_object('countries',
        CASE WHEN countries = '' THEN '[]'::json ELSE to_json(string_to_array(countries, ',')) END),
    'conditions', json_build_object('subtotal_min', subtotal_min, 'subtotal_max', subtotal_max,
                                    'weight_min', weight_min, 'weight_max', weight_max),
    'rate', json_build_object('kind', json_build_object('type', 'flat', 'price', price),
                              'free_above', free_above)
)::text;
ALTER TABLE shipping_options ALTER COLUMN rules SET NOT NULL;
ALTER TABLE shipping_options
    DROP COLUMN price,
    DROP COLUMN currency,
    DROP COLUMN delivery_estimate,
    DROP COLUMN countries,
    DROP COLUMN subtotal_min,
    DROP COLUMN subtotal_max,
    DROP COLUMN free_above,
    DROP COLUMN weight_min,
    DROP COLUMN weight_max,
    DROP COLUMN weight_unit;
