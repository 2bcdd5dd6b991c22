// Package webhook delivers payout outbox messages and event webhooks over
// HTTP: the transport that payouts.Service.Deliver and
// events.Dispatcher.Send are given by the programs that wire them (folio
// serve, the api package's default), so that the domain packages import no
// net/http.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client is Post's client: outbox deliveries give up after 10 s and are
// retried by the outbox with backoff.
var client = &http.Client{Timeout: 10 * time.Second}

// Post sends body as a JSON POST to url with the Idempotency-Key header and
// the extra headers (the signature's, see package signing) and returns the receiver's status (0 when no answer was received) and a short
// detail for the outbox's log: "HTTP 200: <first 512 bytes of the answer>"
// or the transport error.
func Post(ctx context.Context, url, idempotencyKey string, header map[string]string, body []byte) (int, string) {
	h := map[string]string{"Idempotency-Key": idempotencyKey}
	for k, v := range header {
		h[k] = v
	}
	return Send(ctx, url, h, body)
}

// Send sends body as a JSON POST to url with the given headers, and answers
// like Post. It is also the transport of the event webhooks
// (events.Dispatcher's Send), which add their signature headers.
func Send(ctx context.Context, url string, headers map[string]string, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(text))
}
