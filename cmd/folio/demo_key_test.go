package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/folioledger/folio/api"
	"github.com/folioledger/folio/ledger"
)

// TestDemoAdminKeyReused: a second demo run reuses the admin key stored in
// the data directory while the API still takes it as an admin key (its
// check is a request the route accepts as is), and mints a new one once the
// stored key is not an admin key.
func TestDemoAdminKeyReused(t *testing.T) {
	ctx := context.Background()
	_, app := appDB(t)
	h := api.New(api.Config{DB: app, Ledger: ledger.New(app)}).Handler()
	cfg := Config{DataDir: t.TempDir()}
	first, source, err := demoAdminKey(ctx, cfg, app, h)
	if err != nil || first == "" {
		t.Fatalf("demoAdminKey = %q, %q, %v", first, source, err)
	}
	again, source, err := demoAdminKey(ctx, cfg, app, h)
	if err != nil || again != first || !strings.HasPrefix(source, "stored in ") {
		t.Fatalf("demoAdminKey again = %q, %q, %v; want the stored key %q", again, source, err, first)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, adminKeyFile), []byte("folio_not-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fresh, _, err := demoAdminKey(ctx, cfg, app, h); err != nil || fresh == first || fresh == "" {
		t.Fatalf("demoAdminKey with a dead stored key = %q, %v; want a new key", fresh, err)
	}
}
