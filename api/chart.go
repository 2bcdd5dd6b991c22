package api

import (
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// codeJSON is an account code of the chart.
type codeJSON struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	NormalSide  string `json:"normal_side"`
	PerHolder   bool   `json:"per_holder"`
	BalanceRule string `json:"balance_rule"`
	Builtin     bool   `json:"builtin"`
}

func newCodeJSON(c accounts.Code) codeJSON {
	return codeJSON{Code: c.Code, Name: c.Name, Type: string(c.Type), NormalSide: string(c.Normal),
		PerHolder: c.PerHolder, BalanceRule: string(c.Rule), Builtin: c.Builtin}
}

// getChart: GET /v1/chart, every code in code order; JSON or CSV.
func (s *Server) getChart(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	chart, err := accounts.LoadChart(r.Context(), s.db.Pool)
	if err != nil {
		return err
	}
	out := listJSON[codeJSON]{Data: []codeJSON{}}
	for _, c := range chart.Codes() {
		out.Data = append(out.Data, newCodeJSON(c))
	}
	if asCSV {
		return writeItemsCSV(w, r, "chart.csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// codeRequest is the body of POST /v1/chart.
type codeRequest struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	NormalSide  string `json:"normal_side"`
	PerHolder   bool   `json:"per_holder"`
	BalanceRule string `json:"balance_rule"`
}

// toDomain converts and validates the request.
func (q codeRequest) toDomain() (accounts.Code, error) {
	c := accounts.Code{Code: q.Code, Name: q.Name, Type: accounts.Type(q.Type), Normal: accounts.Side(q.NormalSide),
		PerHolder: q.PerHolder, Rule: accounts.Rule(q.BalanceRule)}
	return c, c.Validate()
}

// postChart: POST /v1/chart adds a code (201) or renames it / changes its
// balance rule (200). The change is in the audit log with the caller's key.
func (s *Server) postChart(w http.ResponseWriter, r *http.Request) error {
	var req codeRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	c, err := req.toDomain()
	if err != nil {
		return err
	}
	actor, now := principalFrom(r.Context()).ID, s.clock()
	var created bool
	var stored accounts.Code
	err = s.db.Tx(r.Context(), func(tx pgx.Tx) error {
		var err error
		if created, err = accounts.PutCode(r.Context(), tx, c, actor, now, ledger.InUse); err != nil {
			return err
		}
		chart, err := accounts.LoadChart(r.Context(), tx)
		if err != nil {
			return err
		}
		stored, _ = chart.Code(c.Code)
		return nil
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, newCodeJSON(stored))
	return nil
}
