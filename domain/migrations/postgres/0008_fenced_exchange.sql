-- The signed time (X-Fluid-Timestamp) of the install applied last: an uninstall signed before it
-- is a late or replayed delivery that must not remove the newer install.
ALTER TABLE installations ADD COLUMN installed_signed_at BIGINT;

-- Exchange claims, fenced and durable.
--   claimed    a delivery (its `holder`) is exchanging the token now
--   released   given up after Fluid was unavailable; the next delivery claims it again
--   exchanged  Fluid answered: the credentials are in `sealed_answer`, activation not yet done
--   completed  activated (or superseded by an uninstall); `sealed_answer` erased
--   failed     Fluid refused the exchange for good (`failure_reason`)
ALTER TABLE exchange_claims DROP CONSTRAINT exchange_claims_state_check;
ALTER TABLE exchange_claims ADD CONSTRAINT exchange_claims_state_check
    CHECK (state IN ('claimed', 'released', 'exchanged', 'completed', 'failed'));
ALTER TABLE exchange_claims ADD COLUMN holder TEXT;
ALTER TABLE exchange_claims ADD COLUMN possibly_spent BIGINT NOT NULL DEFAULT 0 CHECK (possibly_spent IN (0, 1));
ALTER TABLE exchange_claims ADD COLUMN signed_at BIGINT;
ALTER TABLE exchange_claims ADD COLUMN sealed_answer TEXT;
CREATE INDEX exchange_claims_installation ON exchange_claims (installation_uuid);
