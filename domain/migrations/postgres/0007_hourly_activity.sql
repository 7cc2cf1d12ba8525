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
    hour              BIGINT NOT NULL,  -- Unix seconds at the start of the hour
    definition_name   TEXT NOT NULL,
    latency_bucket    BIGINT NOT NULL,
    calls             BIGINT NOT NULL,
    degraded          BIGINT NOT NULL,  -- answered with the fallback, refused or failed
    PRIMARY KEY (installation_uuid, hour, definition_name, latency_bucket)
);

-- The calls recorded so far, carried over into their buckets.
INSERT INTO callback_activity (installation_uuid, hour, definition_name, latency_bucket, calls, degraded)
SELECT installation_uuid, hour, definition_name, latency_bucket,
       COUNT(*), SUM(CASE WHEN outcome = 'answered' THEN 0 ELSE 1 END)
FROM (
    SELECT installation_uuid, definition_name, outcome, at - (at % 3600) AS hour,
           LEAST(160, FLOOR(20 * LOG(GREATEST(latency_us, 1)::double precision)))::bigint AS latency_bucket
    FROM callback_invocations
) calls
GROUP BY installation_uuid, hour, definition_name, latency_bucket;

DROP TABLE callback_invocations;

-- Company events received, per installation and hour: counted in the transaction that stores
-- them, so the count is the events stored. Those already stored are counted here.
CREATE TABLE webhook_activity (
    installation_uuid TEXT NOT NULL,
    hour              BIGINT NOT NULL, -- Unix seconds at the start of the hour
    received          BIGINT NOT NULL,
    PRIMARY KEY (installation_uuid, hour)
);

INSERT INTO webhook_activity (installation_uuid, hour, received)
SELECT installation_uuid, received_at - (received_at % 3600), COUNT(*)
FROM events
GROUP BY installation_uuid, received_at - (received_at % 3600);
