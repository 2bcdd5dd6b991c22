package signing_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio/payouts/signing"
)

// TestSignVerify: a signed body verifies; a tampered body, another secret,
// a stale or malformed timestamp and a malformed signature do not.
func TestSignVerify(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"batch_id":"pb_1","lines":[{"holder":"A","currency":"USDT","amount":"50"}]}`)
	h := signing.Headers("s3cret", now, body)
	ts, sig := h[signing.HeaderTimestamp], h[signing.HeaderSignature]
	if ts != strconv.FormatInt(now.Unix(), 10) || !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Fatalf("Headers = %v", h)
	}
	if err := signing.Verify("s3cret", ts, sig, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify(signed body) = %v", err)
	}
	// Rotation: one valid signature among several suffices.
	if err := signing.Verify("s3cret", ts, "v1=00ff, "+sig, body, now, time.Minute); err != nil {
		t.Errorf("Verify(rotated header) = %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"50"`, `"500"`, 1))
	bad := []struct {
		name, secret, ts, sig string
		body                  []byte
		at                    time.Time
	}{
		{"tampered body", "s3cret", ts, sig, tampered, now},
		{"other secret", "other", ts, sig, body, now},
		{"stale timestamp", "s3cret", ts, sig, body, now.Add(6 * time.Minute)},
		{"future timestamp", "s3cret", ts, sig, body, now.Add(-6 * time.Minute)},
		{"timestamp changed", "s3cret", strconv.FormatInt(now.Unix()+1, 10), sig, body, now},
		{"timestamp not seconds", "s3cret", "2026-01-10T12:00:00Z", sig, body, now},
		{"timestamp with sign", "s3cret", "+" + ts, sig, body, now},
		{"no v1 prefix", "s3cret", ts, strings.TrimPrefix(sig, "v1="), body, now},
		{"not hex", "s3cret", ts, "v1=zz", body, now},
		{"empty", "s3cret", ts, "", body, now},
	}
	for _, b := range bad {
		if err := signing.Verify(b.secret, b.ts, b.sig, b.body, b.at, 5*time.Minute); err == nil {
			t.Errorf("%s: Verify = nil, want an error", b.name)
		}
	}
}

// TestOpenSSLRecipe: the openssl command line of the package documentation
// computes the same signature.
func TestOpenSSLRecipe(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed to check the documented recipe: %v", err)
	}
	body := []byte(`{"batch_id":"pb_2","entry_id":"e","lines":[]}`)
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	const ts = "1767960000"
	cmd := exec.Command("sh", "-c", `printf '%s.' "$TS" | cat - body.json | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.*= //'`)
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "TS="+ts, "SECRET=whsec-0123")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl recipe: %v", err)
	}
	if got, want := "v1="+strings.TrimSpace(string(out)), signing.Sign("whsec-0123", 1767960000, body); got != want {
		t.Errorf("openssl recipe gives %s, Sign gives %s", got, want)
	}
}
