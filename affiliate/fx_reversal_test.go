package affiliate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
)

// tradeAtRate books trade id of 100 USDT by D (broker tree A → B → C → D)
// at a USDT/USD rate of 0.999.
func tradeAtRate(t *testing.T, id string) (*fixture, context.Context) {
	t.Helper()
	f := newFixture(t)
	brokerTree(t, f)
	c := context.Background()
	if err := f.svc.PutRate(c, "USDT", "USD", "feed", *apd.New(999, -3), f.now.Add(-time.Hour), "t"); err != nil {
		t.Fatal(err)
	}
	tr := trade(id, "D", "100")
	tr.ExecutedAt = f.now
	if _, err := f.svc.PostTrades(c, []affiliate.NewTrade{tr}); err != nil {
		t.Fatal(err)
	}
	return f, c
}

// A reversal's accrual rows reuse the original rows' FX rate, so reporting
// amounts net to zero even after the rate moved.
func TestReversalReusesOriginalFXRate(t *testing.T) {
	f, c := tradeAtRate(t, "fx-1")
	f.now = f.now.Add(time.Hour)
	if err := f.svc.PutRate(c, "USDT", "USD", "feed", *apd.New(15, -1), f.now.Add(-time.Minute), "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ReverseTrade(c, "fx-1", "t"); err != nil {
		t.Fatal(err)
	}
	var net, fees string
	var rows int
	if err := f.db.Admin.QueryRow(c, `SELECT sum(reporting_amount)::text, sum(fee_reporting)::text, count(*) FROM accruals_whole WHERE trade_id = 'fx-1'`).
		Scan(&net, &fees, &rows); err != nil {
		t.Fatal(err)
	}
	if rows != 6 || norm(net) != "0" || norm(fees) != "0" {
		t.Fatalf("accrual rows %d, reporting sum %s, fee sum %s; want 6 rows netting to 0", rows, net, fees)
	}
}

