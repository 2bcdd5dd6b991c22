package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts"
)

// payoutBuildRequest is the body of POST /v1/payouts/batches (optional).
type payoutBuildRequest struct {
	Cutoff  string `json:"cutoff"`
	Program string `json:"program"`
}

// payoutLinesRequest is the body of .../reject-lines and .../clear-lines;
// Forfeit is refused by clear-lines.
type payoutLinesRequest struct {
	Lines   []string `json:"lines"`
	Forfeit *bool    `json:"forfeit"`
}

// MaxPayoutLinesPerDecision bounds the lines named by one reject-lines or
// clear-lines request.
const MaxPayoutLinesPerDecision = 1000

// payoutLineJSON is one line of a batch.
type payoutLineJSON struct {
	ID        string         `json:"id"`
	Holder    string         `json:"holder"`
	Currency  string         `json:"currency"`
	Amount    string         `json:"amount"`
	Status    string         `json:"status"`
	Flags     []payouts.Flag `json:"flags"`
	Forfeited bool           `json:"forfeited"`
	DecidedBy *string        `json:"decided_by"`
	EntryID   *string        `json:"entry_id"`
	Accruals  int64          `json:"accruals"`
	// Destination: "201" or "202" when the line credits that account in
	// the journal (the program's payout.destination), null for the default
	// (201 through the transfer API when one is configured).
	Destination *string `json:"destination"`
}

// payoutBatchJSON is a batch (docs/CONTRACT.md §3 shape, plus its review trail). Each
// decision names its key (created_by, approved_by, executed_by), the person
// that key counts as for four-eyes (…_person: the root key of its minting
// lineage, or "bootstrap", "scheduler") and that key's person label.
type payoutBatchJSON struct {
	ID               string           `json:"id"`
	Status           string           `json:"status"`
	CreatedBy        string           `json:"created_by"`
	CreatedByPerson  string           `json:"created_by_person"`
	CreatedByLabel   string           `json:"created_by_person_label"`
	Cutoff           string           `json:"cutoff"`
	CreatedAt        string           `json:"created_at"`
	ApprovedBy       *string          `json:"approved_by"`
	ApprovedByPerson *string          `json:"approved_by_person"`
	ApprovedByLabel  string           `json:"approved_by_person_label"`
	ApprovedAt       *string          `json:"approved_at"`
	ExecutedBy       *string          `json:"executed_by"`
	ExecutedByPerson *string          `json:"executed_by_person"`
	ExecutedByLabel  string           `json:"executed_by_person_label"`
	ExecutedAt       *string          `json:"executed_at"`
	EntryID          *string          `json:"entry_id"`
	Lines            []payoutLineJSON `json:"lines"`
}

func newPayoutBatchJSON(b *payouts.Batch) payoutBatchJSON {
	out := payoutBatchJSON{
		ID:               b.ID,
		Status:           b.Status,
		CreatedBy:        b.CreatedBy,
		CreatedByPerson:  b.CreatedByPerson,
		CreatedByLabel:   b.CreatedByLabel,
		Cutoff:           formatTime(b.Cutoff),
		CreatedAt:        formatTime(b.CreatedAt),
		ApprovedBy:       optString(b.ApprovedBy),
		ApprovedByPerson: optString(b.ApprovedByPerson),
		ApprovedByLabel:  b.ApprovedByLabel,
		ApprovedAt:       optTime(b.ApprovedAt),
		ExecutedBy:       optString(b.ExecutedBy),
		ExecutedByPerson: optString(b.ExecutedByPerson),
		ExecutedByLabel:  b.ExecutedByLabel,
		ExecutedAt:       optTime(b.ExecutedAt),
		EntryID:          optString(b.EntryID),
		Lines:            make([]payoutLineJSON, len(b.Lines)),
	}
	for i := range b.Lines {
		l := &b.Lines[i]
		flags := l.Flags
		if flags == nil {
			flags = []payouts.Flag{}
		}
		out.Lines[i] = payoutLineJSON{ID: l.ID, Holder: l.Holder, Currency: l.Currency, Amount: ledger.Format(&l.Amount), Status: l.Status,
			Flags: flags, Forfeited: l.Forfeited, DecidedBy: optString(l.DecidedBy), EntryID: optString(l.EntryID), Accruals: l.Accruals,
			Destination: optString(l.Destination)}
	}
	return out
}

