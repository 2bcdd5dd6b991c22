package affiliate_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Trade idempotency (docs/CONTRACT.md §1.3 rule 2): a replay answers "exists" with the
// original entry ids and writes nothing; other content under the same id
// is rejected with idempotency_conflict; a bad trade is rejected alone.
func TestTradeIdempotency(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	first := f.post(t, affiliate.TradeCreated, trade("t-1", "D", "100"), trade("t-2", "C", "50"))
	entries := f.count(t, `SELECT count(*) FROM entries`)

	otherMarket := trade("t-1", "D", "100")
	otherMarket.Market = "ETHUSDT"
	tests := []struct {
		trade  affiliate.NewTrade
		status string
		code   string
		sameAs int // index into first whose entry ids the result carries (-1: none)
	}{
		{trade("t-1", "D", "100"), affiliate.TradeExists, "", 0},                     // replay
		{trade("t-2", "C", "51"), affiliate.TradeRejected, folio.EIDEMPOTENCY, -1},   // other fee
		{trade("t-3", "D", "10"), affiliate.TradeCreated, "", -1},                    // new
		{trade("t-3", "D", "10"), affiliate.TradeExists, "", -1},                     // duplicate within the batch
		{trade("t-4", "D", "10"), affiliate.TradeCreated, "", -1},                    // new
		{trade("t-4", "D", "11"), affiliate.TradeRejected, folio.EIDEMPOTENCY, -1},   // duplicate, other content
		{trade("t-5", "ghost", "1"), affiliate.TradeRejected, folio.ENOTFOUND, -1},   // unknown user: rejected alone
		{trade("t-6", "B", "20"), affiliate.TradeCreated, "", -1},                    // new
		{trade("", "B", "20"), affiliate.TradeRejected, folio.EINVALID, -1},          // invalid id
		{trade("t-7", "B", "0"), affiliate.TradeRejected, folio.EAMOUNT, -1},         // zero fee
		{trade("t-8", "B", "0.0000001"), affiliate.TradeRejected, folio.EAMOUNT, -1}, // beyond USDT's precision
		{otherMarket, affiliate.TradeRejected, folio.EIDEMPOTENCY, -1},               // t-1 again in the batch, other market
	}
	var batch []affiliate.NewTrade
	for _, tt := range tests {
		batch = append(batch, tt.trade)
	}
	res, err := f.svc.PostTrades(ctx, batch)
	must(t, "PostTrades", err)
	for i, w := range tests {
		r := res[i]
		if r.ID != batch[i].ID || r.Status != w.status || errCode(r.Err) != w.code {
			t.Errorf("result %d (%s) = %s %q (%v), want %s %q", i, batch[i].ID, r.Status, errCode(r.Err), r.Err, w.status, w.code)
		}
		if w.sameAs >= 0 && (r.FeeEntryID != first[w.sameAs].FeeEntryID || r.CommissionEntryID != first[w.sameAs].CommissionEntryID) {
			t.Errorf("result %d: entries %s/%s, want the original %s/%s", i, r.FeeEntryID, r.CommissionEntryID, first[w.sameAs].FeeEntryID, first[w.sameAs].CommissionEntryID)
		}
		if w.status == affiliate.TradeCreated && (r.FeeEntryID == "" || r.CommissionEntryID == "") {
			t.Errorf("result %d: created without entry ids", i)
		}
	}
	if res[3].FeeEntryID != res[2].FeeEntryID || res[3].CommissionEntryID != res[2].CommissionEntryID {
		t.Errorf("in-batch duplicate entries %s/%s, want the first occurrence's %s/%s", res[3].FeeEntryID, res[3].CommissionEntryID, res[2].FeeEntryID, res[2].CommissionEntryID)
	}
	// Three new trades, two entries each.
	if got := f.count(t, `SELECT count(*) FROM entries`); got != entries+6 {
		t.Errorf("entries = %d, want %d", got, entries+6)
	}
	if got := f.count(t, `SELECT count(*) FROM trades`); got != 5 {
		t.Errorf("trades = %d, want 5", got)
	}
	// t-4 was booked with its first content.
	info, err := f.svc.GetTrade(ctx, "t-4")
	must(t, "GetTrade t-4", err)
	if got := ledger.Format(&info.Fee); got != "10" {
		t.Errorf("fee of t-4 = %s, want 10", got)
	}
	f.wantBalances(t, map[string]string{"202:USDT:D": "-120", "202:USDT:C": "-50", "202:USDT:B": "-20", "101:USDT": "0"})
	f.verify(t)
}

