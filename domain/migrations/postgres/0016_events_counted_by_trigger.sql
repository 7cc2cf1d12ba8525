-- Each company event stored counts in its installation's hour of webhook_activity, inside the
-- very statement that stores it: the ingest's batch is then one statement, with no transaction of
-- its own around it. A redelivery (ON CONFLICT DO NOTHING) inserts no row and is not counted.
-- Once per statement, over the rows it inserted, in installation order (so that writers of
-- several instances lock the counters alike).
CREATE FUNCTION count_events_in_webhook_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_activity (installation_uuid, hour, received)
    SELECT installation_uuid, received_at - (received_at % 3600), COUNT(*)
    FROM stored
    GROUP BY installation_uuid, received_at - (received_at % 3600)
    ORDER BY 1, 2
    ON CONFLICT (installation_uuid, hour) DO UPDATE SET
        received = webhook_activity.received + excluded.received;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_count_in_webhook_activity AFTER INSERT ON events
REFERENCING NEW TABLE AS stored
FOR EACH STATEMENT EXECUTE FUNCTION count_events_in_webhook_activity();
