package api

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// MaxBatchEntries bounds POST /v1/entries/batch.
const MaxBatchEntries = 1000

// Idempotency headers.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotency-Replayed"
)

// postingRequest is one posting of a request.
type postingRequest struct {
	Account string     `json:"account"`
	Side    string     `json:"side"`
	Amount  amountText `json:"amount"`
}

func (p postingRequest) toDomain() ledger.NewPosting {
	return ledger.NewPosting{Account: p.Account, Side: accounts.Side(p.Side), Amount: string(p.Amount)}
}

func postingsToDomain(ps []postingRequest) []ledger.NewPosting {
	out := make([]ledger.NewPosting, len(ps))
	for i, p := range ps {
		out[i] = p.toDomain()
	}
	return out
}

// entryRequest is the body of POST /v1/entries and one item of a batch.
type entryRequest struct {
	IdempotencyKey string           `json:"idempotency_key"`
	Kind           string           `json:"kind"`
	Description    string           `json:"description"`
	EffectiveAt    string           `json:"effective_at"`
	Pending        bool             `json:"pending"`
	ExpiresAt      string           `json:"expires_at"`
	ParentID       string           `json:"parent_id"`
	Metadata       json.RawMessage  `json:"metadata"`
	Postings       []postingRequest `json:"postings"`
}

// toDomain converts the request into a ledger.NewEntry, resolving the
// idempotency key from the body and the header (which must agree when both
// are given; one is required). The ledger validates the rest against the
// chart before writing anything.
func (q entryRequest) toDomain(headerKey string) (ledger.NewEntry, error) {
	key, err := resolveKey(q.IdempotencyKey, headerKey, true)
	if err != nil {
		return ledger.NewEntry{}, err
	}
	e := ledger.NewEntry{
		IdempotencyKey: key,
		Kind:           q.Kind,
		Description:    q.Description,
		Pending:        q.Pending,
		ParentID:       strings.ToLower(q.ParentID),
		Metadata:       q.Metadata,
		Postings:       postingsToDomain(q.Postings),
	}
	if e.EffectiveAt, err = optionalTime("effective_at", q.EffectiveAt); err != nil {
		return ledger.NewEntry{}, err
	}
	if q.ExpiresAt != "" {
		t, err := parseTime("expires_at", q.ExpiresAt)
		if err != nil {
			return ledger.NewEntry{}, err
		}
		e.ExpiresAt = &t
	}
	return e, nil
}

// reservedKeyPrefixes start the idempotency keys that the ledger and the
// affiliate engine give their own entries (a trade's "trade:<id>", a
// keyless reversal's "reversal:<entry>", …); each owner lists its own.
// Clients may not use them: a manual entry under "trade:t-1" would make
// trade t-1 a conflict.
var reservedKeyPrefixes = slices.Concat(ledger.ReservedKeyPrefixes(), affiliate.ReservedKeyPrefixes())

// resolveKey reconciles the idempotency key of the body with the
// Idempotency-Key header, refusing reserved prefixes.
func resolveKey(body, header string, required bool) (string, error) {
	for _, k := range []string{body, header} {
		for _, p := range reservedKeyPrefixes {
			if strings.HasPrefix(k, p) {
				return "", &folio.Error{Code: folio.EINVALID, Fields: []string{"idempotency_key"},
					Message: fmt.Sprintf("idempotency keys starting with %q are reserved for entries Folio writes itself", p)}
			}
		}
	}
	switch {
	case body != "" && header != "" && body != header:
		return "", &folio.Error{Code: folio.EINVALID, Fields: []string{"idempotency_key"},
			Message: "the Idempotency-Key header and the body's idempotency_key differ; send one, or the same in both"}
	case body != "":
		return body, nil
	case header != "":
		return header, nil
	case required:
		return "", &folio.Error{Code: folio.EINVALID, Fields: []string{"idempotency_key"},
			Message: "an idempotency key is required: send the Idempotency-Key header or idempotency_key in the body"}
	}
	return "", nil
}

// postingJSON is a posting in responses.
type postingJSON struct {
	Account      string `json:"account"`
	Side         string `json:"side"`
	Amount       string `json:"amount"`
	BalanceAfter string `json:"balance_after"`
	Pending      bool   `json:"pending"`
}

