package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// concurrencyAccounts are the 20 accounts every writer of
// TestConcurrentWriters posts to, by currency.
var concurrencyAccounts = map[string][]string{
	"USD":  {"110:USD", "101:USD", "605:USD", "201:USD:u1", "201:USD:u2", "208:USD:u1", "208:USD:u2"},
	"USDT": {"110:USDT", "101:USDT", "605:USDT", "201:USDT:u1", "201:USDT:u2", "208:USDT:u3", "420:USDT"},
	"BTC":  {"110:BTC", "605:BTC", "201:BTC:u1", "201:BTC:u2", "421:BTC", "606:BTC"},
}

var concurrencyCurrencies = []string{"USD", "USDT", "BTC"}

var concurrencyPrecision = map[string]int{"USD": 2, "USDT": 6, "BTC": 8}

// randomAmount returns a positive amount with up to the currency's precision.
func randomAmount(r *rand.Rand, currency string, precision int) string {
	places := r.IntN(precision + 1)
	units := r.Int64N(1_000_000) + 1
	d := apd.New(units, -int32(places))
	return ledger.Format(d)
}

// randomEntry builds a balanced entry in one or two currencies, each leg
// moving one random amount between two distinct accounts of the currency.
func randomEntry(r *rand.Rand, key string) ledger.NewEntry {
	e := ledger.NewEntry{IdempotencyKey: key, Kind: "manual"}
	legs := 1
	if r.IntN(5) == 0 {
		legs = 2
	}
	perm := r.Perm(len(concurrencyCurrencies))
	for _, ci := range perm[:legs] {
		cur := concurrencyCurrencies[ci]
		accts := concurrencyAccounts[cur]
		i := r.IntN(len(accts))
		j := (i + 1 + r.IntN(len(accts)-1)) % len(accts)
		amt := randomAmount(r, cur, concurrencyPrecision[cur])
		e.Postings = append(e.Postings,
			ledger.NewPosting{Account: accts[i], Side: accounts.Debit, Amount: amt},
			ledger.NewPosting{Account: accts[j], Side: accounts.Credit, Amount: amt})
	}
	return e
}

// writerLog is what one writer saw.
type writerLog struct {
	created   map[string]*ledger.Entry // key -> entry this writer created
	requests  map[string]ledger.NewEntry
	seen      map[string]string // key -> entry id returned (created or replayed)
	conflicts map[string]int
	completed map[string]ledger.Phase // pending entry id -> post_pending or void_pending
	errs      []string
}

