package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/stream"
)

// moneyRequest is an amount in a currency.
type moneyRequest struct {
	Amount   amountText `json:"amount"`
	Currency string     `json:"currency"`
}

// tradeRequest is one trade of POST /v1/trades.
type tradeRequest struct {
	ID             string        `json:"id"`
	UserID         string        `json:"user_id"`
	Market         string        `json:"market"`
	Liquidity      string        `json:"liquidity"`
	Fee            *moneyRequest `json:"fee"`
	Volume         *moneyRequest `json:"volume"`
	CounterpartyID string        `json:"counterparty_id"`
	ExecutedAt     string        `json:"executed_at"`
	Product        string        `json:"product"`
}

// toDomain converts a trade; the affiliate engine validates the rest
// (ids, market, liquidity, amounts against the currency) per trade.
func (q tradeRequest) toDomain() (affiliate.NewTrade, error) {
	t := affiliate.NewTrade{ID: q.ID, UserID: q.UserID, Market: q.Market, Liquidity: q.Liquidity, CounterpartyID: q.CounterpartyID, Product: q.Product}
	if q.Fee != nil {
		t.Fee = &affiliate.Money{Amount: string(q.Fee.Amount), Currency: q.Fee.Currency}
	}
	if q.Volume != nil {
		t.Volume = &affiliate.Money{Amount: string(q.Volume.Amount), Currency: q.Volume.Currency}
	}
	var err error
	t.ExecutedAt, err = optionalTime("executed_at", q.ExecutedAt)
	return t, err
}

// tradesRequest is the body of POST /v1/trades. Each trade is kept raw and
// decoded on its own, so that one malformed trade is rejected alone.
type tradesRequest struct {
	Trades []json.RawMessage `json:"trades"`
}

// tradeResultJSON is one trade's outcome.
type tradeResultJSON struct {
	Index             int        `json:"index"`
	ID                string     `json:"id"`
	Status            string     `json:"status"`
	FeeEntryID        string     `json:"fee_entry_id,omitempty"`
	CommissionEntryID string     `json:"commission_entry_id,omitempty"`
	Error             *itemError `json:"error,omitempty"`
}

// decodeTrade decodes one trade strictly (unknown fields refused, amounts
// as strings) and converts it.
func decodeTrade(raw json.RawMessage) (affiliate.NewTrade, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return affiliate.NewTrade{}, folio.Errorf(folio.EINVALID, "a trade must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var q tradeRequest
	if err := dec.Decode(&q); err != nil {
		return affiliate.NewTrade{}, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return affiliate.NewTrade{}, folio.Errorf(folio.EINVALID, "unexpected data after the trade")
	}
	return q.toDomain()
}

// DecodeTradeMessage is the stream.Decoder of `folio serve --ingest` and
// `folio ingest`: a message of a message bus holds one trade (a JSON
// object), an array of trades or {"trades": [...]}, 1 to
// affiliate.MaxTradesPerBatch trades in the JSON of POST /v1/trades, each
// decoded by the same decodeTrade, so a trade means the same on every
// path. A message that is none of these, or that checkJSON refuses
// (duplicate keys, invalid UTF-8), is an error; a trade that does not
// decode is an item with its error, and the others stand.
func DecodeTradeMessage(msg []byte) ([]stream.Item, error) {
	trimmed := bytes.TrimSpace(msg)
	if len(trimmed) == 0 {
		return nil, folio.Errorf(folio.EINVALID, "the message is empty; send a trade, an array of trades or {\"trades\": [...]}")
	}
	if err := checkJSON(trimmed); err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, decodeError(err)
		}
	case '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return nil, decodeError(err)
		}
		if _, ok := probe["trades"]; ok && len(probe) == 1 {
			var req tradesRequest
			if err := json.Unmarshal(trimmed, &req); err != nil {
				return nil, decodeError(err)
			}
			raws = req.Trades
		} else {
			raws = []json.RawMessage{trimmed}
		}
	default:
		return nil, folio.Errorf(folio.EINVALID, "a message must be a trade (a JSON object), an array of trades or {\"trades\": [...]}")
	}
	if n := len(raws); n == 0 || n > affiliate.MaxTradesPerBatch {
		return nil, folio.Errorf(folio.EINVALID, "a message must hold 1 to %d trades, got %d", affiliate.MaxTradesPerBatch, n)
	}
	items := make([]stream.Item, len(raws))
	for i, raw := range raws {
		t, err := decodeTrade(raw)
		items[i] = stream.Item{ID: t.ID, Raw: raw, Trade: t, Err: err}
		if err != nil {
			items[i].ID = rawTradeID(raw)
		}
	}
	return items, nil
}

