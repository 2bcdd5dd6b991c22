-- Dead letters of the message-bus consumers (package stream): messages, or
-- single trades of a batch message, that can never be booked (not JSON, not
-- a trade, an unknown user, an invalid fee, a refused trade), with the
-- reason. History: appended once per dead letter, never changed.
--
-- dedup_key names where the message came from (the Kafka topic, partition
-- and offset, or the RabbitMQ queue and the message's id or content hash)
-- and which trade of it, so that a message redelivered after a crash
-- (recorded, not yet acknowledged) is recorded once.
CREATE TABLE IF NOT EXISTS ingest_dead_letters (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    at          TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('kafka', 'amqp')),
    destination TEXT NOT NULL,
    position    TEXT NOT NULL,
    trade_id    TEXT NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    truncated   BOOLEAN NOT NULL,
    dedup_key   TEXT NOT NULL UNIQUE
);

CREATE INDEX IF NOT EXISTS ingest_dead_letters_at ON ingest_dead_letters (at, id);