// TestConcurrentWriters runs 8 writers × 500 entries over 20 shared
// accounts in 3 currencies, in batches of 1–10 operations, with pending
// entries later posted or voided, and idempotency keys deliberately shared
// between writers (same content: every writer must get the one entry;
// different content: one writer wins, the others get idempotency_conflict).
// Then it proves no lost updates (every stored balance equals the sum of
// its postings, recomputed here, and equals what the writers were told was
// written), no duplicates, a gapless seq, and a verifying chain.
func TestConcurrentWriters(t *testing.T) {
	const (
		writers   = 8
		perWriter = 500
		shared    = 40
	)
	e := newEnv(t)
	ctx := context.Background()

	var rollbacksBefore int64
	e.db.Admin.QueryRow(ctx, `SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&rollbacksBefore)

	// sameContent is the content every writer sends for a shared key.
	sameContent := func(j int) ledger.NewEntry {
		return randomEntry(rand.New(rand.NewPCG(uint64(j), 99)), fmt.Sprintf("same-%d", j))
	}
	logs := make([]writerLog, writers)
	var calls [writers]int
	var slowest [writers]time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			lg := &logs[g]
			*lg = writerLog{created: map[string]*ledger.Entry{}, requests: map[string]ledger.NewEntry{}, seen: map[string]string{},
				conflicts: map[string]int{}, completed: map[string]ledger.Phase{}}
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var openPending []string
			made := 0
			for made < perWriter {
				n := 1 + r.IntN(10)
				var ops []ledger.Op
				var news []ledger.NewEntry
				for range n {
					if made == perWriter {
						break
					}
					var ne ledger.NewEntry
					switch x := r.IntN(100); {
					case x < 5 && len(openPending) > 0:
						id := openPending[0]
						openPending = openPending[1:]
						if r.IntN(2) == 0 {
							ops = append(ops, ledger.Op{Post: &ledger.PostOp{EntryID: id}})
						} else {
							ops = append(ops, ledger.Op{Void: &ledger.VoidOp{EntryID: id}})
						}
						continue
					case x < 15:
						ne = sameContent(r.IntN(shared))
					case x < 20:
						j := r.IntN(shared)
						ne = randomEntry(rand.New(rand.NewPCG(uint64(j), uint64(g)+1000)), fmt.Sprintf("diff-%d", j))
					default:
						ne = randomEntry(r, fmt.Sprintf("w%d-%d", g, made))
						if r.IntN(6) == 0 {
							ne.Pending = true
						}
					}
					made++
					news = append(news, ne)
					ops = append(ops, ledger.Op{New: &news[len(news)-1]})
				}
				// ops point into news: rebuild the pointers after appends.
				k := 0
				for i := range ops {
					if ops[i].New != nil {
						ops[i].New = &news[k]
						k++
					}
				}
				calls[g]++
				callStart := time.Now()
				res, err := e.ledger.Apply(ctx, ops, ledger.Options{})
				if d := time.Since(callStart); d > slowest[g] {
					slowest[g] = d
				}
				if err != nil {
					lg.errs = append(lg.errs, fmt.Sprintf("Apply: %v", err))
					return
				}
				for i, op := range ops {
					rr := res[i]
					switch {
					case op.New == nil && rr.Err != nil:
						lg.errs = append(lg.errs, fmt.Sprintf("complete %s: %v", opTargetOf(op), rr.Err))
					case op.New == nil:
						lg.completed[opTargetOf(op)] = rr.Entry.Phase
					case rr.Err != nil && code(rr.Err) == folio.EIDEMPOTENCY:
						lg.conflicts[op.New.IdempotencyKey]++
					case rr.Err != nil:
						lg.errs = append(lg.errs, fmt.Sprintf("post %s: %v", op.New.IdempotencyKey, rr.Err))
					default:
						key := op.New.IdempotencyKey
						if prev, ok := lg.seen[key]; ok && prev != rr.Entry.ID {
							lg.errs = append(lg.errs, fmt.Sprintf("key %s: entry %s, earlier %s", key, rr.Entry.ID, prev))
						}
						lg.seen[key] = rr.Entry.ID
						if !rr.Replayed {
							lg.created[key] = rr.Entry
							lg.requests[key] = *op.New
							if op.New.Pending {
								openPending = append(openPending, rr.Entry.ID)
							}
						}
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var rollbacksAfter int64
	e.db.Admin.QueryRow(ctx, `SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&rollbacksAfter)
	totalCalls, maxCall := 0, time.Duration(0)
	for g, c := range calls {
		totalCalls += c
		maxCall = max(maxCall, slowest[g])
	}
	t.Logf("%d writers, %d Apply calls in %v (slowest call %v); %d transactions rolled back and retried, %d attempts run alone after repeated losses",
		writers, totalCalls, elapsed.Round(time.Millisecond), maxCall.Round(time.Millisecond), rollbacksAfter-rollbacksBefore,
		e.app.Prioritized())

	for g := range logs {
		for _, s := range logs[g].errs {
			t.Errorf("writer %d: %s", g, s)
		}
	}

	// Who created what: every key once, by exactly one writer, and every
	// writer that was told "ok" for a key got the same entry.
	creator := map[string]int{}
	entryOf := map[string]string{}
	createdIDs := map[string]bool{}
	for g := range logs {
		for key, en := range logs[g].created {
			if other, dup := creator[key]; dup {
				t.Errorf("key %s created by writers %d and %d", key, other, g)
			}
			creator[key] = g
			if createdIDs[en.ID] {
				t.Errorf("entry %s reported created twice", en.ID)
			}
			createdIDs[en.ID] = true
			entryOf[key] = en.ID
		}
	}
	for g := range logs {
		for key, id := range logs[g].seen {
			if entryOf[key] != id {
				t.Errorf("writer %d: key %s = entry %s, want %s (the created one)", g, key, id, entryOf[key])
			}
		}
		for key, n := range logs[g].conflicts {
			if !strings.HasPrefix(key, "diff-") {
				t.Errorf("writer %d: %d idempotency conflicts on key %s, want none", g, n, key)
			} else if creator[key] == g {
				t.Errorf("writer %d: conflict on key %s that it created itself", g, key)
			}
		}
	}
	completions := 0
	for g := range logs {
		completions += len(logs[g].completed)
	}

	var entries, keys, shards int
	var gapless bool
	if err := e.db.Admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM entries), (SELECT count(DISTINCT idempotency_key) FROM entries),
		(SELECT count(*) FROM (SELECT DISTINCT shard FROM entries) s),
		(SELECT coalesce(bool_and(n = top), true) FROM (SELECT count(*) AS n, max(seq) AS top FROM entries GROUP BY shard) s)`).Scan(&entries, &keys, &shards, &gapless); err != nil {
		t.Fatal(err)
	}
	if want := len(creator) + completions; entries != want {
		t.Errorf("entries = %d, want %d (%d keys created + %d posts/voids)", entries, want, len(creator), completions)
	}
	if keys != entries {
		t.Errorf("distinct idempotency keys = %d, want %d (entries)", keys, entries)
	}
	if !gapless {
		t.Fatalf("a shard's seqs are not gapless")
	}
	if shards == 1 {
		// One chain: the model checker replays it whole.
		b := loadBooks(t, e)
		for _, p := range b.check(t, testChart()) {
			t.Errorf("books: %s", p)
		}
		if len(b.balances) != 20 {
			t.Errorf("%d balance rows, want the 20 shared accounts", len(b.balances))
		}
	} else {
		t.Logf("entries in %d shards", shards)
		e.verify(t)
	}
	if bad := sqlBalanceMismatches(t, e); len(bad) > 0 {
		t.Errorf("balance rows that differ from the sum of their postings (SQL): %v", bad)
	}

	// No lost updates from the writers' point of view: the balances are
	// exactly the sum of what they were told was written.
	want := map[string]*sums{}
	chart := testChart()
	for g := range logs {
		for key, req := range logs[g].requests {
			en := logs[g].created[key]
			phase, done := logs[g].completed[en.ID]
			for _, p := range req.Postings {
				s := want[p.Account]
				if s == nil {
					s = &sums{}
					want[p.Account] = s
				}
				amt := dec(t, p.Amount)
				var dst *apd.Decimal
				switch {
				case req.Pending && done && phase == ledger.VoidPending:
					continue
				case req.Pending && !done && p.Side == accounts.Debit:
					dst = &s.pendingDebits
				case req.Pending && !done:
					dst = &s.pendingCredits
				case p.Side == accounts.Debit:
					dst = &s.debits
				default:
					dst = &s.credits
				}
				mustAdd(t, dst, dst, &amt)
			}
		}
	}
	for acct, s := range want {
		got, err := e.ledger.GetBalance(ctx, acct, ledger.AsOf{})
		if err != nil {
			t.Fatalf("GetBalance(%s): %v", acct, err)
		}
		k, _ := accounts.ParseKey(acct)
		c, _ := chart.Code(k.Code)
		var bal apd.Decimal
		if c.Normal == accounts.Debit {
			mustSub(t, &bal, &s.debits, &s.credits)
		} else {
			mustSub(t, &bal, &s.credits, &s.debits)
		}
		for _, f := range []struct {
			name      string
			got, want *apd.Decimal
		}{{"debits", &got.Debits, &s.debits}, {"credits", &got.Credits, &s.credits}, {"balance", &got.Balance, &bal},
			{"pending debits", &got.PendingDebits, &s.pendingDebits}, {"pending credits", &got.PendingCredits, &s.pendingCredits}} {
			if f.got.Cmp(f.want) != 0 {
				t.Errorf("%s %s = %s, want %s (sum of the writers' created entries)", acct, f.name, ledger.Format(f.got), ledger.Format(f.want))
			}
		}
	}
	e.verify(t)
	tb, err := e.ledger.TrialBalance(ctx, ledger.AsOf{}, "")
	if err != nil {
		t.Fatalf("TrialBalance: %v", err)
	}
	for _, c := range tb.Currencies {
		if !c.Balanced {
			t.Errorf("trial balance %s: debits %s, credits %s", c.Currency, ledger.Format(&c.TotalDebits), ledger.Format(&c.TotalCredits))
		}
	}
}

func opTargetOf(op ledger.Op) string {
	switch {
	case op.Post != nil:
		return op.Post.EntryID
	case op.Void != nil:
		return op.Void.EntryID
	case op.Reverse != nil:
		return op.Reverse.EntryID
	}
	return ""
}