// Volume-only trades are priced by the fee schedule: (group, market), then
// (group, any market), then (any group, market), then the default row;
// maker or taker rate; rounded down to the currency's precision.
func TestFeeSchedule(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	f.userIn(t, "V", "CCCCCC", "vip")

	// Without a schedule a volume-only trade cannot be priced.
	res, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{volumeTrade("early", "D", "BTCUSDT", "taker", "10000")})
	must(t, "PostTrades", err)
	wantCode(t, "volume-only trade without a schedule", res[0].Err, folio.EINVALID)

	for _, r := range []affiliate.FeeRate{
		{Group: "", Market: "", Maker: d("0.001"), Taker: d("0.002")},
		{Group: "", Market: "ETHUSDT", Maker: d("0.0005"), Taker: d("0.0015")},
		{Group: "vip", Market: "", Maker: d("0.0002"), Taker: d("0.0008")},
		{Group: "vip", Market: "BTCUSDT", Maker: d("0.0001"), Taker: d("0.0004")},
	} {
		must(t, "PutFeeRate", f.svc.PutFeeRate(ctx, r, "ops"))
	}
	wantCode(t, "PutFeeRate above 1", f.svc.PutFeeRate(ctx, affiliate.FeeRate{Maker: d("1.5"), Taker: d("0")}, "ops"), folio.EINVALID)

	tests := []struct {
		id, user, market, liquidity, volume, fee string
	}{
		{"d-btc-taker", "D", "BTCUSDT", "taker", "10000", "20"},      // default row
		{"d-btc-maker", "D", "BTCUSDT", "maker", "10000", "10"},      // default row, maker
		{"d-eth-taker", "D", "ETHUSDT", "taker", "10000", "15"},      // market row
		{"d-eth-maker", "D", "ETHUSDT", "maker", "10000", "5"},       // market row, maker
		{"v-btc-taker", "V", "BTCUSDT", "taker", "10000", "4"},       // exact row
		{"v-btc-maker", "V", "BTCUSDT", "maker", "10000", "1"},       // exact row, maker
		{"v-eth-taker", "V", "ETHUSDT", "taker", "10000", "8"},       // group row beats market row
		{"v-eth-maker", "V", "ETHUSDT", "maker", "10000", "2"},       // group row, maker
		{"d-round", "D", "BTCUSDT", "taker", "0.333333", "0.000666"}, // 0.000666666 rounded down
	}
	var trades []affiliate.NewTrade
	for _, tt := range tests {
		trades = append(trades, volumeTrade(tt.id, tt.user, tt.market, tt.liquidity, tt.volume))
	}
	withFee := volumeTrade("with-fee", "D", "BTCUSDT", "taker", "10000")
	withFee.Fee = &affiliate.Money{Amount: "7", Currency: "USDT"}
	trades = append(trades, withFee)
	f.post(t, affiliate.TradeCreated, trades...)
	for _, tt := range append(tests, struct{ id, user, market, liquidity, volume, fee string }{"with-fee", "D", "", "", "", "7"}) {
		info, err := f.svc.GetTrade(ctx, tt.id)
		must(t, "GetTrade", err)
		if got := ledger.Format(&info.Fee); got != tt.fee || info.FeeComputed != (tt.id != "with-fee") {
			t.Errorf("%s: fee %s (computed %v), want %s (computed %v)", tt.id, got, info.FeeComputed, tt.fee, tt.id != "with-fee")
		}
	}
	// 20+10+15+5+0.000666+7 from D; 4+1+8+2 from V.
	f.wantBalances(t, map[string]string{"202:USDT:D": "-57.000666", "202:USDT:V": "-15", "101:USDT": "0"})
	if got := f.tradeShares(t, "v-eth-taker")["C"]; got != "2" {
		t.Errorf("C's share of V's computed fee 8 = %s, want 2", got)
	}
	// A schedule change applies to later trades; a replay of a priced
	// trade is still a replay.
	must(t, "PutFeeRate", f.svc.PutFeeRate(ctx, affiliate.FeeRate{Maker: d("0.003"), Taker: d("0.004")}, "ops"))
	f.post(t, affiliate.TradeExists, volumeTrade("d-btc-taker", "D", "BTCUSDT", "taker", "10000"))
	f.post(t, affiliate.TradeCreated, volumeTrade("d-btc-taker-2", "D", "BTCUSDT", "taker", "10000"))
	f.wantBalances(t, map[string]string{"202:USDT:D": "-97.000666"})
	// A volume so small that the fee rounds to zero books nothing.
	res, err = f.svc.PostTrades(ctx, []affiliate.NewTrade{volumeTrade("dust", "D", "BTCUSDT", "taker", "0.000001")})
	must(t, "PostTrades", err)
	wantCode(t, "fee rounding to zero", res[0].Err, folio.EAMOUNT)
	f.verify(t)
}