// batchIDPattern is the form of the ids BuildBatch assigns.
var batchIDPattern = regexp.MustCompile(`^pb_[0-9a-f]{32}$`)

// payoutBatchID returns the route's {id}, or invalid_request.
func payoutBatchID(r *http.Request) (string, error) {
	id := chi.URLParam(r, "id")
	if !batchIDPattern.MatchString(id) {
		return "", &folio.Error{Code: folio.EINVALID, Fields: []string{"id"},
			Message: fmt.Sprintf("payout batch id %q is not of the form pb_ followed by 32 hex digits", truncate(id, 64))}
	}
	return id, nil
}

// postPayoutBatch: POST /v1/payouts/batches. 201 with the new draft batch;
// 200 with the existing one when the same accruals were already batched at
// the same cut-off (the batch id is their hash); 404 not_found when nothing
// is payable.
func (s *Server) postPayoutBatch(w http.ResponseWriter, r *http.Request) error {
	var req payoutBuildRequest
	if err := s.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	opts := payouts.BuildOptions{Program: req.Program}
	var err error
	if opts.Cutoff, err = optionalTime("cutoff", req.Cutoff); err != nil {
		return err
	}
	if req.Program != "" {
		progs, err := s.affiliate.ListPrograms(r.Context())
		if err != nil {
			return err
		}
		found := false
		for _, p := range progs {
			found = found || p.ID == req.Program
		}
		if !found {
			return &folio.Error{Code: folio.ENOTFOUND, Fields: []string{"program"}, Message: fmt.Sprintf("program %q not found", truncate(req.Program, 64))}
		}
	}
	b, created, err := s.payouts.BuildBatchAs(r.Context(), opts, payoutActor(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/payouts/batches/"+b.ID)
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, newPayoutBatchJSON(b))
	return nil
}

// listPayoutBatches: GET /v1/payouts/batches?limit=&cursor=&format=, in
// creation order.
func (s *Server) listPayoutBatches(w http.ResponseWriter, r *http.Request) error {
	q, asCSV, limit, err := listRequest(r)
	if err != nil {
		return err
	}
	afterAt, afterID, err := timeIDCursor(q.Get("cursor"), "payout_batches", batchIDPattern.MatchString)
	if err != nil {
		return err
	}
	bs, err := s.payouts.ListBatches(r.Context(), afterAt, afterID, limit+1)
	if err != nil {
		return err
	}
	out := pageOf(bs, limit, newPayoutBatchJSON, func(last *payouts.Batch) string {
		return encodeCursor("payout_batches", formatTime(last.CreatedAt)+"|"+last.ID)
	})
	if asCSV {
		setNextLink(w, r, out.NextCursor)
		writePayoutLinesCSV(w, "payout-batches.csv", out.Data)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getPayoutBatch: GET /v1/payouts/batches/{id}?format=.
func (s *Server) getPayoutBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := payoutBatchID(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	b, err := s.payouts.GetBatch(r.Context(), id)
	if err != nil {
		return err
	}
	if asCSV {
		writePayoutLinesCSV(w, "payout-batch-"+b.ID+".csv", []payoutBatchJSON{newPayoutBatchJSON(b)})
		return nil
	}
	writeJSON(w, http.StatusOK, newPayoutBatchJSON(b))
	return nil
}

// payoutCSVHeader is the header of batch CSV exports: one row per line,
// with its batch's columns repeated.
var payoutCSVHeader = []string{"batch_id", "batch_status", "created_by", "created_by_person", "created_by_person_label", "cutoff",
	"approved_by", "approved_by_person", "approved_by_person_label", "executed_by", "executed_by_person", "executed_by_person_label", "executed_at", "entry_id",
	"line_id", "holder", "currency", "amount", "line_status", "flags", "forfeited", "decided_by", "line_entry_id", "accruals"}

// writePayoutLinesCSV writes the lines of batches, one row each. Flags are
// "rule: detail" joined by "; ".
func writePayoutLinesCSV(w http.ResponseWriter, filename string, batches []payoutBatchJSON) {
	startCSV(w, filename)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write(payoutCSVHeader)
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, b := range batches {
		for _, l := range b.Lines {
			flags := make([]string, len(l.Flags))
			for i, f := range l.Flags {
				flags[i] = f.Rule + ": " + f.Detail
			}
			_ = cw.Write([]string{b.ID, b.Status, csvText(b.CreatedBy), csvText(b.CreatedByPerson), csvText(b.CreatedByLabel), b.Cutoff,
				csvText(deref(b.ApprovedBy)), csvText(deref(b.ApprovedByPerson)), csvText(b.ApprovedByLabel),
				csvText(deref(b.ExecutedBy)), csvText(deref(b.ExecutedByPerson)), csvText(b.ExecutedByLabel), deref(b.ExecutedAt), deref(b.EntryID),
				l.ID, csvText(l.Holder), l.Currency, l.Amount, l.Status, csvText(strings.Join(flags, "; ")), strconv.FormatBool(l.Forfeited),
				csvText(deref(l.DecidedBy)), deref(l.EntryID), strconv.FormatInt(l.Accruals, 10)})
		}
	}
	cw.Flush()
}

// setNextLink announces the next page of a CSV list, whose body has no room
// for next_cursor, as an RFC 8288 Link header (rel="next").
func setNextLink(w http.ResponseWriter, r *http.Request, cursor string) {
	if cursor == "" {
		return
	}
	q := r.URL.Query()
	q.Set("cursor", cursor)
	next := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	w.Header().Set("Link", "<"+next.String()+`>; rel="next"`)
}

// decideBatch decodes nothing (an empty body or {} is accepted), applies fn
// to the batch {id} and answers the batch.
func (s *Server) decideBatch(w http.ResponseWriter, r *http.Request,
	fn func(id, actor string) (*payouts.Batch, error)) error {
	id, err := payoutBatchID(r)
	if err != nil {
		return err
	}
	var empty struct{}
	if err := s.decodeJSON(w, r, &empty, true); err != nil {
		return err
	}
	b, err := fn(id, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPayoutBatchJSON(b))
	return nil
}

// approvePayoutBatch: POST /v1/payouts/batches/{id}/approve. The approver
// must be another person than the batch's builder (403 forbidden): keys
// minted by the builder's key, directly or not, are the builder.
func (s *Server) approvePayoutBatch(w http.ResponseWriter, r *http.Request) error {
	return s.decideBatch(w, r, func(id, _ string) (*payouts.Batch, error) {
		return s.payouts.ApproveBatchAs(r.Context(), id, payoutActor(r))
	})
}

// payoutActor is the caller as a payout decider: its key and person.
func payoutActor(r *http.Request) payouts.Actor {
	p := principalFrom(r.Context())
	return payouts.Actor{ID: p.ID, Person: p.PersonID, Label: p.Person}
}

// rejectPayoutBatch: POST /v1/payouts/batches/{id}/reject.
func (s *Server) rejectPayoutBatch(w http.ResponseWriter, r *http.Request) error {
	return s.decideBatch(w, r, func(id, actor string) (*payouts.Batch, error) {
		return s.payouts.RejectBatch(r.Context(), id, actor)
	})
}

// decodeLines reads a payoutLinesRequest and checks its line ids.
// batchLines reads the batch id of the path and the lines of the body.
func (s *Server) batchLines(w http.ResponseWriter, r *http.Request) (string, payoutLinesRequest, error) {
	id, err := payoutBatchID(r)
	if err != nil {
		return "", payoutLinesRequest{}, err
	}
	req, err := s.decodeLines(w, r)
	return id, req, err
}

func (s *Server) decodeLines(w http.ResponseWriter, r *http.Request) (payoutLinesRequest, error) {
	var req payoutLinesRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return req, err
	}
	if len(req.Lines) == 0 || len(req.Lines) > MaxPayoutLinesPerDecision {
		return req, &folio.Error{Code: folio.EINVALID, Fields: []string{"lines"},
			Message: fmt.Sprintf("lines must name 1 to %d line ids, got %d", MaxPayoutLinesPerDecision, len(req.Lines))}
	}
	seen := map[string]bool{}
	for i, id := range req.Lines {
		id = strings.ToLower(id)
		if !ledger.ValidUUID(id) {
			return req, &folio.Error{Code: folio.EINVALID, Fields: []string{"lines"}, Message: fmt.Sprintf("lines[%d] %q is not a line id (UUID)", i, truncate(id, 64))}
		}
		if seen[id] {
			return req, &folio.Error{Code: folio.EINVALID, Fields: []string{"lines"}, Message: fmt.Sprintf("lines[%d] %s is named twice", i, id)}
		}
		seen[id] = true
		req.Lines[i] = id
	}
	return req, nil
}

// rejectPayoutLines: POST /v1/payouts/batches/{id}/reject-lines
// {"lines": [...], "forfeit": bool}. With forfeit the amounts move from 208
// to 606; without (the default) their accruals stay payable.
func (s *Server) rejectPayoutLines(w http.ResponseWriter, r *http.Request) error {
	id, req, err := s.batchLines(w, r)
	if err != nil {
		return err
	}
	forfeit := req.Forfeit != nil && *req.Forfeit
	b, err := s.payouts.RejectLines(r.Context(), id, req.Lines, forfeit, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPayoutBatchJSON(b))
	return nil
}

// clearPayoutLines: POST /v1/payouts/batches/{id}/clear-lines {"lines":
// [...]}: held lines become payable (their flags stay on record).
func (s *Server) clearPayoutLines(w http.ResponseWriter, r *http.Request) error {
	id, req, err := s.batchLines(w, r)
	if err != nil {
		return err
	}
	if req.Forfeit != nil {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"forfeit"}, Message: "clear-lines takes no forfeit; reject the lines instead"}
	}
	b, err := s.payouts.ClearLines(r.Context(), id, req.Lines, actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPayoutBatchJSON(b))
	return nil
}

