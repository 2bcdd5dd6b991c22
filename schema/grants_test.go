package schema_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// grant is what the app role may do on one table: table-level privileges
// (of SELECT, INSERT, UPDATE, DELETE) and, when UPDATE is not among them,
// the only columns it may update.
type grant struct {
	table  []string
	update []string
}

// appGrants is the decision for every table of the schema: a table added
// by a migration fails TestAppRoleGrants until it is listed here (and in
// grants.sql). History tables get SELECT and INSERT only.
var appGrants = map[string]grant{
	"schema_migrations": {table: []string{"SELECT"}},
	"schema_lock":       {table: []string{"SELECT"}},

	"entries":         {table: []string{"SELECT", "INSERT"}},
	"postings":        {table: []string{"SELECT", "INSERT"}},
	"audit_log":       {table: []string{"SELECT", "INSERT"}},
	"user_events":     {table: []string{"SELECT", "INSERT"}},
	"bounty_awards":   {table: []string{"SELECT", "INSERT"}},
	"trades":          {table: []string{"SELECT", "INSERT"}},
	"trade_reversals": {table: []string{"SELECT", "INSERT"}},
	"accruals":        {table: []string{"SELECT", "INSERT"}},
	"scheduler_runs":  {table: []string{"SELECT", "INSERT"}},
	"seals":           {table: []string{"SELECT", "INSERT"}},
	"seal_heads":      {table: []string{"SELECT", "INSERT"}},

	"merkle_hash_runs":  {table: []string{"SELECT", "INSERT"}},
	"merkle_upper_runs": {table: []string{"SELECT", "INSERT"}},

	"ingest_dead_letters": {table: []string{"SELECT", "INSERT"}},

	"journal_shards": {table: []string{"SELECT", "INSERT", "UPDATE"}},
	"balances":       {table: []string{"SELECT", "INSERT"}, update: []string{"debits", "credits", "pending_debits", "pending_credits", "balance", "last_seq", "row_seq"}},
	"currencies":     {table: []string{"SELECT", "INSERT"}, update: []string{"precision", "enabled", "updated_at"}},
	"account_codes":  {table: []string{"SELECT", "INSERT"}, update: []string{"name", "type", "normal_side", "per_holder", "balance_rule", "updated_at"}},
	"api_keys":       {table: []string{"SELECT", "INSERT"}, update: []string{"revoked_at"}},
	"users":          {table: []string{"SELECT", "INSERT"}, update: []string{"referrer_id", "program_id", "rate", "kickback_rate", "tax_id", "kyc_verified_at", "first_deposit_at", "first_trade_at", "vip_level", "rate_follows_code"}},
	"referral_codes": {table: []string{"SELECT", "INSERT"}, update: []string{"rate", "kickback", "note", "disabled_at"}},
	"referral_notes": {table: []string{"SELECT", "INSERT"}},
	"programs":       {table: []string{"SELECT", "INSERT"}, update: []string{"kind", "is_default", "config", "updated_at"}},
	"revenue_shares": {table: []string{"SELECT", "INSERT", "DELETE"}},
	"fx_rates":       {table: []string{"SELECT", "INSERT"}, update: []string{"rate"}},
	"fee_schedules":  {table: []string{"SELECT", "INSERT"}, update: []string{"maker_rate", "taker_rate"}},
	"settings":       {table: []string{"SELECT", "INSERT"}, update: []string{"value"}},

	"payout_batches":  {table: []string{"SELECT", "INSERT"}, update: []string{"status", "approved_by", "approved_by_person", "approved_by_label", "approved_at", "executed_at", "executed_by", "executed_by_person", "executed_by_label", "entry_id", "rejected_by", "rejected_at"}},
	"payout_lines":    {table: []string{"SELECT", "INSERT"}, update: []string{"status", "forfeited", "decided_by", "decided_at", "entry_id"}},
	"payout_accruals": {table: []string{"SELECT", "INSERT"}, update: []string{"active"}},
	"payout_outbox":   {table: []string{"SELECT", "INSERT"}, update: []string{"status", "attempts", "next_attempt_at", "last_error", "updated_at"}},
	"signup_risk":     {table: []string{"SELECT", "INSERT"}},

	"audit_head":            {table: []string{"SELECT"}, update: []string{"pos"}},
	"webhook_subscriptions": {table: []string{"SELECT", "INSERT"}, update: []string{"disabled_by", "disabled_at"}},
	"webhook_cursors":       {table: []string{"SELECT", "INSERT"}, update: []string{"cursor", "updated_at"}},
	"webhook_deliveries":    {table: []string{"SELECT", "INSERT"}, update: []string{"status", "attempts", "next_attempt_at", "claimed_by", "updated_at"}},
	"webhook_attempts":      {table: []string{"SELECT", "INSERT"}},

	"referred_volume_daily":   {table: []string{"SELECT", "INSERT"}, update: []string{"volume", "trades"}},
	"affiliate_stats_hourly":  {table: []string{"SELECT", "INSERT"}, update: rollupFigures},
	"affiliate_stats_day":     {table: []string{"SELECT", "INSERT"}, update: rollupFigures},
	"affiliate_referee_daily": {table: []string{"SELECT", "INSERT"}, update: rollupFigures},
	"stats_fold_marks":        {table: []string{"SELECT", "INSERT"}, update: []string{"seq", "folded_at"}},
	"stats_day_marks":         {table: []string{"SELECT", "INSERT"}, update: []string{"hour", "rolled_at"}},
	"accrual_revaluations":    {table: []string{"SELECT", "INSERT"}},
	"user_vip_levels":         {table: []string{"SELECT", "INSERT"}},
	"program_versions":        {table: []string{"SELECT", "INSERT"}},
	"user_volume":             {table: []string{"SELECT", "INSERT"}, update: []string{"volume", "trades"}},

	"period_events":      {table: []string{"SELECT", "INSERT"}},
	"period_snapshots":   {table: []string{"SELECT", "INSERT"}},
	"period_checkpoints": {table: []string{"SELECT", "INSERT"}},
	"period_balances":    {table: []string{"SELECT", "INSERT"}},

	"cache_versions": {table: []string{"SELECT"}, update: []string{"version"}},
}

