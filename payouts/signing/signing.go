// Package signing signs the payout outbox's requests so that the
// exchange's transfer API can tell them from forgeries, and verifies such a
// signature (for receivers written in Go, and for Folio's own tests).
//
// # The scheme
//
// Each endpoint has its own secret (folio serve --payout-webhook-secret, or
// FOLIO_PAYOUT_WEBHOOK_SECRET, for the --payout-webhook endpoint). A signed
// request carries two headers:
//
//	Folio-Timestamp: 1767960000
//	Folio-Signature: v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// The timestamp is the sending time in Unix seconds; the signature is the
// lower-case hex HMAC-SHA256, keyed with the secret's bytes, of the
// timestamp, a full stop and the request body exactly as received:
// hex(HMAC(secret, timestamp + "." + body)). The "v1=" prefix names the
// scheme; a header may carry several comma-separated signatures (while a
// secret is rotated), and one valid signature suffices. The timestamp is
// inside the signed text, so a replayed request cannot be given a fresh
// time: receivers refuse a timestamp more than a few minutes away from
// their clock (Verify's tolerance) and still deduplicate by the
// Idempotency-Key header (the batch id).
//
// # Verifying
//
// In Go: signing.Verify(secret, r.Header.Get("Folio-Timestamp"),
// r.Header.Get("Folio-Signature"), body, time.Now(), 5*time.Minute), on the
// raw body, before decoding it. With openssl, for a body saved in body.json
// and the headers' values in $TS and $SIG:
//
//	printf '%s.' "$TS" | cat - body.json | openssl dgst -sha256 -hmac "$SECRET" -hex | sed 's/^.*= //'
//
// prints the hex digest; compare it with $SIG after its "v1=". Compare in
// constant time in code (hmac.Equal), never with ==.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderTimestamp = "Folio-Timestamp"
	HeaderSignature = "Folio-Signature"
)

// Sign returns the Folio-Signature value of body sent at timestamp (Unix
// seconds) under secret: "v1=" and the hex HMAC-SHA256 of
// "<timestamp>.<body>".
func Sign(secret string, timestamp int64, body []byte) string {
	return "v1=" + hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Headers returns the two headers of body signed at now under secret.
func Headers(secret string, now time.Time, body []byte) map[string]string {
	ts := now.Unix()
	return map[string]string{HeaderTimestamp: strconv.FormatInt(ts, 10), HeaderSignature: Sign(secret, ts, body)}
}

// ErrSignature is the error of a request whose signature does not verify.
var ErrSignature = errors.New("signing: no valid v1 signature for this body and timestamp")

// Verify checks the headers of a received request against its raw body:
// the timestamp must be Unix seconds within tolerance of now, and one of
// the comma-separated v1 signatures must be the body's, compared in
// constant time.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || timestamp != strconv.FormatInt(ts, 10) {
		return fmt.Errorf("signing: %s %q is not Unix seconds", HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signing: %s %s is more than %s away from now", HeaderTimestamp, timestamp, tolerance)
	}
	want := mac(secret, timestamp, body)
	for _, part := range strings.Split(signature, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		got, err := hex.DecodeString(hexSig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
