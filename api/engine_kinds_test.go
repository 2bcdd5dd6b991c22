package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
)

// Issue 12, items 1 and 2: the entries the affiliate engine writes (trade
// fees, commissions, bounties, payouts, forfeits) are the engine's. Clients
// can neither write entries of those kinds (a manual payout without a batch
// broke the reconciliation for good; a manual trade_fee left a permanent
// discrepancy) nor reverse, post or void the engine's entries through the
// journal's routes (a reversed fee entry left 101 at −fee and the trade
// unreversible): each refusal names the route that does it.

// TestEngineKindsRefusedFromClients: POST /v1/entries and
// /v1/entries/batch (atomic or not) refuse every kind the affiliate engine
// writes with a 400 naming the kind, and write nothing.
//
// Through each way the server can be wired: its own affiliate service; group
// commit (entries reach the ledger through the Ingester); an affiliate
// service built on another ledger instance than the server's.
func TestEngineKindsRefusedFromClients(t *testing.T) {
	for _, wiring := range []string{"default", "group commit", "service on another ledger"} {
		t.Run(wiring, func(t *testing.T) {
			e := newEnv(t)
			e.currencies()
			switch wiring {
			case "group commit":
				ing := e.withIngester(ingest.Options{MaxWait: time.Millisecond})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go ing.Run(ctx)
			case "service on another ledger":
				other := ledger.New(e.app)
				l := ledger.New(e.app)
				l.Now = e.clock.Now
				e.srv = New(Config{DB: e.app, Ledger: l, AdminKey: bootstrapKey, Affiliate: affiliate.NewService(e.app, other),
					Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Registry: prometheus.NewRegistry(), Now: e.clock.Now})
			}
			refuseEngineKinds(t, e)
		})
	}
}

func refuseEngineKinds(t *testing.T, e *env) {
	kinds := affiliate.EntryKinds()
	for _, want := range []string{"trade_fee", "commission", "bounty", "payout", "forfeit"} {
		if !containsString(kinds, want) {
			t.Fatalf("affiliate.EntryKinds() = %v, want it to hold %s", kinds, want)
		}
	}
	for _, kind := range kinds {
		body := entryBody("manual-"+kind, posting("208:USDT:C", "debit", "5"), posting("201:USDT:C", "credit", "5"))
		body["kind"] = kind
		t.Run(kind+"/single", func(t *testing.T) {
			res := e.do(req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Body: body})
			wantKindProblem(t, res, http.StatusBadRequest, kind)
		})
		for _, atomic := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/batch-atomic=%t", kind, atomic), func(t *testing.T) {
				ok := entryBody(fmt.Sprintf("fine-%s-%t", kind, atomic), posting("110:USDT", "debit", "1"), posting("606:USDT", "credit", "1"))
				batch := map[string]any{"atomic": atomic, "entries": []any{body, ok}}
				res := e.do(req{Method: "POST", Path: "/v1/entries/batch", Key: bootstrapKey, Body: batch})
				if atomic {
					wantKindProblem(t, res, http.StatusBadRequest, kind)
					return
				}
				var out struct {
					Results []itemResult `json:"results"`
				}
				if res.Status != http.StatusOK {
					t.Fatalf("batch = %d %s, want 200", res.Status, res.Body)
				}
				res.Decode(t, &out)
				if len(out.Results) != 2 || out.Results[0].Status != itemRejected || out.Results[0].Error == nil ||
					out.Results[0].Error.Code != folio.EINVALID || !strings.Contains(out.Results[0].Error.Detail, `"`+kind+`"`) {
					t.Fatalf("batch item of kind %s = %s, want rejected invalid_request naming the kind", kind, res.Body)
				}
				if out.Results[1].Status != itemCreated {
					t.Fatalf("the manual item of the batch = %+v, want created", out.Results[1])
				}
				// Undo the accepted manual item so the snapshot compares.
				e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries/" + out.Results[1].Entry.ID + "/reverse", Key: bootstrapKey})
			})
		}
	}
	var n int
	if err := e.db.Admin.QueryRow(context.Background(), `SELECT count(*) FROM entries WHERE kind = ANY($1)`, kinds).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d entries of engine kinds were written; want none", n)
	}
}

