package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/folioledger/folio/ledger"
)

// The reads the ledger offers the packages above it answer from the
// journal as their contracts say.
func TestReadsForOwners(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	q := e.app.Pool
	if used, err := ledger.InUse(ctx, q, "", "USD"); err != nil || used {
		t.Fatalf("InUse(USD) on an empty journal = %v, %v; want false", used, err)
	}
	t0 := e.clock.t
	a := e.post(t, entry("r-1", "110:USD", "debit", "10", "201:USD:alice", "credit", "10"))
	e.clock.Advance(time.Minute)
	b := e.post(t, entry("r-2", "201:USD:alice", "debit", "4", "201:USD:bob", "credit", "4"))

	for _, c := range []struct {
		at   time.Time
		want int64
	}{{t0, 0}, {t0.Add(time.Second), a.Seq}, {t0.Add(2 * time.Minute), b.Seq}} {
		if got, err := ledger.CutBefore(ctx, q, c.at); err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("CutBefore(%s) = %v, %v; want [%d]", c.at, got, err, c.want)
		}
	}
	if n, p, err := ledger.Counts(ctx, q); err != nil || n != 2 || p != 4 {
		t.Errorf("Counts = %d, %d, %v; want 2, 4", n, p, err)
	}
	if got, err := ledger.EntryIDsByKey(ctx, q, []string{"r-2", "none", "r-1"}); err != nil || !slices.Equal(got, []string{a.ID, b.ID}) {
		t.Errorf("EntryIDsByKey = %v, %v; want %v in seq order", got, err, []string{a.ID, b.ID})
	}
	for _, c := range []struct {
		code, currency string
		want           bool
	}{{"", "USD", true}, {"201", "", true}, {"201", "USD", true}, {"201", "BTC", false}, {"605", "", false}} {
		if got, err := ledger.InUse(ctx, q, c.code, c.currency); err != nil || got != c.want {
			t.Errorf("InUse(%q, %q) = %v, %v; want %v", c.code, c.currency, got, err, c.want)
		}
	}
	for seq, want := range map[int64]string{0: "map[]", a.Seq: "map[USD:10]", b.Seq: "map[USD:10]"} {
		got, err := ledger.CodeBalancesAt(ctx, q, "201", ledger.Cut{seq})
		s := map[string]string{}
		for cur, v := range got {
			s[cur] = ledger.Format(&v)
		}
		if err != nil || fmt.Sprint(s) != want {
			t.Errorf("CodeBalancesAt(201, %d) = %v, %v; want %s", seq, s, err, want)
		}
	}
	if got, err := ledger.AccountEntryIDs(ctx, q, "201:USD:alice", ledger.Cut{a.Seq}, 10); err != nil || !slices.Equal(got, []string{a.ID}) {
		t.Errorf("AccountEntryIDs(alice, %d) = %v, %v; want [%s]", a.Seq, got, err, a.ID)
	}
	flows, err := ledger.Flows(ctx, q, ledger.Cut{0}, ledger.Cut{b.Seq}, []string{"201"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flows {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", f.Currency, f.Kind, f.Code, f.Side, ledger.Format(&f.Amount)))
	}
	sort.Strings(got)
	if want := []string{"USD manual 201 credit 14", "USD manual 201 debit 4"}; !slices.Equal(got, want) {
		t.Errorf("Flows(0, %d, 201) = %q, want %q", b.Seq, got, want)
	}
	ids := []string{a.ID, b.ID}
	sort.Strings(ids)
	for _, c := range []struct {
		except []string
		want   []string
	}{{[]string{"manual"}, nil}, {[]string{"commission"}, ids}} {
		got, err := ledger.CodeEntryIDsExcept(ctx, q, "201", "USD", ledger.Cut{0}, ledger.Cut{b.Seq}, c.except, 10)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("CodeEntryIDsExcept(201, USD, except %v) = %v, %v; want %v", c.except, got, err, c.want)
		}
	}
}
