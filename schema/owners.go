package schema

// Owners returns, for every table the migrations create (and the two that
// Migrate itself keeps), the package that owns it: the only package, named
// by its path inside the module, whose SQL may name the table. Any other
// package reads or writes the table through its owner's functions, so a
// table's layout, locks and invariants are the business of one package.
//
// TestTableOwners fails when a migrated table is missing from this list, and
// when a package's SQL names a table owned by another package. A migration
// that adds a table adds it here too. The result is a fresh map; callers may
// change it.
func Owners() map[string]string {
	return map[string]string{
		// Migrate's own bookkeeping.
		"schema_migrations": "schema",
		"schema_lock":       "schema",

		// The chart of accounts.
		"account_codes": "accounts",
		"currencies":    "accounts",

		// The configuration audit log.
		"audit_log":  "audit",
		"audit_head": "audit",

		// The journal.
		"journal_shards": "ledger",
		"entries":        "ledger",
		"postings":       "ledger",
		"balances":       "ledger",
		// What readers read of balances (migration 048).
		"balances_current": "ledger",
		// Views of the journal's lines (migration 040).
		"lines":        "ledger",
		"inline_lines": "ledger",

		// Accounting periods: their events and closing snapshots.
		"period_events":    "periods",
		"period_snapshots": "periods",
		// Period checkpoints: balance trees of closes and their signed notes.
		"period_checkpoints": "periods",
		"period_balances":    "periods",
		// Seals of the journal's shards, the Merkle log over the journal
		// and its signed checkpoints.
		"seals":            "seal",
		"seal_heads":       "seal",
		"merkle_hash_runs": "seal",
		// Its hashes of level 5 and up since migration 050.
		"merkle_upper_runs": "seal",

		// API keys and their people.
		"api_keys": "keys",

		// The commission engine: users and their tree, programs, trades,
		// accruals, rates and fee schedules, statistics.
		"users":                   "affiliate",
		"referral_codes":          "affiliate",
		"referral_notes":          "affiliate",
		"programs":                "affiliate",
		"revenue_shares":          "affiliate",
		"user_events":             "affiliate",
		"bounty_awards":           "affiliate",
		"trades":                  "affiliate",
		"trade_reversals":         "affiliate",
		"accruals":                "affiliate",
		"fx_rates":                "affiliate",
		"fee_schedules":           "affiliate",
		"referred_volume_daily":   "affiliate",
		"affiliate_stats_hourly":  "affiliate",
		"affiliate_stats_day":     "affiliate",
		"affiliate_referee_daily": "affiliate",
		"stats_fold_marks":        "affiliate",
		"stats_day_marks":         "affiliate",
		"accrual_revaluations":    "affiliate",
		"cache_versions":          "affiliate",
		"user_vip_levels":         "affiliate",
		"program_versions":        "affiliate",
		"user_volume":             "affiliate",

		// Accruals as read: compact trade accruals filled from their trade
		// (a view, migration 042).
		"accruals_whole": "affiliate",

		// Payouts: batches and their lines, the accruals they claim, the
		// delivery outbox, the scheduler's claimed runs and the settings row
		// that holds the fraud rules.
		"payout_batches":  "payouts",
		"payout_lines":    "payouts",
		"payout_accruals": "payouts",
		"payout_outbox":   "payouts",
		"scheduler_runs":  "payouts",
		"settings":        "payouts",
		"signup_risk":     "payouts", // issue 15 item 7: hashed signup signals and their flags

		// Events out: webhook subscriptions, their feed cursors, the
		// delivery outbox and its append-only attempt log.
		"webhook_subscriptions": "events",
		"webhook_cursors":       "events",
		"webhook_deliveries":    "events",
		"webhook_attempts":      "events",

		// The message-bus consumers: what they could never book.
		"ingest_dead_letters": "stream",
	}
}
