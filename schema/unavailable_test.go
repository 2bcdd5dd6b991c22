package schema_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
)

// TestIsUnavailable lists each kind of connection-level failure, and
// errors that are answers of the database (or the caller giving up), which
// must stay what they are.
func TestIsUnavailable(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"08000 connection_exception", pg("08000"), true},
		{"08003 connection_does_not_exist", pg("08003"), true},
		{"08006 connection_failure", pg("08006"), true},
		{"08001 cannot establish", pg("08001"), true},
		{"08P01 protocol_violation", pg("08P01"), true},
		{"57P01 admin_shutdown", pg("57P01"), true},
		{"57P02 crash_shutdown", pg("57P02"), true},
		{"57P03 cannot_connect_now", pg("57P03"), true},
		{"53300 too_many_connections", pg("53300"), true},
		{"net.OpError dial refused", dial, true},
		{"ECONNRESET", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"EPIPE", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"io.EOF", fmt.Errorf("receive message: %w", io.EOF), true},
		{"io.ErrUnexpectedEOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"conn closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), true},
		{"nil", nil, false},
		{"40001 serialization_failure", pg("40001"), false},
		{"23505 unique_violation", pg("23505"), false},
		{"57014 query_canceled", pg("57014"), false},
		{"53100 disk_full", pg("53100"), false},
		{"42501 insufficient_privilege", pg("42501"), false},
		{"context canceled", fmt.Errorf("query: %w", context.Canceled), false},
		{"context deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"no rows", pgx.ErrNoRows, false},
		{"domain error", folio.Errorf(folio.ENOTFOUND, "x"), false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := schema.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
		got := folio.ErrorCode(schema.Translate(tt.err))
		want := folio.ErrorCode(tt.err)
		if tt.want {
			want = folio.EUNAVAILABLE
		}
		if got != want {
			t.Errorf("ErrorCode(Translate(%s)) = %q, want %q", tt.name, got, want)
		}
	}
	if err := schema.Translate(io.EOF); !errors.Is(err, io.EOF) {
		t.Errorf("Translate(io.EOF) = %v, which no longer wraps io.EOF", err)
	}
}

// TestTxUnreachable runs transactions on a pool whose server is gone: the
// runner answers unavailable, not an internal error, and promptly (it does
// not retry as it does a conflict).
func TestTxUnreachable(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "postgres://postgres@" + l.Addr().String() + "/folio?sslmode=disable&connect_timeout=2"
	l.Close() // nothing listens there any more
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &schema.DB{Pool: pool}
	start := time.Now()
	for name, run := range map[string]func(context.Context, func(pgx.Tx) error) error{"Tx": db.Tx, "ReadTx": db.ReadTx} {
		err := run(ctx, func(tx pgx.Tx) error { return nil })
		if code := folio.ErrorCode(err); code != folio.EUNAVAILABLE {
			t.Errorf("%s on a closed port = %v (code %q), want %q", name, err, code, folio.EUNAVAILABLE)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the runner took %v to give up on a closed port", d)
	}
}
