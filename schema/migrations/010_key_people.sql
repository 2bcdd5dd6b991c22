-- Four-eyes separates people, not keys (docs/CONTRACT.md §10, POST /v1/keys). Every API
-- key gets a label for who holds it (person, may be empty) and the person it
-- counts as for four-eyes (person_id): a key minted by another key (its
-- created_by is that key's id) belongs to its minter's person, so person_id
-- is the id of the lineage's root key; a key created by the bootstrap key
-- or the CLI is a person of its own (person_id = its id). person_id is set
-- once, when the key is created, and never follows later changes: revoking
-- the root key leaves its minted keys the root's person.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS person TEXT NOT NULL DEFAULT '';

ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS person_id UUID;

-- Existing keys: walk each lineage down from its root (a key whose creator
-- is not a key of this table).
WITH RECURSIVE lineage (id, root) AS (
    SELECT id, id FROM api_keys WHERE created_by NOT IN (SELECT id::text FROM api_keys)
    UNION ALL
    SELECT k.id, l.root FROM api_keys k JOIN lineage l ON k.created_by = l.id::text
)
UPDATE api_keys SET person_id = lineage.root FROM lineage WHERE api_keys.id = lineage.id AND api_keys.person_id IS NULL;

UPDATE api_keys SET person_id = id WHERE person_id IS NULL;

ALTER TABLE api_keys ALTER COLUMN person_id SET NOT NULL;

-- The people of a payout batch's decisions: person ids (a key's person_id,
-- or an actor name such as "bootstrap" or "scheduler") and the acting key's
-- person label. executed_by was only in the audit log so far.
ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS created_by_person TEXT;

ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS created_by_label TEXT NOT NULL DEFAULT '';

ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS approved_by_person TEXT;

ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS approved_by_label TEXT NOT NULL DEFAULT '';

ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS executed_by TEXT;

ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS executed_by_person TEXT;

ALTER TABLE payout_batches ADD COLUMN IF NOT EXISTS executed_by_label TEXT NOT NULL DEFAULT '';

-- Existing batches: the person of the key that built or approved them (an
-- actor that is not a key is its own person).
UPDATE payout_batches SET created_by_person = coalesce((SELECT k.person_id::text FROM api_keys k WHERE k.id::text = payout_batches.created_by), created_by)
WHERE created_by_person IS NULL;

UPDATE payout_batches SET approved_by_person = coalesce((SELECT k.person_id::text FROM api_keys k WHERE k.id::text = payout_batches.approved_by), approved_by)
WHERE approved_by_person IS NULL AND approved_by IS NOT NULL;
