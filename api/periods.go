package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/periods"
)

// periodEventJSON is one state change of a period.
type periodEventJSON struct {
	Action      string `json:"action"`
	At          string `json:"at"`
	Actor       string `json:"actor"`
	Person      string `json:"person"`
	PersonLabel string `json:"person_label"`
	Reason      string `json:"reason,omitempty"`
}

// periodJSON is an accounting period: its bounds, state and events, and
// the journal cut of its last close (absent when never closed).
type periodJSON struct {
	Period string            `json:"period"`
	From   string            `json:"from"`
	To     string            `json:"to"`
	State  string            `json:"state"`
	Cut    ledger.Cut        `json:"cut,omitempty"`
	Events []periodEventJSON `json:"events"`
}

func newPeriodJSON(p *periods.Period) periodJSON {
	out := periodJSON{Period: p.Month.String(), From: p.Month.From().Format(time.RFC3339), To: p.Month.To().Format(time.RFC3339),
		State: string(p.State), Cut: p.Cut, Events: []periodEventJSON{}}
	for _, e := range p.Events {
		out.Events = append(out.Events, periodEventJSON{Action: e.Action, At: e.At.Format(time.RFC3339Nano), Actor: e.Actor,
			Person: e.Person, PersonLabel: e.Label, Reason: e.Reason})
	}
	return out
}

// periodParam parses the {period} path parameter (YYYY-MM).
func periodParam(r *http.Request) (periods.Month, error) {
	return periods.ParseMonth(chi.URLParam(r, "period"))
}

// periodsActor is the caller as a period decider: its key and person.
func periodsActor(r *http.Request) periods.Actor {
	p := principalFrom(r.Context())
	return periods.Actor{ID: p.ID, Person: p.PersonID, Label: p.Person}
}

// getPeriods: GET /v1/periods — every month from the first period with
// events through the current one, with its state and events.
func (s *Server) getPeriods(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	list, err := s.periods.List(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Data []periodJSON `json:"data"`
	}{Data: []periodJSON{}}
	for _, p := range list {
		out.Data = append(out.Data, newPeriodJSON(p))
	}
	if asCSV {
		return writeItemsCSV(w, r, "periods.csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getPeriod: GET /v1/periods/{period}.
func (s *Server) getPeriod(w http.ResponseWriter, r *http.Request) error {
	m, err := periodParam(r)
	if err != nil {
		return err
	}
	p, err := s.periods.Get(r.Context(), m)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPeriodJSON(p))
	return nil
}

// periodStep runs one close or reopen step with an empty (or absent) body.
func (s *Server) periodStep(w http.ResponseWriter, r *http.Request, fn func(m periods.Month, a periods.Actor) (*periods.Period, error)) error {
	m, err := periodParam(r)
	if err != nil {
		return err
	}
	var empty struct{}
	if err := s.decodeJSON(w, r, &empty, true); err != nil {
		return err
	}
	p, err := fn(m, periodsActor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPeriodJSON(p))
	return nil
}

// closePeriod: POST /v1/periods/{period}/close. On an open period it
// requests the close (state closing); on a closing one, by another
// person, it confirms it (state closed, reconciliation stored).
func (s *Server) closePeriod(w http.ResponseWriter, r *http.Request) error {
	return s.periodStep(w, r, func(m periods.Month, a periods.Actor) (*periods.Period, error) {
		return s.periods.Close(r.Context(), m, a)
	})
}

// confirmClosePeriod: POST /v1/periods/{period}/close/confirm.
func (s *Server) confirmClosePeriod(w http.ResponseWriter, r *http.Request) error {
	return s.periodStep(w, r, func(m periods.Month, a periods.Actor) (*periods.Period, error) {
		return s.periods.ConfirmClose(r.Context(), m, a)
	})
}

// reopenPeriod: POST /v1/periods/{period}/reopen {"reason"}. On a closed
// period it requests the reopen (the reason is required); on a reopening
// one, by another person, it confirms it.
func (s *Server) reopenPeriod(w http.ResponseWriter, r *http.Request) error {
	m, err := periodParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := s.decodeJSON(w, r, &body, true); err != nil {
		return err
	}
	p, err := s.periods.Reopen(r.Context(), m, periodsActor(r), body.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPeriodJSON(p))
	return nil
}

// confirmReopenPeriod: POST /v1/periods/{period}/reopen/confirm.
func (s *Server) confirmReopenPeriod(w http.ResponseWriter, r *http.Request) error {
	return s.periodStep(w, r, func(m periods.Month, a periods.Actor) (*periods.Period, error) {
		return s.periods.ConfirmReopen(r.Context(), m, a)
	})
}

// getPeriodReconciliation: GET /v1/periods/{period}/reconciliation — a
// closed period's stored reconciliation, byte for byte (header
// Folio-Snapshot: stored), or an open period's live one by business time
// with its post-close adjustments (Folio-Snapshot: live).
func (s *Server) getPeriodReconciliation(w http.ResponseWriter, r *http.Request) error {
	m, err := periodParam(r)
	if err != nil {
		return err
	}
	body, stored, err := s.periods.Reconciliation(r.Context(), m)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if stored {
		w.Header().Set("Folio-Snapshot", "stored")
	} else {
		w.Header().Set("Folio-Snapshot", "live")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// getPeriodAdjustments: GET /v1/periods/{period}/adjustments — the
// entries effective in a closed period but recorded after its close, each
// with its original times and the period it is booked in.
func (s *Server) getPeriodAdjustments(w http.ResponseWriter, r *http.Request) error {
	m, err := periodParam(r)
	if err != nil {
		return err
	}
	p, adj, truncated, err := s.periods.Adjustments(r.Context(), m)
	if err != nil {
		return err
	}
	type line struct {
		EntryID     string `json:"entry_id"`
		Shard       int    `json:"shard"`
		Seq         int64  `json:"seq"`
		Kind        string `json:"kind"`
		Description string `json:"description"`
		EffectiveAt string `json:"effective_at"`
		RecordedAt  string `json:"recorded_at"`
		BookedIn    string `json:"booked_in"`
	}
	out := struct {
		Period      string `json:"period"`
		State       string `json:"state"`
		Adjustments []line `json:"adjustments"`
		Truncated   bool   `json:"truncated"`
	}{Period: m.String(), State: string(p.State), Adjustments: []line{}, Truncated: truncated}
	for _, a := range adj {
		e := a.Entry
		out.Adjustments = append(out.Adjustments, line{EntryID: e.ID, Shard: e.Shard, Seq: e.Seq, Kind: e.Kind, Description: e.Description,
			EffectiveAt: e.EffectiveAt.UTC().Format(time.RFC3339Nano), RecordedAt: e.RecordedAt.UTC().Format(time.RFC3339Nano), BookedIn: a.BookedIn.String()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