// A trade's accruals are stored compact (migration 042): the columns its
// trade row carries are NULL in the stored rows, and the view every reader
// reads (accruals_whole) gives them from the trade, exactly as a whole row
// stored them. A reversal's rows, written whole from the view, read the
// same through it.
func TestTradeAccrualsStoredCompact(t *testing.T) {
	f, c := tradeAtRate(t, "cp-1")
	var stored, compact int
	if err := f.db.Admin.QueryRow(c, `SELECT count(*), count(*) FILTER (WHERE trader_id IS NULL AND entry_id IS NULL AND program_id IS NULL
			AND kind IS NULL AND basis IS NULL AND currency IS NULL AND fx_rate IS NULL AND reporting_currency IS NULL AND market IS NULL
			AND code IS NULL AND trade_fee IS NULL AND fee_reporting IS NULL AND volume_reporting IS NULL AND country IS NULL)
		FROM accruals WHERE trade_id = 'cp-1'`).Scan(&stored, &compact); err != nil {
		t.Fatal(err)
	}
	if stored != 3 || compact != 3 {
		t.Fatalf("stored accrual rows of the trade: %d, compact %d; want 3 compact", stored, compact)
	}
	// Their ids are the commission entry's but for the last byte (the
	// index of the trade's accruals by trade id keeps only whole rows).
	var derived int
	if err := f.db.Admin.QueryRow(c, `SELECT count(*) FROM accruals a JOIN trades t ON t.id = a.trade_id
		WHERE a.trade_id = 'cp-1' AND left(a.id::text, 34) = left(t.commission_entry_id::text, 34)`).Scan(&derived); err != nil {
		t.Fatal(err)
	}
	if derived != 3 {
		t.Fatalf("%d of the trade's 3 accrual ids derived from its commission entry's", derived)
	}
	// Through the view: the trade's own figures, on every row.
	const whole = `SELECT DISTINCT trader_id, entry_id::text, program_id, kind, basis::text, currency, fx_rate::text, reporting_currency,
			market, code, trade_fee::text, fee_reporting::text, country
		FROM accruals_whole WHERE trade_id = 'cp-1' AND source = $1`
	type row struct{ trader, entry, program, kind, basis, cur, fx, repCur, market, code, fee, feeRep, country string }
	read := func(source string) []row {
		t.Helper()
		rows, err := f.db.Admin.Query(c, whole, source)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.trader, &r.entry, &r.program, &r.kind, &r.basis, &r.cur, &r.fx, &r.repCur, &r.market, &r.code, &r.fee, &r.feeRep, &r.country); err != nil {
				t.Fatal(err)
			}
			r.basis, r.fx, r.fee, r.feeRep = norm(r.basis), norm(r.fx), norm(r.fee), norm(r.feeRep)
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := read("trade")
	var entry, program, market, code string
	if err := f.db.Admin.QueryRow(c, `SELECT commission_entry_id::text, program_id, market, (SELECT coalesce(referral_code, '') FROM users WHERE id = 'D')
		FROM trades WHERE id = 'cp-1'`).Scan(&entry, &program, &market, &code); err != nil {
		t.Fatal(err)
	}
	want := row{trader: "D", entry: entry, program: program, kind: "levels", basis: "100", cur: "USDT", fx: "0.999", repCur: "USD",
		market: market, code: code, fee: "100", feeRep: "99.9", country: ""}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("the trade's accruals through the view = %+v, want every row %+v", got, want)
	}
	if _, err := f.svc.ReverseTrade(c, "fx-rev", "t"); err == nil {
		t.Fatal("reversing an unknown trade succeeded")
	}
	if _, err := f.svc.ReverseTrade(c, "cp-1", "t"); err != nil {
		t.Fatal(err)
	}
	var whole3 int
	if err := f.db.Admin.QueryRow(c, `SELECT count(*) FROM accruals WHERE trade_id = 'cp-1' AND source = 'reversal' AND trader_id = 'D'`).Scan(&whole3); err != nil {
		t.Fatal(err)
	}
	if whole3 != 3 {
		t.Fatalf("stored whole reversal rows: %d, want 3", whole3)
	}
	// The reversal's rows: the reversing entry, the fee figures negated.
	if err := f.db.Admin.QueryRow(c, `SELECT commission_reversal::text FROM trade_reversals WHERE trade_id = 'cp-1'`).Scan(&want.entry); err != nil {
		t.Fatal(err)
	}
	want.fee, want.feeRep = "-100", "-99.9"
	if rev := read("reversal"); len(rev) != 1 || rev[0] != want {
		t.Fatalf("the reversal's accruals through the view = %+v, want %+v", rev, want)
	}
	// Found by trade: the compact rows by their ids, the whole reversal
	// rows by the partial index.
	tr2, err := f.svc.GetTrade(c, "cp-1")
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]int{}
	for _, a := range tr2.Accruals {
		sources[a.Source]++
	}
	if len(tr2.Accruals) != 6 || sources["trade"] != 3 || sources["reversal"] != 3 {
		t.Fatalf("the trade's accruals by source = %v, want 3 trade and 3 reversal", sources)
	}
}

// TestTradeExplanationStoredCompact: the trade row's explanation leaves
// out program, kind and basis, which its columns hold, and the platform's
// remainder, which its accruals give; GetTrade gives the explanation as
// written, the remainder as the commission entry's credit of 605.
func TestTradeExplanationStoredCompact(t *testing.T) {
	f, c := tradeAtRate(t, "ex-1")
	var stored map[string]any
	var program, kind, basis string
	if err := f.db.Admin.QueryRow(c, `SELECT explanation, program_id, program_kind, basis::text FROM trades WHERE id = 'ex-1'`).Scan(&stored, &program, &kind, &basis); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"program", "kind", "basis"} {
		if _, ok := stored[k]; ok {
			t.Errorf("stored explanation %v repeats %s", stored, k)
		}
	}
	if _, ok := stored["platform"]; ok {
		t.Errorf("stored explanation %v repeats platform", stored)
	}
	info, err := f.svc.GetTrade(c, "ex-1")
	if err != nil {
		t.Fatal(err)
	}
	platform := ""
	for _, p := range f.entryPostings(t, info.CommissionEntryID) {
		if rest, ok := strings.CutPrefix(p, "credit 605:USDT "); ok {
			platform = rest
		}
	}
	if info.Explanation["program"] != program || info.Explanation["kind"] != kind || info.Explanation["basis"] != norm(basis) ||
		platform != "60" || info.Explanation["platform"] != platform || info.Explanation["program_version"] != stored["program_version"] {
		t.Errorf("GetTrade explanation %v; want program %s, kind %s, basis %s, platform %s (the 605 line) and the stored rest %v",
			info.Explanation, program, kind, norm(basis), platform, stored)
	}
}
