-- The overview's day, kept as counts per hour, so that charting it reads a few hundred rows
-- however busy the day was (reading every call and event of the day took most of a second at
-- 300 000 calls).
--
-- Callbacks: per installation, definition and hour, counted in latency buckets instead of one
-- row per call; recording a batch of calls writes one row per bucket it touches.
--
-- latency_bucket b holds latencies in [10^(b/20), 10^((b+1)/20)) microseconds: twenty a decade,
-- each 12 % wider than the one before (see domain/src/activity/histogram.rs).
CREATE TABLE callback_activity (
    installation_uuid TEXT NOT NULL,
    hour              INTEGER NOT NULL,  -- Unix seconds at the start of the hour
    definition_name   TEXT NOT NULL,
    latency_bucket    INTEGER NOT NULL,
    calls             INTEGER NOT NULL,
    degraded          INTEGER NOT NULL,  -- answered with the fallback, refused or failed
    PRIMARY KEY (installation_uuid, hour, definition_name, latency_bucket)
);

-- The calls recorded so far, carried over into their buckets. SQLite has no log10 here, so each
-- latency finds its bucket among the buckets' lower bounds.
CREATE TEMPORARY TABLE latency_bucket_floors AS
WITH RECURSIVE floors(bucket, lower_us) AS (
    SELECT 0, 1.0
    UNION ALL
    SELECT bucket + 1, lower_us * 1.1220184543019633 FROM floors WHERE bucket < 160
)
SELECT bucket, lower_us FROM floors;

INSERT INTO callback_activity (installation_uuid, hour, definition_name, latency_bucket, calls, degraded)
SELECT installation_uuid, hour, definition_name, latency_bucket,
       COUNT(*), SUM(CASE WHEN outcome = 'answered' THEN 0 ELSE 1 END)
FROM (
    SELECT installation_uuid, definition_name, outcome, at - (at % 3600) AS hour,
           (SELECT MAX(bucket) FROM latency_bucket_floors WHERE lower_us <= MAX(latency_us, 1)) AS latency_bucket
    FROM callback_invocations
) calls
GROUP BY installation_uuid, hour, definition_name, latency_bucket;

DROP TABLE latency_bucket_floors;
DROP TABLE callback_invocations;

-- Company events received, per installation and hour: counted in the transaction that stores
-- them, so the count is the events stored. Those already stored are counted here.
CREATE TABLE webhook_activity (
    installation_uuid TEXT NOT NULL,
    hour              INTEGER NOT NULL,  -- Unix seconds at the start of the hour
    received          INTEGER NOT NULL,
    PRIMARY KEY (installation_uuid, hour)
);

INSERT INTO webhook_activity (installation_uuid, hour, received)
SELECT installation_uuid, received_at - (received_at % 3600), COUNT(*)
FROM events
GROUP BY installation_uuid, received_at - (received_at % 3600);