// entryJSON is an entry as stored: the shape of list items and write results.
type entryJSON struct {
	ID             string          `json:"id"`
	Shard          int             `json:"shard"`
	Seq            int64           `json:"seq"`
	Kind           string          `json:"kind"`
	Description    string          `json:"description"`
	Phase          string          `json:"phase"`
	EffectiveAt    string          `json:"effective_at"`
	RecordedAt     string          `json:"recorded_at"`
	IdempotencyKey string          `json:"idempotency_key"`
	ParentID       *string         `json:"parent_id"`
	Reverses       *string         `json:"reverses"`
	Completes      *string         `json:"completes"`
	ExpiresAt      *string         `json:"expires_at"`
	BatchID        *string         `json:"batch_id"`
	Metadata       json.RawMessage `json:"metadata"`
	Hash           string          `json:"hash"`
	PrevHash       string          `json:"prev_hash"`
	Postings       []postingJSON   `json:"postings"`
}

// entryDetailJSON is GET /v1/entries/{id}: the entry with its status and the
// entries that refer to it.
type entryDetailJSON struct {
	entryJSON
	Status      string   `json:"status"`
	Children    []string `json:"children"`
	ReversedBy  *string  `json:"reversed_by"`
	CompletedBy *string  `json:"completed_by"`
}

// Entry statuses (GET /v1/entries/{id}).
const (
	statusPosted   = "posted"
	statusPending  = "pending"
	statusReversed = "reversed"
	statusVoided   = "voided"
	statusExpired  = "expired"
)

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newEntryJSON(e *ledger.Entry) entryJSON {
	out := entryJSON{
		ID:             e.ID,
		Shard:          e.Shard,
		Seq:            e.Seq,
		Kind:           e.Kind,
		Description:    e.Description,
		Phase:          string(e.Phase),
		EffectiveAt:    formatTime(e.EffectiveAt),
		RecordedAt:     formatTime(e.RecordedAt),
		IdempotencyKey: e.IdempotencyKey,
		ParentID:       optString(e.ParentID),
		Reverses:       optString(e.Reverses),
		Completes:      optString(e.Completes),
		BatchID:        optString(e.BatchID),
		Metadata:       e.Metadata,
		Hash:           hex.EncodeToString(e.Hash),
		PrevHash:       hex.EncodeToString(e.PrevHash),
		Postings:       make([]postingJSON, len(e.Postings)),
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("{}")
	}
	if e.ExpiresAt != nil {
		out.ExpiresAt = optString(formatTime(*e.ExpiresAt))
	}
	for i := range e.Postings {
		p := &e.Postings[i]
		out.Postings[i] = postingJSON{
			Account:      p.Account.String(),
			Side:         string(p.Side),
			Amount:       ledger.Format(&p.Amount),
			BalanceAfter: ledger.Format(&p.BalanceAfter),
			Pending:      p.Pending,
		}
	}
	return out
}

// entryStatus derives an entry's status from its phase and the entries that
// refer to it; completer is the entry that posted or voided a pending one.
func entryStatus(e *ledger.Entry, links *ledger.EntryLinks, completer *ledger.Entry) string {
	if e.Phase == ledger.Pending {
		switch {
		case completer == nil:
			return statusPending
		case completer.Phase == ledger.VoidPending && strings.HasPrefix(completer.IdempotencyKey, ledger.KeyPrefixExpire):
			return statusExpired
		case completer.Phase == ledger.VoidPending:
			return statusVoided
		}
		return statusPosted
	}
	if links.ReversedBy != "" {
		return statusReversed
	}
	return statusPosted
}

// entryID returns the route's {id} as a canonical UUID, or invalid_request.
func entryID(r *http.Request) (string, error) {
	id := strings.ToLower(chi.URLParam(r, "id"))
	if !ledger.ValidUUID(id) {
		return "", folio.Errorf(folio.EINVALID, "entry id %q is not a UUID", truncate(id, 64))
	}
	return id, nil
}