// rawTradeID returns the id of a trade that failed decoding, when it has a
// string id, for its result.
func rawTradeID(raw json.RawMessage) string {
	var probe struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &probe) == nil {
		if s, ok := probe.ID.(string); ok {
			return s
		}
	}
	return ""
}

// postTrades: POST /v1/trades books 1 to affiliate.MaxTradesPerBatch
// trades in one transaction → 200 with one result per trade, in order:
// created (with its fee and commission entry ids), exists (a replay with
// the same content: the original entry ids) or rejected (with {code,
// detail}). A trade that does not decode (an unknown field, an amount as a
// number, a wrong type) is rejected alone; the others are booked. The body
// itself must be {"trades": [...]}: anything else, or more than 1000
// trades, is refused as a whole (400).
func (s *Server) postTrades(w http.ResponseWriter, r *http.Request) error {
	var req tradesRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if n := len(req.Trades); n == 0 || n > affiliate.MaxTradesPerBatch {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"trades"},
			Message: fmt.Sprintf("trades must hold 1 to %d trades, got %d; split larger batches", affiliate.MaxTradesPerBatch, n)}
	}
	results := make([]tradeResultJSON, len(req.Trades))
	var valid []affiliate.NewTrade
	var index []int // valid trade → request index
	for i, raw := range req.Trades {
		results[i].Index = i
		t, err := decodeTrade(raw)
		if err != nil {
			results[i].ID, results[i].Status, results[i].Error = rawTradeID(raw), affiliate.TradeRejected, newItemError(err)
			continue
		}
		results[i].ID = t.ID
		valid = append(valid, t)
		index = append(index, i)
	}
	if len(valid) > 0 {
		res, err := s.bookTrades(r.Context(), valid)
		if err != nil {
			return err
		}
		created := 0
		for j, x := range res {
			it := &results[index[j]]
			it.Status, it.FeeEntryID, it.CommissionEntryID = x.Status, x.FeeEntryID, x.CommissionEntryID
			if x.Err != nil {
				it.Status, it.Error = affiliate.TradeRejected, newItemError(x.Err)
				it.FeeEntryID, it.CommissionEntryID = "", ""
			}
			if it.Status == affiliate.TradeCreated {
				created++
			}
		}
		s.metrics.written(2*created, 0)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
	return nil
}

// tradeIDParam returns the route's {id} as a trade id (1 to 128 printable
// ASCII characters; clients percent-encode '/', '?', '#' and '%').
func tradeIDParam(r *http.Request) (string, error) {
	id := pathParam(r, "id")
	if len(id) == 0 || len(id) > 128 {
		return "", folio.Errorf(folio.EINVALID, "trade id must be 1 to 128 printable characters without spaces")
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return "", folio.Errorf(folio.EINVALID, "trade id must be 1 to 128 printable characters without spaces")
		}
	}
	return id, nil
}

// reverseTradeRequest is the (optional, empty) body of POST
// /v1/trades/{id}/reverse.
type reverseTradeRequest struct{}

// reverseTrade: POST /v1/trades/{id}/reverse reverses a busted trade's
// commission and fee entries → 201 {trade_id, fee_reversal_id,
// commission_reversal_id}; a second reversal is 409 already_reversed.
func (s *Server) reverseTrade(w http.ResponseWriter, r *http.Request) error {
	id, err := tradeIDParam(r)
	if err != nil {
		return err
	}
	var req reverseTradeRequest
	if err := s.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	rev, err := s.affiliate.ReverseTrade(r.Context(), id, actor(r))
	if err != nil {
		return err
	}
	s.metrics.written(2, 0)
	writeJSON(w, http.StatusCreated, map[string]string{
		"trade_id": rev.TradeID, "fee_reversal_id": rev.FeeReversalID, "commission_reversal_id": rev.CommissionReversalID})
	return nil
}

