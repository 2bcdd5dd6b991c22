package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// TestBalanceWritePlansIndexLookups checks the plan of a batch's balance
// UPDATE … FROM unnest on a balances table and a batch of bench size (300k
// rows; a 500-trade batch updates ~2,500 balance rows), on a connection of
// the server's pool: each element is looked up through the primary key.
// With PostgreSQL's default random_page_cost (4) the planner hashes the
// whole table after a sequential scan instead (seen on PostgreSQL 15 from
// ~3,000 elements on), which spills to temporary files as the table grows
// (schema.RandomPageCost); the test logs that plan too.
func TestBalanceWritePlansIndexLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	db.PostgresOnly(t, "a planner setting; CockroachDB costs look-ups itself")
	const rows, batch = 300_000, 3_000
	if _, err := db.Admin.Exec(ctx, `INSERT INTO balances (account, code, currency, holder, shard)
		SELECT '208:USDT:u-' || i, '208', 'USDT', 'u-' || i, i % 2 FROM generate_series(1, $1) AS i`, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Admin.Exec(ctx, `ANALYZE balances`); err != nil {
		t.Fatal(err)
	}
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)

	var upd balanceColumns
	for i := 0; i < batch; i++ {
		n := 1 + i*(rows/batch)
		upd.acct = append(upd.acct, fmt.Sprintf("208:USDT:u-%d", n))
		upd.shards = append(upd.shards, int64(n%2))
		for _, col := range []*[]string{&upd.d, &upd.c, &upd.pd, &upd.pc, &upd.b} {
			*col = append(*col, "1.5")
		}
		upd.seqs = append(upd.seqs, int64(i))
	}
	conn, err := app.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	plan := func() (string, map[string]int) {
		t.Helper()
		var raw string
		if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+sqlUpdateBalances, upd.acct, upd.shards, upd.d, upd.c, upd.pd, upd.pc, upd.b, upd.seqs, upd.rowSeqs).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		return raw, planNodes(t, raw)
	}

	var cost string
	if err := conn.QueryRow(ctx, `SHOW random_page_cost`).Scan(&cost); err != nil {
		t.Fatal(err)
	}
	if cost != schema.RandomPageCost {
		t.Fatalf("random_page_cost on the server's connection = %s, want %s", cost, schema.RandomPageCost)
	}
	raw, scans := plan()
	if scans["Seq Scan on balances"] > 0 || scans["Hash Join"] > 0 || scans["Index Scan on balances"] == 0 {
		t.Errorf("balance write: want an index scan of balances and no hash join, got %v:\n%s", scans, raw)
	}

	// The group-commit writer runs the generic plans of the balances' read
	// and update (schema.GroupWriterTx, schema.Sized): on a table this
	// size they look each key up too, whatever the batch's length.
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ sql, args string }{
		"read":   {sqlReadBalances, `ARRAY['208:USDT:u-1'], ARRAY[1::bigint]`},
		"update": {sqlUpdateBalances, `ARRAY['208:USDT:u-1'], ARRAY[1::bigint], ARRAY['1'], ARRAY['1'], ARRAY['1'], ARRAY['1'], ARRAY['1'], ARRAY[1::bigint], ARRAY[1::bigint]`},
	} {
		if _, err := conn.Exec(ctx, `PREPARE generic_`+name+` AS `+c.sql); err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON, VERBOSE) EXECUTE generic_`+name+`(`+c.args+`)`).Scan(&raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(raw, "$1") {
			t.Fatalf("%s: not the generic plan (no parameter in it):\n%s", name, raw)
		}
		scans := planNodes(t, raw)
		if scans["Seq Scan on balances"] > 0 || scans["Hash Join"] > 0 || scans["Index Scan on balances"] == 0 {
			t.Errorf("generic plan of the balances' %s: want an index scan of balances and no hash join, got %v:\n%s", name, scans, raw)
		}
	}
	if _, err := conn.Exec(ctx, `DEALLOCATE generic_read; DEALLOCATE generic_update; RESET plan_cache_mode`); err != nil {
		t.Fatal(err)
	}

	if _, err := conn.Exec(ctx, `SET random_page_cost = 4`); err != nil {
		t.Fatal(err)
	}
	_, scans = plan()
	t.Logf("with random_page_cost 4: %v", scans)
	if _, err := conn.Exec(ctx, `SET random_page_cost = `+schema.RandomPageCost); err != nil {
		t.Fatal(err)
	}
}

// planNodes counts the nodes of the plan EXPLAIN (FORMAT JSON) printed as
// raw, by type (and relation).
func planNodes(t *testing.T, raw string) map[string]int {
	t.Helper()
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || len(doc) != 1 {
		t.Fatalf("plan %s: %v", raw, err)
	}
	nodes := map[string]int{}
	doc[0].Plan.count(nodes)
	return nodes
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

// count adds each node of the tree under n to c, by type (and relation).
func (n *planNode) count(c map[string]int) {
	k := n.NodeType
	if n.Relation != "" {
		k += " on " + n.Relation
	}
	c[k]++
	for i := range n.Plans {
		n.Plans[i].count(c)
	}
}

// TestKeyLookupsUseTheKeyIndex checks that the look-ups by idempotency key
// repeat the partial key index's predicate (migration 039): with sequential
// scans priced out, each is planned on entries_idempotency_key_indexed,
// which the planner may only use when the query implies the predicate.
func TestKeyLookupsUseTheKeyIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	db.PostgresOnly(t, "EXPLAIN's JSON format")
	conn, err := db.Admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for name, sql := range map[string]string{
		"ApplyTx":       `SELECT ` + entryColumns + ` FROM entries WHERE ` + condByKey + ` ORDER BY seq, shard`, // loadEntriesBy
		"EntryIDsByKey": sqlEntryIDsByKey,
	} {
		var raw string
		if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+sql, []string{"k1", "k2"}).Scan(&raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(raw, `"Index Name": "entries_idempotency_key_indexed"`) {
			t.Errorf("%s: the look-up does not use the key index:\n%s", name, raw)
		}
	}
}

// TestEntryLinesPlanIndexLookups checks the plan of the read of listed
// entries' lines (sqlEntryLines) on a journal of 100k entries, half of
// their lines inline, half postings rows: each position is looked up
// through entries_position and postings_pkey, and neither table is
// scanned whole (joined to the lines view, it was).
func TestEntryLinesPlanIndexLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	db.PostgresOnly(t, "EXPLAIN's JSON format")
	const n = 100_000
	for _, sql := range []string{
		`INSERT INTO entries (id, seq, shard, kind, phase, effective_at, recorded_at, idempotency_key, content_hash, prev_hash, hash,
				l1_idx, l1_account, l1_side, l1_amount, l1_balance_after, l1_debits_after, l1_credits_after)
			SELECT gen_random_uuid(), i / 2 + 1, i % 2, 'manual', 'posted', now(), now(), 'k' || i, '\x00', '\x00', '\x00',
				CASE WHEN i % 2 = 0 THEN 0 END, '101:USD', 'credit', 1, 0, 0, 1
			FROM generate_series(0, $1 - 1) AS i`,
		`INSERT INTO postings (entry_id, idx, seq, shard, account, currency, side, amount, pending, balance_after, debits_after, credits_after, effective_at, recorded_at)
			SELECT e.id, x.idx, e.seq, e.shard, '201:USD:u' || e.seq, 'USD', 'debit', 1, false, 1, 1, 0, e.effective_at, e.recorded_at
			FROM entries e CROSS JOIN (VALUES (1), (2)) AS x (idx)`,
		`ANALYZE entries`, `ANALYZE postings`,
	} {
		args := []any{}
		if strings.Contains(sql, "$1") {
			args = append(args, n)
		}
		if _, err := db.Admin.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	app, err := schema.Open(ctx, db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	var seqs, shards []int64
	for i := int64(0); i < 100; i++ {
		seqs, shards = append(seqs, 20_000+i/2), append(shards, i%2)
	}
	var raw string
	if err := app.Pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+sqlEntryLines, seqs, shards).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Index Name": "entries_position"`, `"Index Name": "postings_pkey"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("the plan has no %s:\n%s", want, raw)
		}
	}
	if strings.Contains(raw, `"Seq Scan"`) {
		t.Errorf("the plan scans a table whole:\n%s", raw)
	}
}
