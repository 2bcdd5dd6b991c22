package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