// moneyJSON is an amount in a currency.
type moneyJSON struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// tradeJSON is GET /v1/trades/{id}: the trade, how it was split and why,
// its accruals and its journal entries in journal order (fee, commission
// and, once reversed, their reversals).
type tradeJSON struct {
	ID                string            `json:"id"`
	UserID            string            `json:"user_id"`
	Market            string            `json:"market"`
	Liquidity         string            `json:"liquidity"`
	Product           string            `json:"product"`
	Fee               moneyJSON         `json:"fee"`
	FeeComputed       bool              `json:"fee_computed"`
	ExecutedAt        string            `json:"executed_at"`
	RecordedAt        string            `json:"recorded_at"`
	Program           *string           `json:"program"`
	Kind              *string           `json:"kind"`
	Basis             string            `json:"basis"`
	Reason            *string           `json:"reason"`
	Explanation       map[string]any    `json:"explanation"`
	FeeEntryID        string            `json:"fee_entry_id"`
	CommissionEntryID string            `json:"commission_entry_id"`
	Reversed          bool              `json:"reversed"`
	Accruals          []accrualJSON     `json:"accruals"`
	Entries           []entryDetailJSON `json:"entries"`
}

// getTrade: GET /v1/trades/{id}.
func (s *Server) getTrade(w http.ResponseWriter, r *http.Request) error {
	id, err := tradeIDParam(r)
	if err != nil {
		return err
	}
	t, err := s.affiliate.GetTrade(r.Context(), id)
	if err != nil {
		return err
	}
	out := tradeJSON{
		ID: t.ID, UserID: t.UserID, Market: t.Market, Liquidity: t.Liquidity, Product: t.Product,
		Fee:         moneyJSON{Amount: ledger.Format(&t.Fee), Currency: t.FeeCurrency},
		FeeComputed: t.FeeComputed, ExecutedAt: formatTime(t.ExecutedAt), RecordedAt: formatTime(t.RecordedAt),
		Program: optString(t.ProgramID), Kind: optString(t.ProgramKind), Basis: ledger.Format(&t.Basis),
		Explanation: t.Explanation, FeeEntryID: t.FeeEntryID, CommissionEntryID: t.CommissionEntryID, Reversed: t.Reversed,
		Accruals: []accrualJSON{}, Entries: []entryDetailJSON{},
	}
	if out.Explanation == nil {
		out.Explanation = map[string]any{}
	}
	if reason, ok := t.Explanation["reason"].(string); ok {
		out.Reason = &reason
	}
	// Accruals by recording (the trade's, then its reversal's), each by
	// level from the trader up.
	slices.SortStableFunc(t.Accruals, func(a, b affiliate.Accrual) int {
		return cmp.Or(a.RecordedAt.Compare(b.RecordedAt), cmp.Compare(reversalRank(a), reversalRank(b)),
			cmp.Compare(a.Level, b.Level), strings.Compare(a.Beneficiary, b.Beneficiary))
	})
	for i := range t.Accruals {
		out.Accruals = append(out.Accruals, newAccrualJSON(&t.Accruals[i], nil))
	}
	for _, eid := range []string{t.FeeEntryID, t.CommissionEntryID} {
		e, links, err := s.ledger.GetEntry(r.Context(), eid)
		if err != nil {
			return err
		}
		out.Entries = append(out.Entries, newEntryDetail(e, links))
		if links.ReversedBy != "" {
			rev, rlinks, err := s.ledger.GetEntry(r.Context(), links.ReversedBy)
			if err != nil {
				return err
			}
			out.Entries = append(out.Entries, newEntryDetail(rev, rlinks))
		}
	}
	slices.SortFunc(out.Entries, func(a, b entryDetailJSON) int { return cmp.Compare(a.Seq, b.Seq) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// reversalRank orders a trade's accruals before its reversal's.
func reversalRank(a affiliate.Accrual) int {
	if a.Source == "reversal" {
		return 1
	}
	return 0
}

// newEntryDetail describes a posted (never pending) entry with its links.
func newEntryDetail(e *ledger.Entry, links *ledger.EntryLinks) entryDetailJSON {
	out := entryDetailJSON{
		entryJSON:   newEntryJSON(e),
		Status:      entryStatus(e, links, nil),
		Children:    links.Children,
		ReversedBy:  optString(links.ReversedBy),
		CompletedBy: optString(links.CompletedBy),
	}
	if out.Children == nil {
		out.Children = []string{}
	}
	return out
}
