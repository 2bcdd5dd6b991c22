package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/events"
	"github.com/folioledger/folio/ledger"
)

// webhookJSON is a subscription; Secret only in the creation's answer.
type webhookJSON struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	Types      []string `json:"types"`
	Secret     string   `json:"secret,omitempty"`
	Enabled    bool     `json:"enabled"`
	CreatedBy  string   `json:"created_by"`
	CreatedAt  string   `json:"created_at"`
	DisabledBy *string  `json:"disabled_by"`
	DisabledAt *string  `json:"disabled_at"`
}

func newWebhookJSON(s *events.Subscription) webhookJSON {
	out := webhookJSON{ID: s.ID, URL: s.URL, Types: s.Types, Secret: s.Secret, Enabled: s.DisabledAt == nil, CreatedBy: s.CreatedBy,
		CreatedAt: formatTime(s.CreatedAt), DisabledBy: optString(s.DisabledBy)}
	if out.Types == nil {
		out.Types = []string{}
	}
	if s.DisabledAt != nil {
		out.DisabledAt = optString(formatTime(*s.DisabledAt))
	}
	return out
}

// deliveryJSON is one delivery with its attempt log.
type deliveryJSON struct {
	ID            string        `json:"id"`
	EventID       string        `json:"event_id"`
	EventType     string        `json:"event_type"`
	RedeliveryOf  *string       `json:"redelivery_of"`
	CreatedAt     string        `json:"created_at"`
	Status        string        `json:"status"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt *string       `json:"next_attempt_at"`
	Log           []attemptJSON `json:"log"`
}

type attemptJSON struct {
	N          int    `json:"n"`
	At         string `json:"at"`
	Server     string `json:"server"`
	StatusCode int    `json:"status_code"`
	OK         bool   `json:"ok"`
	Detail     string `json:"detail"`
}

func newDeliveryJSON(d *events.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, RedeliveryOf: optString(d.RedeliveryOf), CreatedAt: formatTime(d.CreatedAt),
		Status: d.Status, Attempts: d.Attempts, Log: []attemptJSON{}}
	if d.Status == events.DeliveryPending {
		out.NextAttemptAt = optString(formatTime(d.NextAttemptAt))
	}
	for _, a := range d.Log {
		out.Log = append(out.Log, attemptJSON{N: a.N, At: formatTime(a.At), Server: a.Server, StatusCode: a.StatusCode, OK: a.OK, Detail: a.Detail})
	}
	return out
}

// webhookRequest is the body of POST /v1/webhooks.
type webhookRequest struct {
	URL    string   `json:"url"`
	Types  []string `json:"types"`
	Secret string   `json:"secret"`
}

// postWebhook: POST /v1/webhooks → 201 with the secret, shown once.
func (s *Server) postWebhook(w http.ResponseWriter, r *http.Request) error {
	var req webhookRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	sub, err := s.webhooks.Create(r.Context(), events.NewSubscription{URL: req.URL, Types: req.Types, Secret: req.Secret}, actor(r))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, newWebhookJSON(sub))
	return nil
}

// getWebhooks: GET /v1/webhooks, without secrets.
func (s *Server) getWebhooks(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	list, err := s.webhooks.List(r.Context())
	if err != nil {
		return err
	}
	out := listJSON[webhookJSON]{Data: []webhookJSON{}}
	for _, sub := range list {
		out.Data = append(out.Data, newWebhookJSON(sub))
	}
	if asCSV {
		return writeItemsCSV(w, r, "webhooks.csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// webhookID returns the route's {id} as a canonical UUID, or invalid_request.
func webhookID(r *http.Request, name string) (string, error) {
	id := strings.ToLower(chi.URLParam(r, name))
	if !ledger.ValidUUID(id) {
		return "", &folio.Error{Code: folio.EINVALID, Fields: []string{name}, Message: name + " " + truncate(id, 64) + " is not a UUID"}
	}
	return id, nil
}

// deleteWebhook: DELETE /v1/webhooks/{id} disables it (its log is kept) → 200.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := webhookID(r, "id")
	if err != nil {
		return err
	}
	sub, err := s.webhooks.Disable(r.Context(), id, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newWebhookJSON(sub))
	return nil
}

// getWebhookDeliveries: GET /v1/webhooks/{id}/deliveries, the delivery log.
func (s *Server) getWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := webhookID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := parseLimit(q)
	if err != nil {
		return err
	}
	var afterAt time.Time
	var afterID string
	if c := q.Get("cursor"); c != "" {
		pos, err := decodeCursor("deliveries", c)
		if err != nil {
			return err
		}
		at, did, _ := strings.Cut(pos, "|")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if terr != nil || !ledger.ValidUUID(did) {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
		}
		afterAt, afterID = t, did
	}
	ds, err := s.webhooks.Deliveries(r.Context(), id, afterAt, afterID, limit+1)
	if err != nil {
		return err
	}
	out := listJSON[deliveryJSON]{Data: []deliveryJSON{}}
	for i, d := range ds {
		if i == limit {
			last := ds[i-1]
			out.NextCursor = encodeCursor("deliveries", last.CreatedAt.Format(time.RFC3339Nano)+"|"+last.ID)
			break
		}
		out.Data = append(out.Data, newDeliveryJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redeliverWebhook: POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver
// → 201 the new delivery (same event id).
func (s *Server) redeliverWebhook(w http.ResponseWriter, r *http.Request) error {
	id, err := webhookID(r, "id")
	if err != nil {
		return err
	}
	delivery, err := webhookID(r, "delivery")
	if err != nil {
		return err
	}
	d, err := s.webhooks.Redeliver(r.Context(), id, delivery, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, newDeliveryJSON(d))
	return nil
}

// Webhooks returns the server's webhook subscriptions, for the dispatcher
// that folio serve runs beside it (events.Dispatcher, Render: EventBody).
func (s *Server) Webhooks() *events.Webhooks { return s.webhooks }
