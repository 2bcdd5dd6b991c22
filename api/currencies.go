package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// currencyJSON is a currency.
type currencyJSON struct {
	ID        string `json:"id"`
	Precision int    `json:"precision"`
	Enabled   bool   `json:"enabled"`
}

// getCurrencies: GET /v1/currencies, in id order; JSON or CSV.
func (s *Server) getCurrencies(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	chart, err := accounts.LoadChart(r.Context(), s.db.Pool)
	if err != nil {
		return err
	}
	out := listJSON[currencyJSON]{Data: []currencyJSON{}}
	for _, c := range chart.Currencies() {
		out.Data = append(out.Data, currencyJSON(c))
	}
	if asCSV {
		return writeItemsCSV(w, r, "currencies.csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// currencyRequest is the body of PUT /v1/currencies/{id}.
type currencyRequest struct {
	Precision *int  `json:"precision"`
	Enabled   *bool `json:"enabled"`
}

// toDomain converts the request for currency id; existing is the stored
// currency, if any: an absent "enabled" keeps its flag (new currencies
// start enabled).
func (q currencyRequest) toDomain(id string, existing *accounts.Currency) (accounts.Currency, error) {
	if q.Precision == nil {
		return accounts.Currency{}, &folio.Error{Code: folio.EINVALID, Fields: []string{"precision"}, Message: "precision is required (0 to 18 decimal places)"}
	}
	c := accounts.Currency{ID: id, Precision: *q.Precision, Enabled: true}
	if existing != nil {
		c.Enabled = existing.Enabled
	}
	if q.Enabled != nil {
		c.Enabled = *q.Enabled
	}
	return c, c.Validate()
}

// putCurrency: PUT /v1/currencies/{id} creates (201) or updates (200) a
// currency; the change is in the audit log with the caller's key.
func (s *Server) putCurrency(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	if !accounts.ValidCurrencyID(id) {
		return folio.Errorf(folio.EINVALID, "currency id %q must be 1 to 16 characters of A-Z and 0-9", truncate(id, 32))
	}
	var req currencyRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if _, err := req.toDomain(id, nil); err != nil {
		return err
	}
	actor, now := principalFrom(r.Context()).ID, s.clock()
	var created bool
	var c accounts.Currency
	err := s.db.Tx(r.Context(), func(tx pgx.Tx) error {
		chart, err := accounts.LoadChart(r.Context(), tx)
		if err != nil {
			return err
		}
		var existing *accounts.Currency
		if old, ok := chart.Currency(id); ok {
			existing = &old
		}
		if c, err = req.toDomain(id, existing); err != nil {
			return err
		}
		created, err = accounts.PutCurrency(r.Context(), tx, c, actor, now, ledger.InUse)
		return err
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, currencyJSON(c))
	return nil
}