// writeResult answers a single write: the item's error as a problem, 200
// with Idempotency-Replayed on a replay, else 201 with the new entry.
func (s *Server) writeResult(w http.ResponseWriter, res ledger.Result) error {
	if res.Err != nil {
		return res.Err
	}
	w.Header().Set("Location", "/v1/entries/"+res.Entry.ID)
	if res.Replayed {
		w.Header().Set(headerReplayed, "true")
		writeJSON(w, http.StatusOK, newEntryJSON(res.Entry))
		return nil
	}
	s.metrics.written(1, len(res.Entry.Postings))
	writeJSON(w, http.StatusCreated, newEntryJSON(res.Entry))
	return nil
}

// postEntry: POST /v1/entries.
func (s *Server) postEntry(w http.ResponseWriter, r *http.Request) error {
	var req entryRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	ne, err := req.toDomain(r.Header.Get(headerIdempotencyKey))
	if err != nil {
		return err
	}
	res, err := s.bookEntries(r.Context(), []ledger.NewEntry{ne}, false)
	if err != nil {
		return err
	}
	return s.writeResult(w, res[0])
}

// batchRequest is the body of POST /v1/entries/batch.
type batchRequest struct {
	Atomic  bool           `json:"atomic"`
	Entries []entryRequest `json:"entries"`
}

// Batch item statuses.
const (
	itemCreated  = "created"
	itemExists   = "exists"
	itemRejected = "rejected"
)

// itemResult is one item of a batch response.
type itemResult struct {
	Index  int        `json:"index"`
	Status string     `json:"status"`
	Entry  *entryJSON `json:"entry,omitempty"`
	Error  *itemError `json:"error,omitempty"`
}

// postEntryBatch: POST /v1/entries/batch. Items are converted one by one; an
// item that fails conversion is rejected on its own (or, atomic, rejects the
// batch) without reaching the ledger.
func (s *Server) postEntryBatch(w http.ResponseWriter, r *http.Request) error {
	if r.Header.Get(headerIdempotencyKey) != "" {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{headerIdempotencyKey},
			Message: "a batch takes no Idempotency-Key header; give each entry its own idempotency_key"}
	}
	var req batchRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Entries) == 0 || len(req.Entries) > MaxBatchEntries {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"entries"},
			Message: fmt.Sprintf("entries must hold 1 to %d entries, got %d", MaxBatchEntries, len(req.Entries))}
	}
	results := make([]itemResult, len(req.Entries))
	var valid []ledger.NewEntry
	var index []int // ledger item → request index
	failed := false
	for i, q := range req.Entries {
		results[i].Index = i
		ne, err := q.toDomain("")
		if err != nil {
			results[i].Status, results[i].Error = itemRejected, newItemError(err)
			failed = true
			continue
		}
		valid = append(valid, ne)
		index = append(index, i)
	}
	if req.Atomic && failed {
		for i := range results {
			if results[i].Error == nil {
				results[i].Status = itemRejected
				results[i].Error = newItemError(ledger.ErrNotWritten)
			}
		}
		return s.rejectBatch(w, r, results)
	}
	var res []ledger.Result
	if len(valid) > 0 {
		var err error
		res, err = s.bookEntries(r.Context(), valid, req.Atomic)
		if err != nil && res == nil {
			return err
		}
	}
	entries, postings := 0, 0
	for j, x := range res {
		it := &results[index[j]]
		switch {
		case x.Err != nil:
			it.Status, it.Error = itemRejected, newItemError(x.Err)
			failed = true
		case x.Replayed:
			e := newEntryJSON(x.Entry)
			it.Status, it.Entry = itemExists, &e
		default:
			e := newEntryJSON(x.Entry)
			it.Status, it.Entry = itemCreated, &e
			entries++
			postings += len(x.Entry.Postings)
		}
	}
	if req.Atomic && failed {
		return s.rejectBatch(w, r, results)
	}
	s.metrics.written(entries, postings)
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}

