package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
)

// TestThousandTradesOneCall books 1,000 trades over a 5-level tree (31
// users, levels program paying 5 ancestors) in one POST /v1/trades, then
// checks every 208 balance and 605 against shares computed here (each
// rounded down to 6 places, the platform keeping the rest), 101 at zero,
// a replay of the whole batch as exists, and GET /v1/audit/verify ok.
func TestThousandTradesOneCall(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	levels := []string{"0.20", "0.10", "0.05", "0.03", "0.02"}
	e.putProgram("deep", map[string]any{"kind": "levels", "levels": levels, "default": true})

	// A binary tree of depth 5: u1 is the root, u(2k) and u(2k+1) are
	// the children of uk.
	parent := map[string]string{}
	edges := []string{"u1>"}
	for k := 2; k <= 31; k++ {
		p, c := fmt.Sprintf("u%d", k/2), fmt.Sprintf("u%d", k)
		parent[c] = p
		edges = append(edges, p+">"+c)
	}
	e.tree(edges...)

	down := apd.Context{Precision: 60, Rounding: apd.RoundDown, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent}
	want := map[string]*apd.Decimal{"605:USDT": new(apd.Decimal)}
	add := func(acct string, d *apd.Decimal) {
		if want[acct] == nil {
			want[acct] = new(apd.Decimal)
		}
		if _, err := ledger.Decimal.Add(want[acct], want[acct], d); err != nil {
			t.Fatal(err)
		}
	}
	trades := make([]map[string]any, 1000)
	for i := range trades {
		trader := fmt.Sprintf("u%d", 1+(i*7)%31)
		fee := fmt.Sprintf("%d.%06d", 1+i%9, (i*7919)%1000000)
		trades[i] = trade(fmt.Sprintf("bulk-%04d", i), trader, fee)
		f, _, _ := apd.NewFromString(fee)
		rest := new(apd.Decimal).Set(f)
		cur := trader
		for _, l := range levels {
			anc, ok := parent[cur]
			if !ok {
				break
			}
			r, _, _ := apd.NewFromString(l)
			var s apd.Decimal
			if _, err := ledger.Decimal.Mul(&s, r, f); err != nil {
				t.Fatal(err)
			}
			if _, err := down.Quantize(&s, &s, -6); err != nil {
				t.Fatal(err)
			}
			if !s.IsZero() {
				add("208:USDT:"+anc, &s)
				if _, err := ledger.Decimal.Sub(rest, rest, &s); err != nil {
					t.Fatal(err)
				}
			}
			cur = anc
		}
		add("605:USDT", rest)
		add("202:USDT:"+trader, new(apd.Decimal).Neg(f))
	}

	res := e.postTrades("", trades...)
	for i, r := range res {
		if r.Status != "created" || r.Index != i || r.ID != trades[i]["id"] {
			t.Fatalf("trade %d = %+v", i, r)
		}
	}
	for acct, w := range want {
		if got := e.balance(acct); got != ledger.Format(w) {
			t.Errorf("balance %s = %s, want %s", acct, got, ledger.Format(w))
		}
	}
	if got := e.balance("101:USDT"); got != "0" {
		t.Errorf("101:USDT = %s after the batch, want 0", got)
	}

	again := e.postTrades("", trades...)
	for i, r := range again {
		if r.Status != "exists" || r.FeeEntryID != res[i].FeeEntryID || r.CommissionEntryID != res[i].CommissionEntryID {
			t.Fatalf("replayed trade %d = %+v, want exists with %+v", i, r, res[i])
		}
	}

	var rep ledger.Report
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: e.key(keys.RoleAuditor, "")}).Decode(t, &rep)
	if !rep.OK || rep.EntriesChecked != 2000 {
		t.Fatalf("verify = %+v, want ok over 2000 entries", rep)
	}

	// One more than the limit is refused as a whole, writing nothing.
	before := e.snapshot() + e.affiliateSnapshot()
	over := append(trades, trade("bulk-extra", "u2", "1"))
	res1001 := e.must(http.StatusBadRequest, req{Method: "POST", Path: "/v1/trades", Key: bootstrapKey, Body: map[string]any{"trades": over}})
	if p := problemOf(t, res1001); p != "invalid_request" || !strings.Contains(string(res1001.Body), "1001") {
		t.Fatalf("1001 trades = %s", res1001.Body)
	}
	if after := e.snapshot() + e.affiliateSnapshot(); after != before {
		t.Fatal("the refused batch of 1001 wrote something")
	}
}
