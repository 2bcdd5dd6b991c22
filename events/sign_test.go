package events

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSignatureRecipes checks Sign and Verify against the shell recipe of
// doc.go and the README (openssl), and Verify's replay window.
func TestSignatureRecipes(t *testing.T) {
	secret, ts, body := "whsec_0123456789abcdef", "1764860000", []byte(`{"id":"entry:x","type":"entry.posted","data":{"a":"1.5"}}`)
	sig := Sign(secret, ts, body)
	at := time.Unix(1764860000, 0)
	if !Verify(secret, ts, sig, body, at.Add(4*time.Minute), 5*time.Minute) {
		t.Error("Verify refuses a fresh, correct signature")
	}
	for name, ok := range map[string]bool{
		"stale":        Verify(secret, ts, sig, body, at.Add(6*time.Minute), 5*time.Minute),
		"future":       Verify(secret, ts, sig, body, at.Add(-6*time.Minute), 5*time.Minute),
		"other secret": Verify(secret+"x", ts, sig, body, at, 5*time.Minute),
		"other body":   Verify(secret, ts, sig, append(body, ' '), at, 5*time.Minute),
		"other time":   Verify(secret, "1764860001", sig, body, at, 5*time.Minute),
		"bad time":     Verify(secret, "soon", sig, body, at, 5*time.Minute),
	} {
		if ok {
			t.Errorf("Verify accepts a delivery with %s", name)
		}
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: the shell recipe is not checked here")
	}
	// { printf '%s.' "$ts"; cat body.json; } | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1
	cmd := exec.Command(openssl, "dgst", "-sha256", "-hmac", secret, "-r")
	cmd.Stdin = bytes.NewReader(append([]byte(ts+"."), body...))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	if got := "v1=" + strings.Fields(string(out))[0]; got != sig {
		t.Errorf("openssl recipe = %s, Sign = %s", got, sig)
	}
}
