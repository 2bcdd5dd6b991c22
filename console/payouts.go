package console

import (
	"net/http"
	"net/url"
	"strings"
)

// payouts: GET /payouts, the batches (paginated) and the build form.
func (c *Console) payouts(w http.ResponseWriter, r *http.Request) {
	c.showPayouts(w, r, http.StatusOK, "")
}

// showPayouts renders the batches with status and an error of the build
// form.
func (c *Console) showPayouts(w http.ResponseWriter, r *http.Request, status int, msg string) {
	q := pick(r.URL.Query(), "cursor", "limit")
	if q.Get("limit") == "" {
		q.Set("limit", "25")
	}
	res, err := c.get(r, "/v1/payouts/batches", q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	progs, err := c.get(r, "/v1/programs", nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, "payouts", "Payouts", map[string]any{
		"Batches": res["data"], "Next": res["next_cursor"], "Programs": progs["data"], "Error": msg,
	})
}

// buildPayout: POST /payouts builds a draft batch of what is payable up to
// the cut-off (optionally one program's) and shows it.
func (c *Console) buildPayout(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{}
	if v := strings.TrimSpace(r.PostFormValue("cutoff")); v != "" {
		body["cutoff"] = v
	}
	if v := strings.TrimSpace(r.PostFormValue("program")); v != "" {
		body["program"] = v
	}
	b, err := c.do(r, http.MethodPost, "/v1/payouts/batches", nil, body)
	if err != nil {
		var p *problem
		if asProblem(err, &p) && p.Status != http.StatusUnauthorized && p.Status != http.StatusForbidden {
			c.showPayouts(w, r, p.Status, p.Detail)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/payouts/"+url.PathEscape(str(b["id"])), http.StatusSeeOther)
}

// payout: GET /payouts/{id}, a batch, its lines and flags, and what the
// signed-in key may do with it.
func (c *Console) payout(w http.ResponseWriter, r *http.Request) {
	c.showPayout(w, r, param(r, "id"), http.StatusOK, "")
}

// showPayout renders batch id with status and the refusal of a decision.
func (c *Console) showPayout(w http.ResponseWriter, r *http.Request, id string, status int, msg string) {
	b, err := c.get(r, "/v1/payouts/batches/"+url.PathEscape(id), nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	who := sessionFrom(r).who
	held := 0
	for _, l := range listOf(b["lines"]) {
		if m, _ := l.(map[string]any); str(m["status"]) == "held" {
			held++
		}
	}
	trail, err := c.get(r, "/v1/audit/log", url.Values{"object": {"payout_batch:" + id}, "limit": {"100"}})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	outbox, err := c.outboxState(r, b, listOf(trail["data"]))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, status, "payout", "Payout batch", map[string]any{
		"B": b, "Held": held, "Builder": sameBuilder(b, who), "Keys": c.keyNotes(r),
		"Trail": trail["data"], "Outbox": outbox,
		"Error": msg, "Done": r.URL.Query().Get("done"),
	})
}

// confirmExecute: GET /payouts/{id}/execute asks before executing.
func (c *Console) confirmExecute(w http.ResponseWriter, r *http.Request) {
	b, err := c.get(r, "/v1/payouts/batches/"+url.PathEscape(param(r, "id")), nil)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "execute", "Execute payout batch", map[string]any{"B": b})
}

// payoutActions maps the console's POST /payouts/{id}/{action} to the API.
var payoutActions = map[string]string{"approve": "approve", "reject": "reject", "execute": "execute",
	"clear-lines": "clear-lines", "reject-lines": "reject-lines"}

// decidePayout: POST /payouts/{id}/{action}; the API enforces the
// four-eyes rule and the batch's state, and its refusal is shown on the
// batch's page.
func (c *Console) decidePayout(w http.ResponseWriter, r *http.Request) {
	id, action := param(r, "id"), param(r, "action")
	api, ok := payoutActions[action]
	if !ok {
		c.refuse(w, r, http.StatusNotFound, "No such payout action.")
		return
	}
	var body any
	switch action {
	case "clear-lines":
		body = map[string]any{"lines": r.PostForm["line"]}
	case "reject-lines":
		body = map[string]any{"lines": r.PostForm["line"], "forfeit": r.PostFormValue("forfeit") == "yes"}
	case "execute":
		if r.PostFormValue("confirm") != "yes" {
			http.Redirect(w, r, "/payouts/"+url.PathEscape(id)+"/execute", http.StatusSeeOther)
			return
		}
	}
	page := "/payouts/" + url.PathEscape(id)
	if _, err := c.do(r, http.MethodPost, "/v1/payouts/batches/"+url.PathEscape(id)+"/"+api, nil, body); err != nil {
		var p *problem
		if asProblem(err, &p) && p.Status != http.StatusUnauthorized {
			c.showPayout(w, r, id, p.Status, p.Detail)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, page+"?done="+url.QueryEscape(action), http.StatusSeeOther)
}

// keyNotes maps key ids to their notes for the review trail, when the
// signed-in role may list keys (admins); otherwise pages show bare ids.
func (c *Console) keyNotes(r *http.Request) map[string]string {
	out := map[string]string{"bootstrap": "FOLIO_ADMIN_KEY"}
	if sessionFrom(r).who.Role != "admin" {
		return out
	}
	res, err := c.get(r, "/v1/keys", nil)
	if err != nil {
		return out
	}
	for _, k := range listOf(res["data"]) {
		if m, _ := k.(map[string]any); str(m["note"]) != "" {
			out[str(m["id"])] = str(m["note"])
		}
	}
	return out
}

// outboxState says where an executed batch's delivery to the exchange's
// payout webhook stands, from what the API shows: the payout entry stays
// pending until the webhook confirms it (posted) or refuses it (voided),
// and each outcome is in the batch's audit trail (payout.outbox.*).
func (c *Console) outboxState(r *http.Request, b map[string]any, trail []any) (string, error) {
	if str(b["status"]) != "executed" {
		return "not executed yet: nothing to deliver", nil
	}
	entry := str(b["entry_id"])
	if entry == "" {
		return "nothing paid (every line held or rejected): nothing to deliver", nil
	}
	last := ""
	for _, a := range trail {
		if m, _ := a.(map[string]any); strings.HasPrefix(str(m["action"]), "payout.outbox.") {
			last = strings.TrimPrefix(str(m["action"]), "payout.outbox.")
		}
	}
	e, err := c.get(r, "/v1/entries/"+url.PathEscape(entry), nil)
	if err != nil {
		var p *problem
		if asProblem(err, &p) && p.Status == http.StatusForbidden {
			return "", nil // the journal is not this role's to read
		}
		return "", err
	}
	switch st := str(e["status"]); {
	case st == "pending":
		return "pending: waiting for the payout webhook to confirm (the payout entry is pending)", nil
	case st == "voided" || last == "refused":
		return "refused by the webhook: the payout entry was voided", nil
	case last == "delivered":
		return "delivered and confirmed: the payout entry is posted", nil
	default:
		return "no webhook configured: paid at execution (the payout entry is " + st + ")", nil
	}
}

// sameBuilder reports whether who counts as the person who built batch b
// (four-eyes compares people: a key minted by the builder's key is the
// builder too); batches built before keys had people compare key ids.
func sameBuilder(b map[string]any, who Identity) bool {
	if p := str(b["created_by_person"]); p != "" && who.PersonID != "" {
		return p == who.PersonID
	}
	return str(b["created_by"]) == who.KeyID
}