// base_fee_rate × volume is taken off the fee before the split (never
// below zero, only when volume and fee share a currency).
func TestBaseFeeRate(t *testing.T) {
	f := newFixture(t)
	f.putProgram(t, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25", "0.10", "0.05"}, BaseFeeRate: "0.0001", Default: true})
	f.user(t, "A", "")
	f.code(t, "A", "AAAAAA")
	f.user(t, "B", "AAAAAA")
	f.code(t, "B", "BBBBBB")
	f.user(t, "C", "BBBBBB")
	f.code(t, "C", "CCCCCC")
	f.user(t, "D", "CCCCCC")
	withVolume := func(id, fee, volume, volCur string) affiliate.NewTrade {
		tr := trade(id, "D", fee)
		tr.Volume = &affiliate.Money{Amount: volume, Currency: volCur}
		return tr
	}
	f.post(t, affiliate.TradeCreated,
		withVolume("basis-8", "10", "20000", "USDT"), // base fee 2: basis 8
		withVolume("basis-0", "1", "20000", "USDT"),  // base fee 2 > fee 1: basis 0
		withVolume("other-cur", "10", "1", "BTC"),    // not comparable: basis = fee
		trade("no-volume", "D", "10"))                // no volume: basis = fee
	tests := []struct {
		id, basis string
		shares    map[string]string
	}{
		{"basis-8", "8", map[string]string{"C": "2", "B": "0.8", "A": "0.4"}},
		{"basis-0", "0", map[string]string{}},
		{"other-cur", "10", map[string]string{"C": "2.5", "B": "1", "A": "0.5"}},
		{"no-volume", "10", map[string]string{"C": "2.5", "B": "1", "A": "0.5"}},
	}
	for _, tt := range tests {
		info, err := f.svc.GetTrade(ctx, tt.id)
		must(t, "GetTrade", err)
		if got := ledger.Format(&info.Basis); got != tt.basis {
			t.Errorf("%s: basis %s, want %s", tt.id, got, tt.basis)
		}
		if got := f.tradeShares(t, tt.id); !sameMap(got, tt.shares) {
			t.Errorf("%s: shares %v, want %v", tt.id, got, tt.shares)
		}
	}
	info, err := f.svc.GetTrade(ctx, "basis-8")
	must(t, "GetTrade", err)
	if got := info.Explanation["base_fee"]; got != "2" {
		t.Errorf("explained base fee = %v, want 2", got)
	}
	// The platform keeps the fee minus the shares: 6.8 + 1 + 6 + 6.
	f.wantBalances(t, map[string]string{"605:USDT": "19.8", "101:USDT": "0", "202:USDT:D": "-31"})
}

// tree5 builds a 5-level binary tree of 31 users under root "n": the
// first child of a differential node is differential (its code carries the
// parent's rate − 0.05), every other node is on the default levels program.
// It returns the users, root first.
func tree5(t *testing.T, f *fixture) []string {
	t.Helper()
	f.putProgram(t, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.20", "0.10", "0.05", "0.03", "0.02"}, Default: true})
	f.putProgram(t, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.05", Groups: []string{"diff"}})
	codeOf := func(id string) string { // n, n0, n01 … → KZZZZZ, KAZZZZ, KABZZZ …
		c := "K" + strings.NewReplacer("n", "", "0", "A", "1", "B").Replace(id)
		return c + strings.Repeat("Z", 6-len(c))
	}
	f.userIn(t, "n", "", "diff")
	f.setRate(t, "n", "0.50")
	users := []string{"n"}
	rates := map[string]apd.Decimal{"n": d("0.50")}
	for i := 0; i < len(users); i++ {
		parent := users[i]
		if len(parent) == 5 { // n + 4 digits: depth 5
			continue
		}
		pr, diff := rates[parent]
		f.code(t, parent, codeOf(parent))
		if diff {
			var r apd.Decimal
			_, _ = apd.BaseContext.Sub(&r, &pr, apd.New(5, -2))
			f.rateCode(t, parent, codeOf(parent)+"2", ledger.Format(&r))
			f.userIn(t, parent+"0", codeOf(parent)+"2", "diff")
			rates[parent+"0"] = r
		} else {
			f.user(t, parent+"0", codeOf(parent))
		}
		f.user(t, parent+"1", codeOf(parent))
		users = append(users, parent+"0", parent+"1")
	}
	return users
}

// A batch of 1,000 trades over a mixed 5-level tree posts in one call; the
// books verify, 101 is empty, and the accruals match the 208 credits of
// the commission entries, per currency and per beneficiary.
func TestThousandTradesMixedTree(t *testing.T) {
	f := newFixture(t)
	users := tree5(t, f)
	if len(users) != 31 {
		t.Fatalf("tree has %d users, want 31", len(users))
	}
	var trades []affiliate.NewTrade
	fees := map[string]*apd.Decimal{"USDT": new(apd.Decimal), "BTC": new(apd.Decimal)}
	for i := 0; i < 998; i++ {
		var tr affiliate.NewTrade
		if i%5 == 4 {
			tr = feeTrade(fmt.Sprintf("m-%d", i), users[i%31], fmt.Sprintf("0.%08d", (i*104729)%99999999+1), "BTC")
		} else {
			tr = trade(fmt.Sprintf("m-%d", i), users[i%31], fmt.Sprintf("%d.%06d", i%7+1, (i*7919)%1000000))
		}
		trades = append(trades, tr)
	}
	// Two trades whose split is known: a differential leaf (rates
	// 0.35/0.40/0.45/0.50 above it) and a levels leaf.
	trades = append(trades, trade("spot-diff", "n0000", "100"), trade("spot-levels", "n1111", "100"))
	for _, tr := range trades {
		fee := d(tr.Fee.Amount)
		_, _ = apd.BaseContext.WithPrecision(40).Add(fees[tr.Fee.Currency], fees[tr.Fee.Currency], &fee)
	}
	if len(trades) != affiliate.MaxTradesPerBatch {
		t.Fatalf("batch of %d trades, want %d", len(trades), affiliate.MaxTradesPerBatch)
	}
	_, err := f.svc.PostTrades(ctx, append(trades, trade("one-too-many", "n", "1")))
	wantCode(t, "a batch over the limit", err, folio.EINVALID)
	if n := f.count(t, `SELECT count(*) FROM trades`); n != 0 {
		t.Fatalf("trades after a refused batch = %d, want 0", n)
	}
	f.post(t, affiliate.TradeCreated, trades...)
	f.verify(t)

	if got, want := f.tradeShares(t, "spot-diff"), map[string]string{"n000": "35", "n00": "5", "n0": "5", "n": "5"}; !sameMap(got, want) {
		t.Errorf("spot-diff shares = %v, want %v", got, want)
	}
	if got, want := f.tradeShares(t, "spot-levels"), map[string]string{"n111": "20", "n11": "10", "n1": "5", "n": "3"}; !sameMap(got, want) {
		t.Errorf("spot-levels shares = %v, want %v", got, want)
	}
	for _, q := range []struct{ what, sql string }{
		{"trades", `SELECT count(*) FROM trades`},
		{"trade_fee entries", `SELECT count(*) FROM entries WHERE kind = 'trade_fee'`},
		{"commission entries", `SELECT count(*) FROM entries WHERE kind = 'commission'`},
	} {
		if got := f.count(t, q.sql); got != 1000 {
			t.Errorf("%s = %d, want 1000", q.what, got)
		}
	}
	for cur, total := range fees {
		var accrued, credited, fee202 string
		err := f.db.Admin.QueryRow(ctx, `SELECT
				(SELECT coalesce(sum(amount), 0)::text FROM accruals_whole WHERE currency = $1),
				(SELECT coalesce(sum(p.amount), 0)::text FROM postings p JOIN entries e ON e.id = p.entry_id
					WHERE e.kind = 'commission' AND p.side = 'credit' AND p.account LIKE '208:%' AND p.currency = $1),
				(SELECT coalesce(sum(p.amount), 0)::text FROM postings p WHERE p.side = 'debit' AND p.account LIKE '202:%' AND p.currency = $1)`,
			cur).Scan(&accrued, &credited, &fee202)
		must(t, "sums", err)
		a, c, fd := d(accrued), d(credited), d(fee202)
		if a.Cmp(&c) != 0 || a.Sign() <= 0 {
			t.Errorf("%s: Σ accruals %s, Σ 208 commission credits %s; want equal and positive", cur, accrued, credited)
		}
		if fd.Cmp(total) != 0 {
			t.Errorf("%s: Σ 202 debits %s, want Σ fees %s", cur, fee202, ledger.Format(total))
		}
		// Fees = commissions + platform revenue, exactly.
		plat := d(f.balance(t, "605:"+cur))
		var sum apd.Decimal
		_, _ = apd.BaseContext.WithPrecision(40).Add(&sum, &plat, &a)
		if sum.Cmp(total) != 0 {
			t.Errorf("%s: 605 %s + commissions %s = %s, want the fees %s", cur, ledger.Format(&plat), accrued, ledger.Format(&sum), ledger.Format(total))
		}
		if got := f.balance(t, "101:"+cur); got != "0" {
			t.Errorf("101:%s = %s, want 0", cur, got)
		}
	}
	// Per beneficiary: 208 balance = Σ its accruals.
	rows, err := f.db.Admin.Query(ctx, `SELECT beneficiary, currency, sum(amount)::text FROM accruals_whole GROUP BY beneficiary, currency`)
	must(t, "accruals by beneficiary", err)
	sums := map[string]string{}
	for rows.Next() {
		var b, c, s string
		must(t, "scan", rows.Scan(&b, &c, &s))
		v := d(s)
		sums["208:"+c+":"+b] = ledger.Format(&v)
	}
	rows.Close()
	if len(sums) < 20 {
		t.Errorf("only %d beneficiary accounts accrued, want most of the tree", len(sums))
	}
	f.wantBalances(t, sums)
}

// Four goroutines post overlapping batches (the same trade ids in several
// of them): each trade is booked exactly once, every other answer is
// "exists" with the booked entries, and the books verify.
func TestConcurrentOverlappingBatches(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	const workers = 4
	batches := make([][][]affiliate.NewTrade, workers)
	distinct := map[string]bool{}
	for g := 0; g < workers; g++ {
		// Worker g posts ids 20g … 20g+39 in two batches (odd workers in
		// reverse order) plus ten ids shared by everyone.
		var ids []int
		for i := 20 * g; i < 20*g+40; i++ {
			ids = append(ids, i)
		}
		if g%2 == 1 {
			for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
		for b := 0; b < 2; b++ {
			var batch []affiliate.NewTrade
			for _, i := range ids[20*b : 20*b+20] {
				id := fmt.Sprintf("c-%d", i)
				distinct[id] = true
				batch = append(batch, trade(id, "D", "10"))
			}
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("shared-%d", i)
				distinct[id] = true
				batch = append(batch, trade(id, "D", "10"))
			}
			batches[g] = append(batches[g], batch)
		}
	}
	var (
		mu      sync.Mutex
		results []affiliate.TradeResult
		errs    []error
		wg      sync.WaitGroup
	)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for _, batch := range batches[g] {
				res, err := f.svc.PostTrades(ctx, batch)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("worker %d: %w", g, err))
				}
				results = append(results, res...)
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	created := map[string]int{}
	entry := map[string]string{}
	for _, r := range results {
		switch r.Status {
		case affiliate.TradeCreated:
			created[r.ID]++
		case affiliate.TradeExists:
		default:
			t.Errorf("trade %s: %s %v, want created or exists", r.ID, r.Status, r.Err)
			continue
		}
		if e, ok := entry[r.ID]; ok && e != r.FeeEntryID {
			t.Errorf("trade %s answered with fee entries %s and %s", r.ID, e, r.FeeEntryID)
		}
		entry[r.ID] = r.FeeEntryID
	}
	for id := range distinct {
		if created[id] != 1 {
			t.Errorf("trade %s created %d times, want 1", id, created[id])
		}
	}
	n := int64(len(distinct))
	for _, q := range []struct {
		what string
		sql  string
		want int64
	}{
		{"trades", `SELECT count(*) FROM trades`, n},
		{"trade_fee entries", `SELECT count(*) FROM entries WHERE kind = 'trade_fee'`, n},
		{"commission entries", `SELECT count(*) FROM entries WHERE kind = 'commission'`, n},
		{"accruals", `SELECT count(*) FROM accruals_whole`, 3 * n},
	} {
		if got := f.count(t, q.sql); got != q.want {
			t.Errorf("%s = %d, want %d", q.what, got, q.want)
		}
	}
	if n != 110 {
		t.Fatalf("%d distinct trades, want 110", n)
	}
	f.wantBalances(t, map[string]string{"202:USDT:D": "-1100", "101:USDT": "0", "208:USDT:C": "275", "208:USDT:B": "110", "208:USDT:A": "55", "605:USDT": "660"})
	f.verify(t)
}

// A trade the ledger refuses (here: 202 made non_negative and the trader's
// balance too low) is rejected alone; the rest of the batch is booked.
func TestLedgerRejectsOneTradeOfABatch(t *testing.T) {
	f := newFixture(t)
	brokerTree(t, f)
	must(t, "PutCode 202", f.svc.DB.Tx(ctx, func(tx pgx.Tx) error {
		_, err := accounts.PutCode(ctx, tx, accounts.Code{Code: "202", Name: "Advanced trading liabilities, active", Type: accounts.Liability,
			Normal: accounts.Credit, PerHolder: true, Rule: accounts.RuleNonNegative}, "ops", f.now, ledger.InUse)
		return err
	}))
	_, err := f.ledger.Post(ctx, []ledger.NewEntry{{IdempotencyKey: "fund", Postings: []ledger.NewPosting{
		{Account: "120:USDT", Side: accounts.Debit, Amount: "160"},
		{Account: "202:USDT:D", Side: accounts.Credit, Amount: "150"},
		{Account: "202:USDT:C", Side: accounts.Credit, Amount: "10"},
	}}}, ledger.Options{Atomic: true})
	must(t, "fund 202", err)
	entries := f.count(t, `SELECT count(*) FROM entries`)

	res, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("d-1", "D", "100"), trade("d-2", "D", "100"), trade("c-1", "C", "10"), trade("b-1", "B", "5")})
	must(t, "PostTrades", err)
	want := []struct{ status, code string }{
		{affiliate.TradeCreated, ""},
		{affiliate.TradeRejected, folio.EINSUFFICIENT},
		{affiliate.TradeCreated, ""},
		{affiliate.TradeRejected, folio.EINSUFFICIENT},
	}
	for i, w := range want {
		if res[i].Status != w.status || errCode(res[i].Err) != w.code {
			t.Errorf("trade %s = %s %v, want %s %q", res[i].ID, res[i].Status, res[i].Err, w.status, w.code)
		}
	}
	if got := f.count(t, `SELECT count(*) FROM entries`); got != entries+4 {
		t.Errorf("entries = %d, want %d", got, entries+4)
	}
	if got := f.count(t, `SELECT count(*) FROM trades`); got != 2 {
		t.Errorf("trades = %d, want 2", got)
	}
	f.wantBalances(t, map[string]string{"202:USDT:D": "50", "202:USDT:C": "0", "202:USDT:B": "0",
		"208:USDT:C": "25", "208:USDT:B": "12.5", "208:USDT:A": "6", "605:USDT": "66.5", "101:USDT": "0"})
	// A rejected trade is not taken: once funded it books.
	_, err = f.ledger.Post(ctx, []ledger.NewEntry{{IdempotencyKey: "fund-2", Postings: []ledger.NewPosting{
		{Account: "120:USDT", Side: accounts.Debit, Amount: "50"},
		{Account: "202:USDT:D", Side: accounts.Credit, Amount: "50"},
	}}}, ledger.Options{Atomic: true})
	must(t, "fund 202 again", err)
	f.post(t, affiliate.TradeCreated, trade("d-2", "D", "100"))
	f.verify(t)
}
