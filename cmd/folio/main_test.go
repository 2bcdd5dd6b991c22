package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// cli runs the folio command line in process and returns its output and
// exit status.
func cli(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(ctx, args, &out, &errb)
	return out.String(), errb.String(), exitCode(err)
}

// clearEnv unsets every FOLIO_* variable the command line reads, so that
// the machine's environment cannot change what a test runs against.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, s := range settings {
		t.Setenv(s.env, "")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunCommands(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
	}{
		{[]string{"help"}, 0, []string{"serve", "migrate", "verify", "keys create", "keys list", "keys revoke", "reconcile", "bench", "FOLIO_DATABASE_URL", "FOLIO_LISTEN", "FOLIO_ADMIN_KEY", "FOLIO_DATA_DIR"}, nil},
		{[]string{"-h"}, 0, []string{"Usage: folio <command>"}, nil},
		{nil, 2, nil, []string{"Usage: folio <command>"}},
		{[]string{"frobnicate"}, 2, nil, []string{"Usage: folio <command>"}},
		{[]string{"bench", "--batch", "0"}, 2, nil, nil},
		{[]string{"reconcile", "--format", "xml"}, 2, nil, nil},
		{[]string{"reconcile", "--from", "yesterday"}, 2, nil, nil},
		{[]string{"demo", "--no-such-flag"}, 2, nil, nil},
		{[]string{"serve", "-h"}, 0, nil, []string{"Usage: folio serve", "-listen", "FOLIO_LISTEN"}},
		{[]string{"verify", "--no-such-flag"}, 2, nil, []string{"flag provided but not defined", "Usage: folio verify"}},
		{[]string{"keys"}, 2, nil, []string{"Usage: folio keys"}},
		{[]string{"keys", "-h"}, 0, []string{"Usage: folio keys"}, nil},
		{[]string{"keys", "rotate"}, 2, nil, nil},
		{[]string{"keys", "create", "--data-dir", t.TempDir()}, 2, nil, nil}, // --role missing
	}
	for _, tt := range tests {
		stdout, stderr, code := cli(t, ctx, tt.args...)
		if code != tt.wantCode {
			t.Errorf("folio %q: exit %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr)
		}
		for _, s := range tt.wantStdout {
			if !strings.Contains(stdout, s) {
				t.Errorf("folio %q: stdout lacks %q:\n%s", tt.args, s, stdout)
			}
		}
		for _, s := range tt.wantStderr {
			if !strings.Contains(stderr, s) {
				t.Errorf("folio %q: stderr lacks %q:\n%s", tt.args, s, stderr)
			}
		}
		if tt.wantCode != 0 && stdout != "" {
			t.Errorf("folio %q failed but printed to stdout: %q", tt.args, stdout)
		}
	}
}

func TestVerifyRefusesMissingDataDir(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	_, _, code := cli(t, context.Background(), "verify", "--data-dir", dir+"/nothing-here")
	if code != 2 {
		t.Fatalf("verify on an empty data dir: exit %d, want 2", code)
	}
	if _, err := os.Stat(dir + "/nothing-here"); err == nil {
		t.Fatalf("verify created the missing data dir")
	}
}
