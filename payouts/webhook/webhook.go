// Package webhook delivers payout outbox messages and event webhooks over
// HTTP: the transport that payouts.Service.Deliver and
// events.Dispatcher.Send are given by the programs that wire them (folio
// serve, the api package's default), so that the domain packages import no
// net/http.
//
// The two differ in whom they trust (see events/doc.go, "Webhooks and
// internal networks"): the payout webhook is the operator's own transfer
// API, named on serve's command line, and may well be internal, so Post
// connects anywhere; event webhook URLs are set through the API, so
// EventSender refuses internal addresses at dial time and follows no
// redirects.
package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/folioledger/folio/events"
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
	return send(ctx, client, url, headers, body)
}

// EventSender returns the transport of event webhooks (events.Dispatcher's
// Send). It answers like Send, but:
//
//   - it follows no redirect: a 3xx answer is a failed attempt, recorded
//     with its Location, so a receiver cannot bounce a delivery elsewhere;
//   - unless allowPrivate (`folio serve --webhook-allow-private`), it
//     refuses to connect to the addresses events.RefusedAddress refuses
//     (loopback, private, link-local including cloud metadata,
//     unspecified, multicast). The check runs on the address being dialled
//     (net.Dialer.Control), after name resolution, so a name that resolves
//     — or is rebound between two lookups — to an internal address is
//     refused too; the attempt records the reason;
//   - it uses no proxy from the environment: a proxy would dial the
//     receiver itself, out of the check's sight.
func EventSender(allowPrivate bool) func(ctx context.Context, url string, headers map[string]string, body []byte) (int, string) {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	cl := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: true, MaxIdleConns: 100,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, url string, headers map[string]string, body []byte) (int, string) {
		return send(ctx, cl, url, headers, body)
	}
}

// refusePrivate is EventSender's dial check: address is the IP and port
// about to be connected to.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook address refused: %s is not an IP address and port", address)
	}
	if why := events.RefusedAddress(ap.Addr()); why != "" {
		return fmt.Errorf("webhook address refused: %s is %s; internal receivers need folio serve --webhook-allow-private", ap.Addr().Unmap(), why)
	}
	return nil
}

func send(ctx context.Context, client *http.Client, url string, headers map[string]string, body []byte) (int, string) {
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
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && client.CheckRedirect != nil { // EventSender's: not followed
		return resp.StatusCode, fmt.Sprintf("HTTP %d: redirect to %q not followed", resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp.StatusCode, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(text))
}
