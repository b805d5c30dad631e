-- The mock gateway's intents are found by their id only. The UNIQUE constraints on
-- payment_id and event_id cost every confirmed intent two more index inserts, and nothing
-- reads by them.
ALTER TABLE mock_gateway_intents DROP CONSTRAINT mock_gateway_intents_payment_id_key;
ALTER TABLE mock_gateway_intents DROP CONSTRAINT mock_gateway_intents_event_id_key;