// rejectBatch answers a failed atomic batch: 400 invalid_request, nothing
// written, with the per-item results as the problem's "results" member.
func (s *Server) rejectBatch(w http.ResponseWriter, r *http.Request, results []itemResult) error {
	first := -1
	for i, it := range results {
		if it.Error != nil && it.Error.Detail != ledger.ErrNotWritten.Message {
			first = i
			break
		}
	}
	detail := "the atomic batch was rejected; nothing was written"
	if first >= 0 {
		detail = fmt.Sprintf("the atomic batch was rejected because entries[%d] failed (%s: %s); nothing was written",
			first, results[first].Error.Code, results[first].Error.Detail)
	}
	p := newProblem(r, folio.Errorf(folio.EINVALID, "%s", detail))
	p.Results = results
	s.writeProblem(w, p)
	return nil
}

// listEntries: GET /v1/entries?account=&kind=&from=&to=&from_seq=&to_seq=&batch_id=&limit=&cursor=.
func (s *Server) listEntries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	f := ledger.EntryFilter{Kind: q.Get("kind"), BatchID: q.Get("batch_id")}
	if a := q.Get("account"); a != "" {
		k, err := accounts.ParseKey(a)
		if err != nil {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"account"}, Message: "account filter: " + folio.ErrorMessage(err)}
		}
		f.Account = k.String()
	}
	if len(f.Kind) > 32 {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"kind"}, Message: "kind is at most 32 characters"}
	}
	if len(f.BatchID) > ledger.MaxBatchIDLength {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"batch_id"}, Message: fmt.Sprintf("batch_id is at most %d characters", ledger.MaxBatchIDLength)}
	}
	if f.From, err = optionalTime("from", q.Get("from")); err != nil {
		return err
	}
	if f.To, err = optionalTime("to", q.Get("to")); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"from", "to"}, Message: "from must be before to"}
	}
	fromSeq, err := optionalSeq(q, "from_seq")
	if err != nil {
		return err
	}
	if f.ToSeq, err = optionalSeq(q, "to_seq"); err != nil {
		return err
	}
	if fromSeq > 0 && f.ToSeq > 0 && fromSeq > f.ToSeq {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"from_seq", "to_seq"}, Message: "from_seq must not be after to_seq"}
	}
	limit, err := parseLimit(q)
	if err != nil {
		return err
	}
	if c := q.Get("cursor"); c != "" {
		pos, err := decodeCursor("entries", c)
		if err != nil {
			return err
		}
		seq, shard, ok := strings.Cut(pos, ".")
		var err1, err2 error
		f.AfterSeq, err1 = strconv.ParseInt(seq, 10, 64)
		f.AfterShard, err2 = strconv.Atoi(shard)
		if !ok || err1 != nil || err2 != nil || f.AfterSeq < 1 || f.AfterShard < 0 {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
		}
	}
	if fromSeq-1 > f.AfterSeq {
		f.AfterSeq, f.AfterShard = fromSeq-1, ledger.MaxShards
	}
	f.Limit = limit + 1
	es, err := s.ledger.ListEntries(r.Context(), f)
	if err != nil {
		return err
	}
	out := pageOf(es, limit, newEntryJSON, func(last *ledger.Entry) string {
		return encodeCursor("entries", strconv.FormatInt(last.Seq, 10)+"."+strconv.Itoa(last.Shard))
	})
	if asCSV {
		var rows [][]string
		for _, e := range out.Data {
			rows = append(rows, entryCSVRows(e)...)
		}
		writeListCSV(w, r, "entries.csv", entriesCSVHeader, rows, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// optionalSeq reads a positive journal seq from the query (0 when absent).
func optionalSeq(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	seq, err := strconv.ParseInt(v, 10, 64)
	if err != nil || seq < 1 {
		return 0, &folio.Error{Code: folio.EINVALID, Fields: []string{name}, Message: fmt.Sprintf("%s %q must be a positive integer", name, truncate(v, 32))}
	}
	return seq, nil
}

// listJSON is a page of a list (docs/CONTRACT.md §5): next_cursor is absent at the end.
type listJSON[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageOf is the page of a list route whose store was asked for limit+1
// items: the first limit of them as JSON and, when there was one more, the
// cursor after the last item kept.
func pageOf[S, T any](items []S, limit int, toJSON func(S) T, cursor func(last S) string) listJSON[T] {
	out := listJSON[T]{Data: make([]T, 0, min(len(items), limit))}
	for i, x := range items {
		if i == limit {
			out.NextCursor = cursor(items[i-1])
			break
		}
		out.Data = append(out.Data, toJSON(x))
	}
	return out
}

// getEntry: GET /v1/entries/{id}.
func (s *Server) getEntry(w http.ResponseWriter, r *http.Request) error {
	id, err := entryID(r)
	if err != nil {
		return err
	}
	e, links, err := s.ledger.GetEntry(r.Context(), id)
	if err != nil {
		return err
	}
	var completer *ledger.Entry
	if links.CompletedBy != "" {
		if completer, _, err = s.ledger.GetEntry(r.Context(), links.CompletedBy); err != nil {
			return err
		}
	}
	out := entryDetailJSON{
		entryJSON:   newEntryJSON(e),
		Status:      entryStatus(e, links, completer),
		Children:    links.Children,
		ReversedBy:  optString(links.ReversedBy),
		CompletedBy: optString(links.CompletedBy),
	}
	if out.Children == nil {
		out.Children = []string{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// reverseRequest is the body of POST /v1/entries/{id}/reverse.
type reverseRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
	Description    string `json:"description"`
	EffectiveAt    string `json:"effective_at"`
}

func (q reverseRequest) toDomain(id, headerKey string) (ledger.Op, error) {
	key, err := resolveKey(q.IdempotencyKey, headerKey, false)
	if err != nil {
		return ledger.Op{}, err
	}
	at, err := optionalTime("effective_at", q.EffectiveAt)
	if err != nil {
		return ledger.Op{}, err
	}
	return ledger.Op{Reverse: &ledger.ReverseOp{EntryID: id, IdempotencyKey: key, Description: q.Description, EffectiveAt: at}}, nil
}

// postRequest is the body of POST /v1/entries/{id}/post.
type postRequest struct {
	IdempotencyKey string           `json:"idempotency_key"`
	Postings       []postingRequest `json:"postings"`
}

func (q postRequest) toDomain(id, headerKey string) (ledger.Op, error) {
	key, err := resolveKey(q.IdempotencyKey, headerKey, false)
	if err != nil {
		return ledger.Op{}, err
	}
	op := &ledger.PostOp{EntryID: id, IdempotencyKey: key}
	if len(q.Postings) > 0 {
		op.Postings = postingsToDomain(q.Postings)
	}
	return ledger.Op{Post: op}, nil
}

// voidRequest is the body of POST /v1/entries/{id}/void.
type voidRequest struct {
	IdempotencyKey string `json:"idempotency_key"`
}

func (q voidRequest) toDomain(id, headerKey string) (ledger.Op, error) {
	key, err := resolveKey(q.IdempotencyKey, headerKey, false)
	if err != nil {
		return ledger.Op{}, err
	}
	return ledger.Op{Void: &ledger.VoidOp{EntryID: id, IdempotencyKey: key}}, nil
}

// applyOne decodes an operation on the entry {id}, applies it and answers.
func applyOne[T interface {
	toDomain(id, headerKey string) (ledger.Op, error)
}](s *Server, w http.ResponseWriter, r *http.Request) error {
	id, err := entryID(r)
	if err != nil {
		return err
	}
	var req T
	if err := s.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	op, err := req.toDomain(id, r.Header.Get(headerIdempotencyKey))
	if err != nil {
		return err
	}
	res, err := s.ledger.Apply(r.Context(), []ledger.Op{op}, ledger.Options{})
	if err != nil {
		return err
	}
	return s.writeResult(w, res[0])
}

// reverseEntry: POST /v1/entries/{id}/reverse.
func (s *Server) reverseEntry(w http.ResponseWriter, r *http.Request) error {
	return applyOne[reverseRequest](s, w, r)
}

// postPending: POST /v1/entries/{id}/post.
func (s *Server) postPending(w http.ResponseWriter, r *http.Request) error {
	return applyOne[postRequest](s, w, r)
}

// voidPending: POST /v1/entries/{id}/void.
func (s *Server) voidPending(w http.ResponseWriter, r *http.Request) error {
	return applyOne[voidRequest](s, w, r)
}
