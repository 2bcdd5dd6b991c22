package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPost: the body goes out as JSON with the Idempotency-Key header, and
// the receiver's status and the start of its answer come back; no receiver
// is status 0 with the transport error.
func TestPost(t *testing.T) {
	var gotKey, gotType, gotBody, gotSig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotKey, gotType, gotBody = r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type"), string(b)
		gotSig = r.Header.Get("Folio-Signature")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, " queued \n")
	}))
	defer srv.Close()
	status, detail := Post(context.Background(), srv.URL, "payout:pb_1", map[string]string{"Folio-Signature": "v1=ab"}, []byte(`{"batch_id":"pb_1"}`))
	if status != http.StatusAccepted || detail != "HTTP 202: queued" {
		t.Errorf("Post = %d %q, want 202 %q", status, detail, "HTTP 202: queued")
	}
	if gotKey != "payout:pb_1" || gotType != "application/json" || gotBody != `{"batch_id":"pb_1"}` || gotSig != "v1=ab" {
		t.Errorf("receiver got key %q, type %q, body %q, signature %q", gotKey, gotType, gotBody, gotSig)
	}
	srv.Close()
	if status, detail := Post(context.Background(), srv.URL, "k", nil, nil); status != 0 || detail == "" {
		t.Errorf("Post to a closed server = %d %q, want 0 and the error", status, detail)
	}
}

// TestEventSenderRefusesInternalAddresses: without the opt-in, the event
// webhook transport does not connect to a loopback receiver (the address
// dialled is checked, so a name resolving there is refused as well), and
// says why; with it, it delivers.
func TestEventSenderRefusesInternalAddresses(t *testing.T) {
	got := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got++
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	for _, url := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
		status, detail := EventSender(false)(context.Background(), url, nil, []byte(`{}`))
		if status != 0 || !strings.Contains(detail, "webhook address refused") || !strings.Contains(detail, "loopback") || !strings.Contains(detail, "--webhook-allow-private") {
			t.Errorf("EventSender(false) to %s = %d %q, want 0 and the loopback refusal", url, status, detail)
		}
	}
	if got != 0 {
		t.Fatalf("the receiver got %d requests through the guard", got)
	}
	if status, detail := EventSender(true)(context.Background(), srv.URL, nil, []byte(`{}`)); status != http.StatusNoContent || got != 1 {
		t.Errorf("EventSender(true) = %d %q (receiver got %d), want 204 delivered", status, detail, got)
	}
}

// TestEventSenderFollowsNoRedirect: a 3xx answer is the attempt's answer
// (a failure for the dispatcher), with its Location; the target of the
// redirect gets nothing. The payout transport keeps following redirects.
func TestEventSenderFollowsNoRedirect(t *testing.T) {
	hits := map[string]int{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits[r.URL.Path]++
		if r.URL.Path == "/hook" {
			http.Redirect(w, r, srv.URL+"/elsewhere", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	status, detail := EventSender(true)(context.Background(), srv.URL+"/hook", nil, []byte(`{}`))
	if status != http.StatusTemporaryRedirect || !strings.Contains(detail, "not followed") || !strings.Contains(detail, "/elsewhere") {
		t.Errorf("EventSender to a redirect = %d %q, want 307 not followed", status, detail)
	}
	if hits["/elsewhere"] != 0 {
		t.Errorf("the redirect was followed: %v", hits)
	}
	if status, _ := Send(context.Background(), srv.URL+"/hook", nil, []byte(`{}`)); status != http.StatusOK || hits["/elsewhere"] != 1 {
		t.Errorf("Send (payouts) to a redirect = %d, hits %v: want it followed, 200", status, hits)
	}
}
