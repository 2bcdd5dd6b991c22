package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/events"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
)

// feedEventJSON is one event of GET /v1/events, of the stream and of a webhook
// delivery: id is stable (de-duplicate by it), cursor resumes after it.
type feedEventJSON struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	At     string `json:"at"`
	Cursor string `json:"cursor"`
	Data   any    `json:"data"`
}

// feedJSON is GET /v1/events: next_cursor is always present (the feed
// has no end; read on from it later), more tells whether more events were
// already there.
type feedJSON struct {
	Events     []feedEventJSON `json:"events"`
	NextCursor string          `json:"next_cursor"`
	More       bool            `json:"more"`
}

// payoutEventJSON is the data of a payout.<state> event: the audit
// record's decision. An affiliate sees only the batch, the state and its
// own lines.
type payoutEventJSON struct {
	BatchID string            `json:"batch_id"`
	State   string            `json:"state"`
	Actor   string            `json:"actor,omitempty"`
	Action  string            `json:"action,omitempty"`
	Before  json.RawMessage   `json:"before,omitempty"`
	After   json.RawMessage   `json:"after,omitempty"`
	Lines   []payoutLineEvent `json:"lines,omitempty"`
}

type payoutLineEvent struct {
	ID       string `json:"id"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Status   string `json:"status"`
}

// eventsQuery reads the query of GET /v1/events and of the stream: after
// (a cursor; "" the beginning), types and limit, and the caller's scope.
func eventsQuery(r *http.Request, q url.Values, after string) (events.Cursor, events.Filter, error) {
	var f events.Filter
	c, err := events.ParseCursor(after)
	if err != nil {
		return c, f, err
	}
	if f.Types, err = events.ParseTypes(q.Get("types")); err != nil {
		return c, f, err
	}
	if p := principalFrom(r.Context()); p.Role == keys.RoleAffiliate {
		if p.Holder == "" {
			return c, f, folio.Errorf(folio.EFORBIDDEN, "an affiliate key without a holder may not read events")
		}
		f.Holder = p.Holder
	}
	return c, f, nil
}

// getEvents: GET /v1/events.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q)
	if err != nil {
		return err
	}
	after, f, err := eventsQuery(r, q, q.Get("after"))
	if err != nil {
		return err
	}
	page, err := s.feed.Read(r.Context(), after, f, limit)
	if err != nil {
		return err
	}
	out := feedJSON{NextCursor: page.Next.String(), More: page.More}
	if out.Events, err = s.renderEvents(r, page.Events); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// renderEvents renders events for the request's caller (masked for an
// affiliate key).
func (s *Server) renderEvents(r *http.Request, evs []events.Event) ([]feedEventJSON, error) {
	var texts, traders []string
	for i := range evs {
		if a := evs[i].Accrual; a != nil {
			texts = append(texts, a.TradeID, a.EventID)
			traders = append(traders, a.TraderID)
		}
	}
	m, err := s.maskFor(r, texts, traders)
	if err != nil {
		return nil, err
	}
	out := make([]feedEventJSON, len(evs))
	for i := range evs {
		out[i] = renderEvent(&evs[i], m, masked(r))
	}
	return out, nil
}

// renderEvent renders one event: an entry as GET /v1/entries/{id} shows its
// recorded content, an accrual as GET /v1/affiliates/{id}/accruals does
// (masked by m), a configuration change as its audit record, a payout
// decision as payoutEventJSON (scoped: the holder's lines only).
func renderEvent(ev *events.Event, m *idMask, scoped bool) feedEventJSON {
	out := feedEventJSON{ID: ev.ID, Type: ev.Type, At: formatTime(ev.At), Cursor: ev.Cursor}
	switch {
	case ev.Entry != nil:
		out.Data = newEntryJSON(ev.Entry)
	case ev.Accrual != nil:
		out.Data = newAccrualJSON(ev.Accrual, m)
	case strings.HasPrefix(ev.Type, "payout."):
		p := payoutEventJSON{BatchID: ev.BatchID(), State: strings.TrimPrefix(ev.Type, "payout.")}
		if scoped {
			p.Lines = []payoutLineEvent{}
			for _, l := range ev.Lines {
				p.Lines = append(p.Lines, payoutLineEvent{ID: l.ID, Currency: l.Currency, Amount: ledger.Format(&l.Amount), Status: l.Status})
			}
		} else {
			p.Actor, p.Action, p.Before, p.After = ev.Audit.Actor, ev.Audit.Action, ev.Audit.Before, ev.Audit.After
		}
		out.Data = p
	case ev.Audit != nil:
		out.Data = ev.Audit
	}
	return out
}

// EventBody is the JSON body of one event as an admin sees it: what a
// webhook delivery carries (events.Dispatcher's Render).
func (s *Server) EventBody(_ context.Context, ev events.Event) ([]byte, error) {
	return json.Marshal(renderEvent(&ev, nil, false))
}
