package api

import (
	"net/http"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
)

// defaultRateSource names FX rates put without a source.
const defaultRateSource = "manual"

// fxRateRequest is the body of PUT /v1/rates/{base}/{quote}.
type fxRateRequest struct {
	Rate   string `json:"rate"`
	Source string `json:"source"`
	At     string `json:"at"`
}

// fxRateJSON is a recorded FX rate.
type fxRateJSON struct {
	Base   string `json:"base"`
	Quote  string `json:"quote"`
	Source string `json:"source"`
	Rate   string `json:"rate"`
	At     string `json:"at"`
}

// parsePositive parses a positive decimal (FX rates: 1 base = rate quote),
// naming the field.
func parsePositive(field, s string) (apd.Decimal, error) {
	d, err := ledger.ParseAmount(s, accounts.MaxPrecision)
	if err != nil {
		return d, &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: field + ": " + folio.ErrorMessage(err)}
	}
	return d, nil
}

// putFXRate: PUT /v1/rates/{base}/{quote} records the rate of one base in
// quote from a source at a time (default: "manual", now) → 200. History is
// kept: the rate in force at a moment is the average over sources of each
// source's latest rate at or before it; the opposite pair's inverse is
// used when only it is known. Putting the same (source, at) again replaces
// that point (audit-logged with before and after).
func (s *Server) putFXRate(w http.ResponseWriter, r *http.Request) error {
	base, quote := chi.URLParam(r, "base"), chi.URLParam(r, "quote")
	for _, c := range []struct{ field, id string }{{"base", base}, {"quote", quote}} {
		if !accounts.ValidCurrencyID(c.id) {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{c.field}, Message: c.field + " currency must be 1 to 16 characters of A-Z and 0-9"}
		}
	}
	var req fxRateRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	rate, err := parsePositive("rate", req.Rate)
	if err != nil {
		return err
	}
	if req.Source == "" {
		req.Source = defaultRateSource
	}
	at, err := optionalTime("at", req.At)
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = s.clock()
	}
	at = at.UTC().Truncate(time.Microsecond)
	if err := s.affiliate.PutRate(r.Context(), base, quote, req.Source, rate, at, actor(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fxRateJSON{Base: base, Quote: quote, Source: req.Source, Rate: ledger.Format(&rate), At: formatTime(at)})
	return nil
}

// feeRateRequest is the body of PUT /v1/fee-schedule. An empty (or absent)
// group or market is the default row for that dimension.
type feeRateRequest struct {
	Group  string `json:"group"`
	Market string `json:"market"`
	Maker  string `json:"maker"`
	Taker  string `json:"taker"`
}

func (q feeRateRequest) toDomain() (affiliate.FeeRate, error) {
	f := affiliate.FeeRate{Group: q.Group, Market: q.Market}
	var err error
	if f.Maker, err = parseRate("maker", q.Maker); err != nil {
		return f, err
	}
	if f.Taker, err = parseRate("taker", q.Taker); err != nil {
		return f, err
	}
	return f, nil
}

// feeRateJSON is one row of the fee schedule.
type feeRateJSON struct {
	Group  string `json:"group"`
	Market string `json:"market"`
	Maker  string `json:"maker"`
	Taker  string `json:"taker"`
}

// putFeeRate: PUT /v1/fee-schedule {group, market, maker, taker} sets one
// row of the fee schedule → 200 with the row. Trades that carry only a
// volume are priced by the most specific row: (group, market), (group,
// any market), (any group, market), then the default row (both empty).
func (s *Server) putFeeRate(w http.ResponseWriter, r *http.Request) error {
	var req feeRateRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	f, err := req.toDomain()
	if err != nil {
		return err
	}
	if err := s.affiliate.PutFeeRate(r.Context(), f, actor(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, feeRateJSON{Group: f.Group, Market: f.Market, Maker: ledger.Format(&f.Maker), Taker: ledger.Format(&f.Taker)})
	return nil
}