// executePayoutBatch: POST /v1/payouts/batches/{id}/execute. 201 when this
// call executed the batch; 200 with Idempotency-Replayed: true when it was
// already executed (nothing is written again).
func (s *Server) executePayoutBatch(w http.ResponseWriter, r *http.Request) error {
	id, err := payoutBatchID(r)
	if err != nil {
		return err
	}
	var empty struct{}
	if err := s.decodeJSON(w, r, &empty, true); err != nil {
		return err
	}
	b, replayed, err := s.payouts.ExecuteBatchAs(r.Context(), id, payoutActor(r))
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set(headerReplayed, "true")
		writeJSON(w, http.StatusOK, newPayoutBatchJSON(b))
		return nil
	}
	if b.EntryID != "" {
		s.metrics.written(1, 2*countPaid(b))
	}
	writeJSON(w, http.StatusCreated, newPayoutBatchJSON(b))
	return nil
}

// countPaid counts a batch's paid lines (two postings each).
func countPaid(b *payouts.Batch) int {
	n := 0
	for _, l := range b.Lines {
		if l.Status == payouts.LinePaid {
			n++
		}
	}
	return n
}

// getFraudRules: GET /v1/payouts/fraud-rules, the thresholds in force.
func (s *Server) getFraudRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := s.payouts.FraudRules(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rules)
	return nil
}

// putFraudRules: PUT /v1/payouts/fraud-rules. The body replaces the rules;
// a field it leaves out takes its default (DefaultFraudRules).
func (s *Server) putFraudRules(w http.ResponseWriter, r *http.Request) error {
	rules := payouts.DefaultFraudRules()
	if err := s.decodeJSON(w, r, &rules, false); err != nil {
		return err
	}
	if err := s.payouts.PutFraudRules(r.Context(), rules, actor(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rules)
	return nil
}
