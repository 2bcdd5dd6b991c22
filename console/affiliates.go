package console

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// affiliates: GET /affiliates?user=, a look-up by user id (affiliate keys
// go to their own page).
func (c *Console) affiliates(w http.ResponseWriter, r *http.Request) {
	who := sessionFrom(r).who
	if who.Role == "affiliate" {
		http.Redirect(w, r, "/affiliates/"+url.PathEscape(who.Holder), http.StatusSeeOther)
		return
	}
	if u := strings.TrimSpace(r.URL.Query().Get("user")); u != "" {
		http.Redirect(w, r, "/affiliates/"+url.PathEscape(u), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "affiliates", "Affiliates", nil)
}

// affiliate: GET /affiliates/{id}, a user, the upline chain, the downline
// by level with counts and the direct referees (paginated), and the codes.
// For an affiliate key the API masks other users' ids.
func (c *Console) affiliate(w http.ResponseWriter, r *http.Request) {
	id := url.PathEscape(param(r, "id"))
	user, err := c.get(r, "/v1/users/"+id, nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	chain, err := c.get(r, "/v1/users/"+id+"/chain", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	refs, err := c.get(r, "/v1/affiliates/"+id+"/referees", pick(r.URL.Query(), "cursor"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	codes, err := c.get(r, "/v1/affiliates/"+id+"/codes", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "affiliate", "Affiliate "+param(r, "id"), map[string]any{
		"U": user, "Chain": chain["chain"], "Referees": refs["data"], "Levels": refs["levels"], "Next": refs["next_cursor"],
		"Codes": codes["data"], "Masked": sessionFrom(r).who.Role == "affiliate",
	})
}

// dashboard: GET /affiliates/{id}/dashboard?from=&to=&interval=&group_by=,
// commission over time and by group (GET /v1/affiliates/{id}/stats) and
// the referral list with milestone dates.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request) {
	id := url.PathEscape(param(r, "id"))
	q := pick(r.URL.Query(), "from", "to", "interval", "group_by")
	if q.Get("interval") == "" {
		q.Set("interval", "day")
	}
	if q.Get("group_by") == "" {
		q.Set("group_by", "level")
	}
	st, err := c.get(r, "/v1/affiliates/"+id+"/stats", q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	refs, err := c.get(r, "/v1/affiliates/"+id+"/referrals", pick(r.URL.Query(), "cursor"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "dashboard", "Dashboard "+param(r, "id"), map[string]any{
		"S": st, "Bars": bars(listOf(st["series"]), "start", q.Get("interval")), "GroupBars": bars(listOf(st["groups"]), "key", ""),
		"Referrals": refs["data"], "Next": refs["next_cursor"], "Interval": q.Get("interval"), "GroupBy": q.Get("group_by"),
		"Intervals": []string{"day", "week", "month"}, "Groupings": []string{"level", "market", "code", "program", "currency"},
	})
}

// bar is one bar of an inline SVG chart: its label and the API's amount
// as text, its geometry in whole pixels.
type bar struct {
	Label, Value string
	X, Y, W, H   int
}

// chartHeight is the bars' area in pixels.
const chartHeight = 160

// bars lays out the commissions of points (label from labelKey) as bars
// scaled to the largest; heights are computed with rationals from the
// decimal strings, so no amount passes through a float.
func bars(points []any, labelKey, interval string) []bar {
	var out []bar
	max := new(big.Rat)
	vals := make([]*big.Rat, len(points))
	for i, p := range points {
		m, _ := p.(map[string]any)
		v, ok := new(big.Rat).SetString(str(m["commission"]))
		if !ok || v.Sign() < 0 {
			v = new(big.Rat)
		}
		vals[i] = v
		if v.Cmp(max) > 0 {
			max = v
		}
	}
	width := 36
	for i, p := range points {
		m, _ := p.(map[string]any)
		h := 0
		if max.Sign() > 0 {
			q := new(big.Rat).Mul(vals[i], big.NewRat(chartHeight, 1))
			q.Quo(q, max)
			h = int(new(big.Int).Quo(q.Num(), q.Denom()).Int64())
		}
		label := str(m[labelKey])
		switch {
		case labelKey != "start" || len(label) < 10:
		case interval == "month":
			label = label[:7] // 2026-01
		default:
			label = label[5:10] // 01-02
		}
		out = append(out, bar{Label: label, Value: str(m["commission"]), X: 8 + i*(width+8), Y: 10 + chartHeight - h, W: width, H: h})
	}
	return out
}

// programs: GET /programs, every program.
func (c *Console) programs(w http.ResponseWriter, r *http.Request) {
	if id := strings.TrimSpace(r.URL.Query().Get("new")); id != "" {
		http.Redirect(w, r, "/programs/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	res, err := c.get(r, "/v1/programs", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "programs", "Programs", map[string]any{"Programs": res["data"]})
}

// programForm is the edit form of a program: the common fields, and the
// rest of the specification (tiers, events, payout) as JSON.
type programForm struct {
	ID, Kind, Levels, Rate, MaxLevels, MinPassDown, BaseFeeRate, Currency, Groups, Extra string
	Default                                                                              bool
	Exists                                                                               bool
	Error, Field                                                                         string // the API's refusal and the form field it names
	Saved                                                                                bool
}

// programKinds are the kinds the form offers.
var programKinds = []string{"levels", "differential", "kickback", "table", "bounty"}

// formOf fills the form from a program as GET /v1/programs gives it.
func formOf(p map[string]any) programForm {
	f := programForm{ID: str(p["id"]), Kind: str(p["kind"]), Rate: str(p["rate"]), MaxLevels: str(p["max_levels"]),
		MinPassDown: str(p["min_pass_down"]), BaseFeeRate: str(p["base_fee_rate"]), Currency: str(p["currency"]),
		Default: p["default"] == true, Exists: true}
	var levels, groups []string
	for _, l := range listOf(p["levels"]) {
		levels = append(levels, str(l))
	}
	for _, g := range listOf(p["groups"]) {
		groups = append(groups, str(g))
	}
	f.Levels, f.Groups = strings.Join(levels, ", "), strings.Join(groups, ", ")
	if f.MaxLevels == "0" {
		f.MaxLevels = ""
	}
	extra := map[string]any{}
	for _, k := range []string{"tiers", "events", "payout"} {
		if v, ok := p[k]; ok && v != nil {
			extra[k] = v
		}
	}
	if len(extra) > 0 {
		b, _ := json.MarshalIndent(extra, "", "  ")
		f.Extra = string(b)
	}
	return f
}

// spec builds the PUT /v1/programs/{id} body from the form; a malformed
// field is refused here, naming it, before the API is asked.
func (f *programForm) spec() (map[string]any, string, string) {
	spec := map[string]any{}
	if strings.TrimSpace(f.Extra) != "" {
		d := json.NewDecoder(strings.NewReader(f.Extra))
		d.UseNumber()
		if err := d.Decode(&spec); err != nil {
			return nil, "extra", "other settings must be a JSON object: " + err.Error()
		}
	}
	spec["kind"] = f.Kind
	if f.Default {
		spec["default"] = true
	}
	split := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	if l := split(f.Levels); len(l) > 0 {
		spec["levels"] = l
	}
	if g := split(f.Groups); len(g) > 0 {
		spec["groups"] = g
	}
	for k, v := range map[string]string{"rate": f.Rate, "min_pass_down": f.MinPassDown, "base_fee_rate": f.BaseFeeRate, "currency": f.Currency} {
		if v = strings.TrimSpace(v); v != "" {
			spec[k] = v
		}
	}
	if v := strings.TrimSpace(f.MaxLevels); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "max_levels", "max levels must be a whole number"
		}
		spec["max_levels"] = n
	}
	return spec, "", ""
}

// program: GET /programs/{id}, the edit form (empty for a new id) and the
// program's audit log.
func (c *Console) program(w http.ResponseWriter, r *http.Request) {
	id := param(r, "id")
	res, err := c.get(r, "/v1/programs", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f := programForm{ID: id, Kind: "levels", Saved: r.URL.Query().Get("saved") != ""}
	for _, p := range listOf(res["data"]) {
		if m, _ := p.(map[string]any); str(m["id"]) == id {
			f = formOf(m)
			f.Saved = r.URL.Query().Get("saved") != ""
		}
	}
	c.showProgram(w, r, http.StatusOK, f)
}

// showProgram renders the form f with the program's audit log.
func (c *Console) showProgram(w http.ResponseWriter, r *http.Request, status int, f programForm) {
	q := pick(r.URL.Query(), "cursor")
	q.Set("object", "program:"+f.ID)
	q.Set("limit", "50")
	log, err := c.get(r, "/v1/audit/log", q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, "program", "Program "+f.ID, map[string]any{"F": f, "Kinds": programKinds, "Log": log["data"], "Next": log["next_cursor"]})
}

// putProgram: POST /programs/{id} replaces (or creates) the program; the
// API's refusal is shown next to the field it names and nothing changes.
func (c *Console) putProgram(w http.ResponseWriter, r *http.Request) {
	f := programForm{ID: param(r, "id"), Kind: r.PostFormValue("kind"), Levels: r.PostFormValue("levels"), Rate: r.PostFormValue("rate"),
		MaxLevels: r.PostFormValue("max_levels"), MinPassDown: r.PostFormValue("min_pass_down"), BaseFeeRate: r.PostFormValue("base_fee_rate"),
		Currency: r.PostFormValue("currency"), Groups: r.PostFormValue("groups"), Extra: r.PostFormValue("extra"),
		Default: r.PostFormValue("default") == "yes", Exists: r.PostFormValue("exists") == "yes"}
	spec, field, msg := f.spec()
	if msg != "" {
		f.Field, f.Error = field, msg
		c.showProgram(w, r, http.StatusBadRequest, f)
		return
	}
	if _, err := c.do(r, http.MethodPut, "/v1/programs/"+url.PathEscape(f.ID), nil, spec); err != nil {
		var p *problem
		if asProblem(err, &p) && p.Status == http.StatusBadRequest {
			f.Error, f.Field = p.Detail, formField(p)
			c.showProgram(w, r, http.StatusBadRequest, f)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/programs/"+url.PathEscape(f.ID)+"?saved=1", http.StatusSeeOther)
}

// formFields are the program form's fields that an API error can name.
var formFields = []string{"kind", "levels", "rate", "max_levels", "min_pass_down", "base_fee_rate", "currency", "groups", "default"}

// formField names the form field an API refusal is about: its first
// "fields" entry, else the "name:" or "name[i]:" its detail starts with;
// anything else belongs to the JSON of other settings.
func formField(p *problem) string {
	name := ""
	if len(p.Fields) > 0 {
		name = p.Fields[0]
	} else if i := strings.IndexAny(p.Detail, ":"); i > 0 {
		name = p.Detail[:i]
	}
	if i := strings.IndexAny(name, "[."); i >= 0 {
		name = name[:i]
	}
	for _, f := range formFields {
		if f == name {
			return f
		}
	}
	return "extra"
}
