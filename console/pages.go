package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"
)

// param returns a route parameter, percent-decoded.
func param(r *http.Request, name string) string {
	raw := chi.URLParam(r, name)
	if s, err := url.PathUnescape(raw); err == nil {
		return s
	}
	return raw
}

// home: GET /, who you are and where to go.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "home", "Folio", nil)
}

// journal: GET /journal, entries filtered as GET /v1/entries filters them.
func (c *Console) journal(w http.ResponseWriter, r *http.Request) {
	q := pick(r.URL.Query(), "kind", "account", "batch_id", "from", "to", "from_seq", "to_seq", "cursor", "limit")
	if q.Get("limit") == "" {
		q.Set("limit", "50")
	}
	res, err := c.get(r, "/v1/entries", q)
	data := map[string]any{"Filter": r.URL.Query()}
	if err != nil {
		var p *problem
		if !asProblem(err, &p) || p.Status != http.StatusBadRequest {
			c.fail(w, r, err)
			return
		}
		data["Error"] = p.Detail
	} else {
		data["Entries"] = res["data"]
		data["Next"] = res["next_cursor"]
	}
	c.render(w, r, http.StatusOK, "journal", "Journal", data)
}

// entry: GET /journal/{id}, one entry with its links, metadata and hashes.
func (c *Console) entry(w http.ResponseWriter, r *http.Request) {
	e, err := c.get(r, "/v1/entries/"+url.PathEscape(param(r, "id")), nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	meta := ""
	if m, ok := e["metadata"].(map[string]any); ok && len(m) > 0 {
		b, _ := json.MarshalIndent(m, "", "  ")
		meta = string(b)
	}
	c.render(w, r, http.StatusOK, "entry", "Entry "+str(e["seq"]), map[string]any{"E": e, "Metadata": meta})
}

// verify: GET /verify, the hash chain and balances checked by the API.
func (c *Console) verify(w http.ResponseWriter, r *http.Request) {
	rep, err := c.get(r, "/v1/audit/verify", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var first map[string]any
	for _, p := range listOf(rep["problems"]) {
		m, _ := p.(map[string]any)
		if m == nil || str(m["seq"]) == "" {
			continue
		}
		if first == nil || num(m["seq"]) < num(first["seq"]) {
			first = m
		}
	}
	c.render(w, r, http.StatusOK, "verify", "Verify", map[string]any{"R": rep, "First": first})
}

// chart: GET /accounts, the chart of accounts and every account's balance
// per currency (the trial balance's lines) as of a time.
func (c *Console) chart(w http.ResponseWriter, r *http.Request) {
	chart, err := c.get(r, "/v1/chart", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	tb, err := c.get(r, "/v1/reports/trial-balance", pick(r.URL.Query(), "as_of"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	type code struct {
		Code     map[string]any
		Accounts []map[string]any // trial balance lines, with "currency"
	}
	var codes []*code
	byCode := map[string]*code{}
	for _, x := range listOf(chart["data"]) {
		m, _ := x.(map[string]any)
		cd := &code{Code: m}
		codes = append(codes, cd)
		byCode[str(m["code"])] = cd
	}
	for _, cur := range listOf(tb["currencies"]) {
		cm, _ := cur.(map[string]any)
		for _, a := range listOf(cm["accounts"]) {
			am, _ := a.(map[string]any)
			prefix, _, _ := strings.Cut(str(am["account"]), ":")
			if cd := byCode[prefix]; cd != nil {
				line := map[string]any{"currency": cm["currency"]}
				for k, v := range am {
					line[k] = v
				}
				cd.Accounts = append(cd.Accounts, line)
			}
		}
	}
	for _, cd := range codes {
		sort.SliceStable(cd.Accounts, func(i, j int) bool { return str(cd.Accounts[i]["account"]) < str(cd.Accounts[j]["account"]) })
	}
	c.render(w, r, http.StatusOK, "accounts", "Accounts", map[string]any{"Codes": codes, "Seq": tb["seq"], "AsOf": r.URL.Query().Get("as_of")})
}

// statement: GET /accounts/{account}?from=&to=&as_of=, the statement for a
// period and the balance as of a time.
func (c *Console) statement(w http.ResponseWriter, r *http.Request) {
	acct := param(r, "account")
	base := "/v1/accounts/" + url.PathEscape(acct)
	st, err := c.get(r, base+"/statement", pick(r.URL.Query(), "from", "to"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	bal, err := c.get(r, base+"/balance", pick(r.URL.Query(), "as_of"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "statement", "Statement "+acct, map[string]any{"S": st, "B": bal, "Account": acct,
		"CSV": "/accounts/" + url.PathEscape(acct) + "/statement.csv?" + pick(r.URL.Query(), "from", "to").Encode()})
}

// statementCSV: GET /accounts/{account}/statement.csv, the API's CSV.
func (c *Console) statementCSV(w http.ResponseWriter, r *http.Request) {
	c.passCSV(w, r, "/v1/accounts/"+url.PathEscape(param(r, "account"))+"/statement", "from", "to")
}

// trialBalance: GET /trial-balance?as_of=&currency=.
func (c *Console) trialBalance(w http.ResponseWriter, r *http.Request) {
	tb, err := c.get(r, "/v1/reports/trial-balance", pick(r.URL.Query(), "as_of", "currency"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "trialbalance", "Trial balance", map[string]any{"TB": tb})
}

// reconciliation: GET /reconciliation?from=&to=.
func (c *Console) reconciliation(w http.ResponseWriter, r *http.Request) {
	rec, err := c.get(r, "/v1/reports/reconciliation", pick(r.URL.Query(), "from", "to"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "reconciliation", "Reconciliation", map[string]any{"R": rec, "Rows": reconRows})
}

// reconRows are the roll-forward's lines, in the order they add up.
var reconRows = [][2]string{
	{"fees_booked", "Fees booked"}, {"distributed", "Distributed to affiliates"}, {"platform_revenue", "Platform revenue"},
	{"deferred_residue", "Deferred residue"}, {"accrued_opening", "Accrued, opening"}, {"accrued", "+ Accrued in period"},
	{"bounties", "+ Bounties"}, {"bounty_expense", "Bounty expense"}, {"paid_out", "− Paid out"}, {"forfeited", "− Forfeited"},
	{"reversed", "− Reversed"}, {"adjustments", "± Adjustments"}, {"accrued_closing", "Accrued, closing"},
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func num(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}

func asProblem(err error, p **problem) bool {
	q, ok := err.(*problem)
	if ok {
		*p = q
	}
	return ok
}
