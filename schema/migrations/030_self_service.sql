-- Self-service for affiliates (issue 15): codes that can be edited and
-- disabled, referees that follow their code's default rate, private notes
-- per referee. The history of every code and rate change is the audit log
-- (before, after, actor, time), written in the same transaction as the
-- change; see "Codes, rates and notes" in affiliate/doc.go.

-- A disabled code refuses new signups; its referees keep it.
ALTER TABLE referral_codes ADD COLUMN IF NOT EXISTS disabled_at TIMESTAMPTZ;

-- A referee that joined on its code's default rate follows that code:
-- raising the code's rate raises theirs. A custom rate pins it (false).
ALTER TABLE users ADD COLUMN IF NOT EXISTS rate_follows_code BOOLEAN NOT NULL DEFAULT false;

-- Existing referees whose rate equals their code's (still owned by their
-- referrer) joined on it and were never given a custom rate: they follow.
UPDATE users SET rate_follows_code = true FROM referral_codes c
WHERE c.code = users.referral_code AND c.owner_id = users.referrer_id AND c.rate = users.rate AND users.rate_follows_code = false;

-- An affiliate's private note on a referee: append-only, the newest row
-- per (affiliate, referee) is the note; an empty note clears it.
CREATE TABLE IF NOT EXISTS referral_notes (
    affiliate_id TEXT NOT NULL,
    referee_id   TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    note         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    PRIMARY KEY (affiliate_id, referee_id, at)
);
