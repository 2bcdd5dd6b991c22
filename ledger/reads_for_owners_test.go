package ledger_test

import (
	"context"
	"testing"

	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// TestCurrentBalance: the balance an owner package reads in its own
// transaction is the journal's, zero for an account never posted to.
func TestCurrentBalance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.post(t, entry("k1", "110:USDT", "debit", "100.5", "201:USDT:alice", "credit", "100.5"))
	for _, tt := range []struct{ account, want string }{
		{"201:USDT:alice", "100.5"},
		{"110:USDT", "100.5"},
		{"201:USDT:bob", "0"},
	} {
		err := e.app.ReadTx(ctx, func(tx pgx.Tx) error {
			got, err := ledger.CurrentBalance(ctx, tx, tt.account)
			if err != nil {
				return err
			}
			if s := ledger.Format(&got); s != tt.want {
				t.Errorf("CurrentBalance(%s) = %s, want %s", tt.account, s, tt.want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("CurrentBalance(%s): %v", tt.account, err)
		}
	}
}