var rollupFigures = []string{"commission", "commission_reporting", "fees", "fees_reporting", "volume_reporting", "trades", "accruals", "unpriced_commission", "unpriced_fees"}

// TestAppRoleGrants checks the app role's privileges on every table of the
// migrated schema against appGrants, in the catalogue and by running, as
// the role, a statement of each kind on each table (WHERE false, so that
// nothing changes: privileges are checked before any row is read): the
// ones appGrants allows succeed, every other UPDATE, DELETE, INSERT and
// TRUNCATE fails with 42501.
func TestAppRoleGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	rows, err := db.Admin.Query(ctx, `SELECT table_name::text, column_name::text FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE')
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	columns := map[string][]string{}
	var tables []string
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		if columns[table] == nil {
			tables = append(tables, table)
		}
		columns[table] = append(columns[table], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if _, ok := appGrants[table]; !ok {
			t.Errorf("table %s has no entry in appGrants: decide what the app role may do on it (grants.sql)", table)
		}
	}
	for table, g := range appGrants {
		if columns[table] == nil {
			t.Errorf("appGrants lists %s, which is not a table of the migrated schema", table)
		}
		for _, c := range g.update {
			if !slices.Contains(columns[table], c) {
				t.Errorf("appGrants lets the app role update %s.%s, which does not exist", table, c)
			}
		}
	}

	// The catalogue.
	for _, table := range tables {
		g := appGrants[table]
		for _, priv := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"} {
			var got bool
			if err := db.Admin.QueryRow(ctx, `SELECT has_table_privilege($1, $2, $3)`, schema.AppRole, table, priv).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := slices.Contains(g.table, priv); got != want {
				t.Errorf("has_table_privilege(%s, %s, %s) = %v, want %v", schema.AppRole, table, priv, got, want)
			}
		}
		for _, col := range columns[table] {
			var got bool
			if err := db.Admin.QueryRow(ctx, `SELECT has_column_privilege($1, $2, $3, 'UPDATE')`, schema.AppRole, table, col).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := slices.Contains(g.table, "UPDATE") || slices.Contains(g.update, col); got != want {
				t.Errorf("has_column_privilege(%s, %s.%s, UPDATE) = %v, want %v", schema.AppRole, table, col, got, want)
			}
		}
	}

	// The statements, as the role.
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open as %s: %v", schema.AppRole, err)
	}
	defer app.Close()
	run := func(sql string, allowed bool) {
		t.Helper()
		// Each in a rolled-back transaction: even a permitted statement
		// leaves nothing behind.
		err := app.Tx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
			return errRolledBack
		})
		var pg *pgconn.PgError
		switch {
		case allowed && !errors.Is(err, errRolledBack):
			t.Errorf("as %s: %s: %v, want allowed", schema.AppRole, sql, err)
		case !allowed && (!errors.As(err, &pg) || pg.Code != "42501"):
			t.Errorf("as %s: %s: %v, want insufficient_privilege (42501)", schema.AppRole, sql, err)
		}
	}
	for _, table := range tables {
		g := appGrants[table]
		id := pgx.Identifier{table}.Sanitize()
		run(`SELECT count(*) FROM `+id, true)
		run(`INSERT INTO `+id+` SELECT * FROM `+id+` WHERE false`, slices.Contains(g.table, "INSERT"))
		for _, col := range columns[table] {
			c := pgx.Identifier{col}.Sanitize()
			run(`UPDATE `+id+` SET `+c+` = `+c+` WHERE false`, slices.Contains(g.table, "UPDATE") || slices.Contains(g.update, col))
		}
		run(`DELETE FROM `+id+` WHERE false`, slices.Contains(g.table, "DELETE"))
		run(`TRUNCATE `+id, false)
	}
}

var errRolledBack = errors.New("rolled back")

// TestCockroachGrants applies the grants as Migrate does on CockroachDB
// (no column-level privileges there) to a PostgreSQL database: every table
// gets exactly the table-level privileges of appGrants, plus a table-level
// UPDATE where appGrants lists columns, and history tables still get no
// UPDATE, DELETE or TRUNCATE.
func TestCockroachGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	for _, stmt := range schema.GrantStatements(true) {
		if strings.Contains(stmt, "(") && strings.Contains(strings.ToUpper(stmt), "GRANT") {
			t.Errorf("CockroachDB grant keeps a column list: %s", stmt)
		}
		if _, err := db.Admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	for table, g := range appGrants {
		for _, priv := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"} {
			var got bool
			if err := db.Admin.QueryRow(ctx, `SELECT has_table_privilege($1, $2, $3)`, schema.AppRole, table, priv).Scan(&got); err != nil {
				t.Fatal(err)
			}
			want := slices.Contains(g.table, priv) || priv == "UPDATE" && len(g.update) > 0
			if got != want {
				t.Errorf("CockroachDB grants: has_table_privilege(%s, %s, %s) = %v, want %v", schema.AppRole, table, priv, got, want)
			}
		}
	}
}
