-- Each company event stored counts in its installation's hour of webhook_activity, inside the
-- very statement that stores it: the ingest's batch is then one statement, with no transaction of
-- its own around it. A redelivery (ON CONFLICT DO NOTHING) inserts no row and is not counted.
CREATE TRIGGER events_count_in_webhook_activity AFTER INSERT ON events
BEGIN
    INSERT INTO webhook_activity (installation_uuid, hour, received)
    VALUES (NEW.installation_uuid, NEW.received_at - (NEW.received_at % 3600), 1)
    ON CONFLICT (installation_uuid, hour) DO UPDATE SET received = received + 1;
END;