// TestEngineEntriesMoveOnlyThroughTheirOwner: the journal's reverse, post
// and void routes refuse a trade's fee and commission entries, a bounty
// entry, a payout entry and a forfeit entry (409, naming the route that
// does it), changing nothing; the trade is then still reversible through
// POST /v1/trades/{id}/reverse, whose reversals cannot be reversed either.
func TestEngineEntriesMoveOnlyThroughTheirOwner(t *testing.T) {
	f := newPayoutFixture(t)
	f.srv.payouts.Webhook = "http://127.0.0.1:9/never-called" // payout entries stay pending
	f.program("viral", map[string]any{"kind": "bounty", "currency": "USDT", "events": map[string]any{"kyc_verified": []string{"1"}}})
	f.brokerTree(nil)
	f.trade("D", "100") // t-1
	f.trade("D", "40")  // t-2: its C line is forfeited
	tr := f.getTrade("t-1")
	f.event("D", "kyc_verified")
	var bounties listJSON[entryJSON]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries?kind=bounty"}).Decode(t, &bounties)
	if len(bounties.Data) != 1 {
		t.Fatalf("bounty entries = %+v, want one", bounties.Data)
	}
	b := f.build(http.StatusCreated)
	forfeitID := *lineOf(t, f.act(http.StatusOK, f.admin1, b.ID, "reject-lines", map[string]any{"lines": []string{lineOf(t, b, "C").ID}, "forfeit": true}), "C").EntryID
	paid := f.pay(b.ID)
	f.wantEntryStatus(*paid.EntryID, statusPending)

	tradeRoute := "POST /v1/trades/t-1/reverse"
	cases := []struct {
		name, entry string
		ops         []string
		want        []string // in the detail
	}{
		{"trade fee", tr.FeeEntryID, []string{"reverse", "post", "void"}, []string{"trade_fee", "t-1", tradeRoute}},
		{"commission", tr.CommissionEntryID, []string{"reverse", "post", "void"}, []string{"commission", "t-1", tradeRoute}},
		{"bounty", bounties.Data[0].ID, []string{"reverse", "post", "void"}, []string{"bounty"}},
		{"pending payout", *paid.EntryID, []string{"reverse", "post", "void"}, []string{"payout", b.ID}},
		{"forfeit", forfeitID, []string{"reverse"}, []string{"forfeit", b.ID}},
	}
	before := f.snapshot()
	for _, c := range cases {
		for _, op := range c.ops {
			t.Run(c.name+"/"+op, func(t *testing.T) {
				res := f.do(req{Method: "POST", Path: "/v1/entries/" + c.entry + "/" + op, Key: bootstrapKey})
				if res.Status != http.StatusConflict {
					t.Fatalf("%s of the %s entry = %d %s, want 409", op, c.name, res.Status, res.Body)
				}
				var p problem
				res.Decode(t, &p)
				if p.Code != folio.ECONFLICT || !strings.Contains(p.Detail, c.entry) {
					t.Fatalf("%s of the %s entry: problem %+v, want conflict naming the entry", op, c.name, p)
				}
				for _, w := range c.want {
					if !strings.Contains(p.Detail, w) {
						t.Errorf("%s of the %s entry: detail %q does not name %q", op, c.name, p.Detail, w)
					}
				}
			})
		}
	}
	if after := f.snapshot(); after != before {
		t.Fatalf("refused operations changed the books:\nbefore %s\nafter  %s", before, after)
	}
	if got := f.getTrade("t-1"); got.Reversed {
		t.Fatalf("trade t-1 reversed = true after refused entry reversals")
	}

	// The trade reverses as a trade; its reversals are not reversible.
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/trades/t-1/reverse"})
	if got := f.getTrade("t-1"); !got.Reversed {
		t.Fatalf("trade t-1 reversed = false after POST /v1/trades/t-1/reverse")
	}
	var fee entryDetailJSON
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + tr.FeeEntryID}).Decode(t, &fee)
	if fee.ReversedBy == nil {
		t.Fatalf("fee entry %s has no reversal after the trade's", tr.FeeEntryID)
	}
	f.call(http.StatusConflict, req{Method: "POST", Path: "/v1/entries/" + *fee.ReversedBy + "/reverse"})
	f.wantBalances(map[string]string{"101:USDT": "0"})
}

func wantKindProblem(t *testing.T, res *response, status int, kind string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status = %d %s, want %d", res.Status, res.Body, status)
	}
	var p problem
	res.Decode(t, &p)
	if p.Code != folio.EINVALID || !strings.Contains(p.Detail, `"`+kind+`"`) {
		t.Fatalf("problem = %+v, want invalid_request naming kind %q", p, kind)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
