// Package audit is the configuration audit log (table audit_log): who
// changed what, when, and the definition before and after.
//
// Every effective change to configuration — the chart of accounts and
// currencies (accounts), users, codes, programs, rules, FX rates, fee
// schedules and payout batches (affiliate), API keys (keys) — writes one
// [Record] with [Write] in the same transaction as the change: when (the
// caller's clock), who (the actor: a key id, "bootstrap", "cli:…"), what
// (an action such as "chart.put" or "key.revoke" and an object such as
// "code:NNN" or "key:ID"), and the object's definition before (null on
// creation) and after, as JSON. A change that rolls back leaves no record;
// a no-op change writes none.
//
// [List] pages through the log in (time, id) order with an (AfterAt,
// AfterID) cursor, optionally filtered by object or action.
//
// # Position
//
// Each record has a position (Pos), taken from the one-row table
// audit_head (UPDATE … RETURNING) in the writer's transaction. The row lock
// is held until that transaction ends, so a position is only taken once
// every smaller one is committed (or rolled back, and then reused):
// positions are gapless, and any snapshot holds a prefix of the log by
// position. [After] reads past a position; the event feed (package events)
// uses it as its resumable cursor into the log. Configuration changes are
// rare, so serializing their appends costs nothing that matters; the
// journal's write path writes no audit record. audit_head is a counter,
// not history: the only table of this package the server may update.
//
// The log is append-only: the server's database role may insert into
// audit_log but not update, delete or truncate it (schema's grants), so the
// server cannot rewrite history even if its code is wrong.
package audit
