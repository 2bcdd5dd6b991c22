package ingest_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ingest"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// TestIngesterOutage: when the database is unreachable, a group of
// requests is answered unavailable as a whole (503, resend) — its requests
// are not retried one by one against a database that is down.
func TestIngesterOutage(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "postgres://postgres@" + l.Addr().String() + "/folio?sslmode=disable&connect_timeout=2"
	l.Close() // nothing listens there any more
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	cfg.BeforeConnect = func(context.Context, *pgx.ConnConfig) error {
		dials.Add(1)
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &schema.DB{Pool: pool}
	lg := ledger.New(db)
	ing := ingest.New(db, affiliate.NewService(db, lg), lg, ingest.Options{MaxWait: 200 * time.Millisecond})

	const jobs = 3
	var wg sync.WaitGroup
	errs := make([]error, jobs)
	for i := range jobs {
		wg.Go(func() {
			_, errs[i] = ing.SubmitTrades(ctx, []affiliate.NewTrade{{ID: fmt.Sprintf("outage-%d", i)}})
		})
	}
	time.Sleep(100 * time.Millisecond) // all queued: one group
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { ing.Run(rctx); close(ran) }()
	wg.Wait()
	stop()
	<-ran
	for i, err := range errs {
		if code := folio.ErrorCode(err); code != folio.EUNAVAILABLE {
			t.Errorf("job %d: %v (code %q), want %q", i, err, code, folio.EUNAVAILABLE)
		}
	}
	// One dial for the dialect check, one for the group's transaction.
	if n := dials.Load(); n > 2 {
		t.Errorf("%d connection attempts for one group of %d requests, want at most 2", n, jobs)
	}
}
