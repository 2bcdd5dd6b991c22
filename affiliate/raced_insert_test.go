package affiliate_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// A signup that loses a race to a concurrent insert of the same user id
// answers conflict, not an internal error. The race is made deterministic:
// another transaction (read committed, so outside the serializable
// runner's own conflict detection, as a CLI or a second dialect could be)
// inserts the user first and commits only once CreateUser has found no
// user and its INSERT waits on that row.
func TestCreateUserRacedInsertIsConflict(t *testing.T) {
	f := newFixture(t)
	other, err := f.db.Admin.Begin(ctx)
	must(t, "begin", err)
	defer other.Rollback(ctx)
	_, err = other.Exec(ctx, `INSERT INTO users (id, country, registered_at, created_at) VALUES ('raced', 'DE', $1, $1)`, f.now)
	must(t, "insert the racing user", err)

	done := make(chan error, 1)
	go func() {
		_, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: "raced", Country: "DE"})
		done <- err
	}()
	waitForLockedInsert(t, f, "INSERT INTO users")
	must(t, "commit the racing user", other.Commit(ctx))
	err = <-done
	wantCode(t, "CreateUser raced by a concurrent insert", err, folio.ECONFLICT)

	// Sent again, the signup sees the user and replays.
	_, created, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: "raced", Country: "DE"})
	if err != nil || created {
		t.Errorf("CreateUser again = created %v, %v; want the existing user", created, err)
	}
}

// The same for a lifecycle event whose id a concurrent insert takes
// between RecordEvent's replay check and its insert.
func TestRecordEventRacedInsertIsConflict(t *testing.T) {
	f := newFixture(t)
	_, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: "u1", Country: "DE"})
	must(t, "CreateUser", err)
	other, err := f.db.Admin.Begin(ctx)
	must(t, "begin", err)
	defer other.Rollback(ctx)
	_, err = other.Exec(ctx, `INSERT INTO user_events (id, user_id, type, at, recorded_at) VALUES ('ev-1', 'u1', 'kyc_verified', $1, $1)`, f.now)
	must(t, "insert the racing event", err)

	done := make(chan error, 1)
	go func() {
		_, err := f.svc.RecordEvent(ctx, "u1", affiliate.Event{ID: "ev-1", Type: affiliate.EventKYCVerified})
		done <- err
	}()
	waitForLockedInsert(t, f, "INSERT INTO user_events")
	must(t, "commit the racing event", other.Commit(ctx))
	wantCode(t, "RecordEvent raced by a concurrent insert", <-done, folio.ECONFLICT)
}

// waitForLockedInsert waits until a statement starting with prefix waits
// for a lock (another transaction's uncommitted row) in f's database.
func waitForLockedInsert(t *testing.T, f *fixture, prefix string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := f.db.Admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND ltrim(query) LIKE $1 || '%'`, prefix).Scan(&n)
		must(t, "pg_stat_activity", err)
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q waited for a lock within 30s", prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two writers of different journal shards booking one trade id (sent with
// two traders, so each trader's shard writer takes it) book it once. The
// key index leaves out a trade's entry keys (migration 039): here the
// second writer's entries go in, its trade row waits for the first
// writer's uncommitted one, fails on trades_pkey once that commits, and
// its retry finds the trade booked with other content.
func TestPostTradesRacedAcrossShardsBooksOnce(t *testing.T) {
	f := newFixture(t)
	must(t, "two shards", ledger.SetShards(ctx, f.env.App, 2))
	a, b := "", ""
	for i := 0; a == "" || b == ""; i++ {
		u := fmt.Sprintf("trader-%d", i)
		if ledger.ShardOf(u, 2) == 0 && a == "" {
			a = u
		} else if ledger.ShardOf(u, 2) == 1 && b == "" {
			b = u
		}
	}
	f.user(t, a, "")
	f.user(t, b, "")

	first, err := f.env.App.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	must(t, "begin", err)
	defer first.Rollback(ctx)
	must(t, "lock shard 0", ledger.LockShard(ctx, first, 0))
	res, err := f.svc.PostTradesTx(ctx, first, []affiliate.NewTrade{trade("t-raced", a, "10")})
	must(t, "PostTradesTx", err)
	if res[0].Status != affiliate.TradeCreated {
		t.Fatalf("first booking = %+v", res[0])
	}

	done := make(chan []affiliate.TradeResult, 1)
	go func() {
		res, err := f.svc.PostTrades(ctx, []affiliate.NewTrade{trade("t-raced", b, "10")})
		if err != nil {
			t.Errorf("second booking: %v", err)
		}
		done <- res
	}()
	// What waits is the trade row: the entries' keys are not indexed.
	waitForLockedInsert(t, f, "INSERT INTO trades")
	must(t, "commit the first booking", first.Commit(ctx))
	second := <-done
	if len(second) != 1 || second[0].Status != affiliate.TradeRejected || errCode(second[0].Err) != folio.EIDEMPOTENCY {
		t.Fatalf("second booking = %+v, want rejected: booked with other content", second)
	}
	if n := f.count(t, `SELECT count(*) FROM entries WHERE idempotency_key IN ('trade:t-raced', 'commission:t-raced')`); n != 2 {
		t.Errorf("%d entries under the trade's keys, want 2", n)
	}
	if n := f.count(t, `SELECT count(*) FROM trades WHERE id = 't-raced' AND user_id = $1`, a); n != 1 {
		t.Errorf("trade rows of the first trader = %d, want 1", n)
	}
	f.verify(t)
}
