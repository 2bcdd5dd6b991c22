package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/ledger"
)

// Reads by recorded time find their positions by bisecting each shard's
// seq (there is no index by recorded time): every cut and every listing
// by a recorded period equals what a scan of the whole journal says, with
// runs of entries recorded at one instant, a clock that steps back (the
// writer then records at its head's time) and shards that stop early.
func TestReadsByRecordedTime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := ledger.SetShards(ctx, e.app, 3); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(41, 7))
	t0 := e.clock.Now()
	for i := range 150 {
		switch r := rng.IntN(10); {
		case r < 3: // the same instant as the entry before
		case r == 3:
			e.clock.Advance(-time.Duration(rng.IntN(90)) * time.Second)
		default:
			e.clock.Advance(time.Duration(1+rng.IntN(90_000_000)) * time.Microsecond)
		}
		trader := fmt.Sprintf("u%d", rng.IntN(7))
		if i >= 120 {
			trader = "u1" // the last entries in one shard: the others end earlier
		}
		ne := entry(fmt.Sprintf("rt%d", i), "110:USD", "debit", "1", "201:USD:"+trader, "credit", "1")
		ne.Route = trader
		e.post(t, ne)
	}
	e.verify(t)

	var recorded []time.Time
	rows, err := e.db.Admin.Query(ctx, `SELECT DISTINCT recorded_at FROM entries ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, at)
	}
	if rows.Err() != nil || len(recorded) < 60 {
		t.Fatalf("%d distinct recorded times (%v); want a journal with many", len(recorded), rows.Err())
	}
	probes := []time.Time{t0.Add(-time.Hour), t0, recorded[len(recorded)-1].Add(time.Hour)}
	for _, at := range recorded {
		probes = append(probes, at.Add(-time.Microsecond), at, at.Add(time.Microsecond))
	}
	for _, at := range probes {
		got, err := ledger.CutBefore(ctx, e.app.Pool, at)
		if err != nil {
			t.Fatal(err)
		}
		want := make(ledger.Cut, 3)
		rows, err := e.db.Admin.Query(ctx, `SELECT shard, max(seq) FROM entries WHERE recorded_at < $1 GROUP BY shard`, at)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var shard int
			var seq int64
			if err := rows.Scan(&shard, &seq); err != nil {
				t.Fatal(err)
			}
			want[shard] = seq
		}
		if !slices.Equal(got, want) {
			t.Errorf("CutBefore(%s) = %v; the journal says %v", at.Format(time.RFC3339Nano), got, want)
		}
	}

	position := func(x *ledger.Entry) string { return fmt.Sprintf("%d/%d", x.Seq, x.Shard) }
	for k := 0; k < 80; k++ {
		from, to := probes[rng.IntN(len(probes))], probes[rng.IntN(len(probes))]
		if k%10 == 0 {
			from = time.Time{}
		}
		if k%10 == 1 {
			to = time.Time{}
		}
		got, err := e.ledger.ListEntries(ctx, ledger.EntryFilter{From: from, To: to, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := e.db.Admin.Query(ctx, `SELECT seq || '/' || shard FROM entries
			WHERE ($1::timestamptz IS NULL OR recorded_at >= $1) AND ($2::timestamptz IS NULL OR recorded_at < $2) ORDER BY seq, shard`,
			nullTime(from), nullTime(to))
		if err != nil {
			t.Fatal(err)
		}
		want, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var gotPos []string
		for _, x := range got {
			gotPos = append(gotPos, position(x))
		}
		if !slices.Equal(gotPos, want) {
			t.Errorf("entries recorded in [%s, %s): %v; the journal says %v", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), gotPos, want)
		}
	}
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
