package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
)

// TestEndToEnd walks the happy paths an integrator takes first.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	admin := bootstrapKey

	// Currencies: created, then unchanged (200), listed.
	e.must(http.StatusCreated, req{Method: "PUT", Path: "/v1/currencies/USD", Key: admin, Body: map[string]any{"precision": 2}})
	cur := e.must(http.StatusOK, req{Method: "PUT", Path: "/v1/currencies/USD", Key: admin, Body: map[string]any{"precision": 2}}).JSON(t)
	if cur["id"] != "USD" || cur["precision"] != 2.0 || cur["enabled"] != true {
		t.Fatalf("PUT currency = %v", cur)
	}
	var curs listJSON[currencyJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/currencies", Key: admin}).Decode(t, &curs)
	if len(curs.Data) != 1 || curs.Data[0] != (currencyJSON{ID: "USD", Precision: 2, Enabled: true}) {
		t.Fatalf("GET /v1/currencies = %+v", curs)
	}

	// Chart: a new code (201), renamed (200), listed.
	code := map[string]any{"code": "310", "name": "Owner equity", "type": "equity", "normal_side": "credit"}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/chart", Key: admin, Body: code})
	code["name"] = "Owner's equity"
	if got := e.must(http.StatusOK, req{Method: "POST", Path: "/v1/chart", Key: admin, Body: code}).JSON(t); got["name"] != "Owner's equity" || got["builtin"] != false {
		t.Fatalf("POST /v1/chart rename = %v", got)
	}
	var chart listJSON[codeJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/chart", Key: admin}).Decode(t, &chart)
	if len(chart.Data) != len(accounts.Builtin())+1 || chart.Data[0].Code != "101" || !chart.Data[0].Builtin {
		t.Fatalf("GET /v1/chart has %d codes, first %+v", len(chart.Data), chart.Data[0])
	}

	// Post with the header key; replay; the replay changes nothing.
	body := entryBody("", posting("110:USD", "debit", "100.50"), posting("310:USD", "credit", "100.50"))
	body["description"] = "Capital"
	first := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries", Key: admin, Body: body, Header: map[string]string{"Idempotency-Key": "cap-1"}})
	var entry entryJSON
	first.Decode(t, &entry)
	if entry.Seq != 1 || entry.IdempotencyKey != "cap-1" || entry.Phase != "posted" || entry.Postings[0].Amount != "100.5" ||
		entry.PrevHash != strings.Repeat("0", 64) || len(entry.Hash) != 64 || entry.RecordedAt != "2026-01-10T12:00:00Z" {
		t.Fatalf("POST /v1/entries = %s", first.Body)
	}
	if loc := first.Header.Get("Location"); loc != "/v1/entries/"+entry.ID {
		t.Errorf("Location = %q", loc)
	}
	replay := e.must(http.StatusOK, req{Method: "POST", Path: "/v1/entries", Key: admin, Body: body, Header: map[string]string{"Idempotency-Key": "cap-1"}})
	var again entryJSON
	replay.Decode(t, &again)
	if replay.Header.Get("Idempotency-Replayed") != "true" || again.ID != entry.ID {
		t.Fatalf("replay = %s (Idempotency-Replayed %q), want entry %s", replay.Body, replay.Header.Get("Idempotency-Replayed"), entry.ID)
	}
	// The same key in header and body is fine.
	body["idempotency_key"] = "cap-1"
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/entries", Key: admin, Body: body, Header: map[string]string{"Idempotency-Key": "cap-1"}})
	// A conflicting replay names the differing fields.
	body["description"] = "Something else"
	conflict := e.must(http.StatusConflict, req{Method: "POST", Path: "/v1/entries", Key: admin, Body: body})
	var p problem
	conflict.Decode(t, &p)
	if p.Code != folio.EIDEMPOTENCY || len(p.Fields) != 1 || p.Fields[0] != "description" {
		t.Fatalf("conflict = %s, want idempotency_conflict on description", conflict.Body)
	}

	// Four more entries, an hour apart.
	var ids []string
	asOf := ""
	for i := 2; i <= 5; i++ {
		e.clock.Advance(time.Hour)
		if i == 4 {
			asOf = e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
		}
		out := e.post(entryBody(fmt.Sprintf("pay-%d", i), posting("201:USD:alice", "credit", fmt.Sprintf("%d.25", i)), posting("110:USD", "debit", fmt.Sprintf("%d.25", i))))
		ids = append(ids, out["id"].(string))
	}

	// Get an entry: status, links, postings.
	var detail entryDetailJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + entry.ID, Key: admin}).Decode(t, &detail)
	if detail.Status != statusPosted || detail.Children == nil || detail.ReversedBy != nil || len(detail.Postings) != 2 ||
		detail.Postings[1].BalanceAfter != "100.5" || detail.Description != "Capital" {
		t.Fatalf("GET entry = %+v", detail)
	}
	// Upper-case UUIDs are accepted.
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + strings.ToUpper(entry.ID), Key: admin})

	// List with pagination: the cursor walks every entry once, in seq order.
	var seqs []int64
	cursor, pages := "", 0
	for {
		path := "/v1/entries?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		res := e.must(http.StatusOK, req{Method: "GET", Path: path, Key: admin})
		var page listJSON[entryJSON]
		res.Decode(t, &page)
		for _, x := range page.Data {
			seqs = append(seqs, x.Seq)
		}
		pages++
		if page.NextCursor == "" {
			if strings.Contains(string(res.Body), "next_cursor") {
				t.Errorf("the last page has a next_cursor member: %s", res.Body)
			}
			break
		}
		cursor = page.NextCursor
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5]" || pages != 3 {
		t.Fatalf("paginated seqs = %v in %d pages, want [1 2 3 4 5] in 3", seqs, pages)
	}
	var filtered listJSON[entryJSON]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries?account=201:USD:alice&from=2026-01-10T14:00:00Z", Key: admin}).Decode(t, &filtered)
	if len(filtered.Data) != 3 || filtered.Data[0].Seq != 3 {
		t.Fatalf("filtered list = %+v", filtered.Data)
	}

	// Reverse; the original shows the link; a second reversal is refused.
	var rev entryJSON
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries/" + ids[0] + "/reverse", Key: admin, Body: map[string]any{"description": "Wrong amount"}}).Decode(t, &rev)
	if rev.Kind != "reversal" || rev.Reverses == nil || *rev.Reverses != ids[0] || rev.Postings[0].Side != "debit" {
		t.Fatalf("reversal = %+v", rev)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + ids[0], Key: admin}).Decode(t, &detail)
	if detail.Status != statusReversed || detail.ReversedBy == nil || *detail.ReversedBy != rev.ID {
		t.Fatalf("reversed entry = %+v", detail)
	}

	// Balances: now, by seq, by time, and a never-posted account.
	bal := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance", Key: admin}).JSON(t)
	want := map[string]any{"account": "201:USD:alice", "currency": "USD", "debits": "2.25", "credits": "15", "balance": "12.75",
		"pending": "0", "available": "12.75", "seq": 6.0}
	if fmt.Sprint(bal) != fmt.Sprint(want) {
		t.Fatalf("balance = %v, want %v", bal, want)
	}
	if b := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance?as_of_seq=3", Key: admin}).JSON(t); b["balance"] != "5.5" || b["seq"] != 3.0 {
		t.Fatalf("balance as of seq 3 = %v, want 5.5", b)
	}
	if b := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance?as_of=" + url.QueryEscape(asOf), Key: admin}).JSON(t); b["balance"] != "5.5" {
		t.Fatalf("balance as of %s = %v, want 5.5", asOf, b)
	}
	if b := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:zed/balance", Key: admin}).JSON(t); b["balance"] != "0" || b["debits"] != "0" || b["seq"] != 0.0 {
		t.Fatalf("never-posted balance = %v", b)
	}

	// Trial balance: balanced, JSON and CSV.
	var tb trialBalanceJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/reports/trial-balance", Key: admin}).Decode(t, &tb)
	if tb.Seq != 6 || len(tb.Currencies) != 1 || !tb.Currencies[0].Balanced || tb.Currencies[0].TotalDebits != "117.75" || len(tb.Currencies[0].Accounts) != 3 {
		t.Fatalf("trial balance = %+v", tb)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/reports/trial-balance?as_of_seq=1&currency=USD", Key: admin}).Decode(t, &tb)
	if tb.Seq != 1 || tb.Currencies[0].TotalDebits != "100.5" {
		t.Fatalf("trial balance as of seq 1 = %+v", tb)
	}
	csvRes := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/reports/trial-balance", Key: admin, Header: map[string]string{"Accept": "text/csv"}})
	rows, err := csv.NewReader(strings.NewReader(string(csvRes.Body))).ReadAll()
	if err != nil || len(rows) != 5 || rows[4][1] != "Total" || rows[4][5] != "balanced" {
		t.Fatalf("trial balance CSV = %q, %v", rows, err)
	}

	// Verify.
	var rep ledger.Report
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: admin}).Decode(t, &rep)
	if !rep.OK || rep.EntriesChecked != 6 || rep.AccountsChecked != 3 || rep.Problems == nil {
		t.Fatalf("verify = %+v", rep)
	}

	// Keys: create, use, list (no secrets), revoke, refused.
	created := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/keys", Key: admin, Body: map[string]any{"role": "auditor", "note": "accounting"}})
	var k keyJSON
	created.Decode(t, &k)
	if !strings.HasPrefix(k.Key, keys.Prefix) || len(k.Key) != len(keys.Prefix)+52 || k.Role != "auditor" || k.Note != "accounting" || k.RevokedAt != nil {
		t.Fatalf("POST /v1/keys = %s", created.Body)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/verify", Key: k.Key})
	e.must(http.StatusForbidden, req{Method: "GET", Path: "/v1/keys", Key: k.Key})
	listed := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/keys", Key: admin})
	if strings.Contains(string(listed.Body), k.Key) || strings.Contains(string(listed.Body), `"key"`) || strings.Contains(string(listed.Body), "hash") {
		t.Fatalf("GET /v1/keys shows key material: %s", listed.Body)
	}
	var keys listJSON[keyJSON]
	listed.Decode(t, &keys)
	if len(keys.Data) != 1 || keys.Data[0].ID != k.ID {
		t.Fatalf("GET /v1/keys = %s", listed.Body)
	}
	e.clock.Advance(time.Minute)
	e.must(http.StatusNoContent, req{Method: "DELETE", Path: "/v1/keys/" + k.ID, Key: admin})
	e.must(http.StatusNoContent, req{Method: "DELETE", Path: "/v1/keys/" + k.ID, Key: admin}) // idempotent
	if res := e.must(http.StatusUnauthorized, req{Method: "GET", Path: "/v1/audit/verify", Key: k.Key}); problemCode(t, res) != folio.EUNAUTHORIZED {
		t.Fatalf("revoked key: %s", res.Body)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/keys", Key: admin}).Decode(t, &keys)
	if keys.Data[0].RevokedAt == nil {
		t.Fatalf("revoked key listed as %+v", keys.Data[0])
	}

	// The audit log has the configuration changes with their actors, and
	// pages through them.
	var log listJSON[map[string]any]
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=currency:USD", Key: admin}).Decode(t, &log)
	if len(log.Data) != 1 || log.Data[0]["actor"] != actorBootstrap || log.Data[0]["action"] != "currency.put" {
		t.Fatalf("audit log for USD = %+v", log.Data)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=key:" + k.ID, Key: admin}).Decode(t, &log)
	if len(log.Data) != 2 || log.Data[0]["action"] != "key.create" || log.Data[1]["action"] != "key.revoke" || log.Data[1]["actor"] != actorBootstrap {
		t.Fatalf("audit log for the key = %+v", log.Data)
	}
	if b, _ := json.Marshal(log.Data); strings.Contains(string(b), k.Key) {
		t.Fatalf("the audit log holds the key's secret: %s", b)
	}
	var actions []string
	cursor = ""
	for range 10 {
		path := "/v1/audit/log?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		log = listJSON[map[string]any]{}
		e.must(http.StatusOK, req{Method: "GET", Path: path, Key: admin}).Decode(t, &log)
		for _, r := range log.Data {
			actions = append(actions, r["action"].(string))
		}
		if cursor = log.NextCursor; cursor == "" {
			break
		}
	}
	// Records of the same instant are in id order: compare as a set.
	slices.Sort(actions)
	if got := strings.Join(actions, ","); got != "chart.put,chart.put,currency.put,key.create,key.revoke" {
		t.Fatalf("audit log actions = %s", got)
	}
}

// TestPendingLifecycle posts pending entries, then posts one partially,
// voids one and lets one expire through RunExpiry.
func TestPendingLifecycle(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	pending := func(key string, expires string) string {
		b := entryBody(key, posting("110:USD", "debit", "10"), posting("201:USD:alice", "credit", "10"))
		b["pending"] = true
		if expires != "" {
			b["expires_at"] = expires
		}
		out := e.post(b)
		if out["phase"] != "pending" || out["postings"].([]any)[0].(map[string]any)["pending"] != true {
			t.Fatalf("pending entry = %v", out)
		}
		return out["id"].(string)
	}
	a, b, c := pending("p-a", ""), pending("p-b", ""), pending("p-c", "2026-01-10T13:00:00Z")
	if bal := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance", Key: bootstrapKey}).JSON(t); bal["balance"] != "0" || bal["pending"] != "0" {
		t.Fatalf("balance with pending credits = %v", bal)
	}
	if bal := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/110:USD/balance", Key: bootstrapKey}).JSON(t); bal["pending"] != "0" || bal["available"] != "0" {
		t.Fatalf("110 with pending debits = %v", bal)
	}

	post := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries/" + a + "/post", Key: bootstrapKey,
		Body: map[string]any{"idempotency_key": "post-a", "postings": []any{posting("110:USD", "debit", "4"), posting("201:USD:alice", "credit", "4")}}}).JSON(t)
	if post["phase"] != "post_pending" || post["completes"] != a {
		t.Fatalf("post = %v", post)
	}
	replay := e.must(http.StatusOK, req{Method: "POST", Path: "/v1/entries/" + a + "/post", Key: bootstrapKey,
		Body: map[string]any{"postings": []any{posting("110:USD", "debit", "4"), posting("201:USD:alice", "credit", "4")}}, Header: map[string]string{"Idempotency-Key": "post-a"}})
	if replay.Header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("post replay headers = %v", replay.Header)
	}
	e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/entries/" + b + "/void", Key: bootstrapKey})

	e.clock.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.srv.RunExpiry(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var d entryDetailJSON
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + c, Key: bootstrapKey}).Decode(t, &d)
		if d.Status == statusExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending entry with an expiry is %s after RunExpiry", d.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done

	for id, want := range map[string]string{a: statusPosted, b: statusVoided, c: statusExpired} {
		var d entryDetailJSON
		e.must(http.StatusOK, req{Method: "GET", Path: "/v1/entries/" + id, Key: bootstrapKey}).Decode(t, &d)
		if d.Status != want || d.CompletedBy == nil {
			t.Errorf("entry %s status = %s (completed_by %v), want %s", id, d.Status, d.CompletedBy, want)
		}
	}
	if bal := e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance", Key: bootstrapKey}).JSON(t); bal["balance"] != "4" || bal["pending"] != "0" {
		t.Fatalf("balance after post, void and expiry = %v", bal)
	}
}

// TestBatch posts a non-atomic batch with a created, a replayed and a
// rejected item, then an atomic batch that fails and writes nothing.
func TestBatch(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.post(entryBody("b-0", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))
	var out struct {
		Results []itemResult `json:"results"`
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/entries/batch", Key: bootstrapKey, Body: map[string]any{"entries": []any{
		entryBody("b-1", posting("110:USD", "debit", "2"), posting("201:USD:bob", "credit", "2")),
		entryBody("b-0", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")),
		entryBody("b-2", posting("110:USD", "debit", "2"), posting("201:USD:bob", "credit", "3")),
		func() map[string]any {
			b := entryBody("b-3", posting("110:USD", "debit", "2"), posting("201:USD:bob", "credit", "2"))
			b["effective_at"] = "soon"
			return b
		}(),
	}}}).Decode(t, &out)
	got := ""
	for _, r := range out.Results {
		got += fmt.Sprintf("%d:%s", r.Index, r.Status)
		if r.Error != nil {
			got += ":" + r.Error.Code
		}
		got += " "
	}
	if got != "0:created 1:exists 2:rejected:unbalanced_entry 3:rejected:invalid_request " {
		t.Fatalf("batch results = %s", got)
	}
	if out.Results[0].Entry == nil || out.Results[0].Entry.Seq != 2 {
		t.Fatalf("created item = %+v", out.Results[0])
	}

	before := e.snapshot()
	res := e.must(http.StatusBadRequest, req{Method: "POST", Path: "/v1/entries/batch", Key: bootstrapKey, Body: map[string]any{"atomic": true, "entries": []any{
		entryBody("a-1", posting("110:USD", "debit", "2"), posting("201:USD:bob", "credit", "2")),
		entryBody("a-2", posting("110:USD", "debit", "2"), posting("999:USD", "credit", "2")),
	}}})
	var p problem
	res.Decode(t, &p)
	if p.Code != folio.EINVALID || len(p.Results) != 2 || p.Results[1].Error.Code != folio.EACCOUNT || p.Results[0].Status != itemRejected ||
		!strings.Contains(p.Detail, "entries[1]") {
		t.Fatalf("atomic batch = %s", res.Body)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("the rejected atomic batch wrote: %s → %s", before, after)
	}
}

// TestStatementCSV posts entries around a period and parses the statement
// CSV back: header, opening row, one row per posting, closing row, and
// closing = opening + the sum of the rows.
func TestStatementCSV(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	post := func(key, effective, desc, side, amount string) {
		other := "debit"
		if side == "debit" {
			other = "credit"
		}
		b := entryBody(key, posting("201:USD:alice", side, amount), posting("110:USD", other, amount))
		b["effective_at"], b["description"] = effective, desc
		e.post(b)
	}
	post("s-1", "2026-01-02T00:00:00Z", "Before the period", "credit", "50")
	post("s-2", "2026-01-05T10:00:00Z", `Deposit, "first"`, "credit", "20.5")
	post("s-3", "2026-01-06T10:00:00Z", "=HYPERLINK(\"http://x\")", "debit", "3.25")
	post("s-4", "2026-01-07T10:00:00Z", "Zahlung für Müller", "credit", "0.75")
	post("s-5", "2026-01-09T10:00:00Z", "After the period", "credit", "1000")

	for _, q := range []req{
		{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?from=2026-01-05&to=2026-01-08&format=csv", Key: bootstrapKey},
		{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?from=2026-01-05&to=2026-01-08", Key: bootstrapKey, Header: map[string]string{"Accept": "text/csv"}},
	} {
		res := e.must(http.StatusOK, q)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(ct, "charset=utf-8") {
			t.Fatalf("Content-Type = %q", ct)
		}
		if cd := res.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="statement-201_USD_alice-[0-9TZ]+-[0-9TZ]+\.csv"$`).MatchString(cd) {
			t.Fatalf("Content-Disposition = %q", cd)
		}
		if !strings.Contains(string(res.Body), "\r\n") {
			t.Errorf("CSV lines do not end in CRLF")
		}
		r := csv.NewReader(strings.NewReader(string(res.Body)))
		r.FieldsPerRecord = len(statementCSVHeader)
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("parse CSV: %v\n%s", err, res.Body)
		}
		if strings.Join(rows[0], ",") != strings.Join(statementCSVHeader, ",") {
			t.Fatalf("header = %v", rows[0])
		}
		if len(rows) != 1+1+3+1 {
			t.Fatalf("got %d rows, want header, opening, 3 postings, closing:\n%s", len(rows), res.Body)
		}
		opening, closing := rows[1], rows[len(rows)-1]
		if opening[5] != "Opening balance" || opening[9] != "50" || closing[5] != "Closing balance" {
			t.Fatalf("opening %v, closing %v", opening, closing)
		}
		sum := dec(t, opening[9])
		for _, row := range rows[2 : len(rows)-1] {
			if row[0] == "" || row[1] == "" || row[6] != "110:USD" || (row[7] == "") == (row[8] == "") {
				t.Errorf("posting row %v", row)
			}
			if row[8] != "" {
				credit := dec(t, row[8])
				ledger.Decimal.Add(&sum, &sum, &credit)
			} else {
				debit := dec(t, row[7])
				ledger.Decimal.Sub(&sum, &sum, &debit)
			}
			if want := dec(t, row[9]); sum.Cmp(&want) != 0 {
				t.Errorf("running balance %s, rows sum to %s", row[9], sum.String())
			}
		}
		if want := dec(t, closing[9]); sum.Cmp(&want) != 0 || closing[9] != "68" {
			t.Errorf("closing %s, opening + rows = %s, want 68", closing[9], sum.String())
		}
		if closing[7] != "3.25" || closing[8] != "21.25" {
			t.Errorf("closing totals debit %s credit %s, want 3.25 and 21.25", closing[7], closing[8])
		}
		if rows[2][5] != `Deposit, "first"` || rows[3][5] != `'=HYPERLINK("http://x")` || rows[4][5] != "Zahlung für Müller" {
			t.Errorf("descriptions %q %q %q", rows[2][5], rows[3][5], rows[4][5])
		}
	}

	var st statementJSON
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/statement?from=2026-01-05&to=2026-01-08", Key: bootstrapKey}).Decode(t, &st)
	if st.OpeningBalance != "50" || st.ClosingBalance != "68" || len(st.Lines) != 3 || st.Lines[1].Debit != "3.25" || st.Lines[1].Credit != "0" ||
		st.From != "2026-01-05T00:00:00Z" || st.Lines[0].CounterAccounts[0] != "110:USD" {
		t.Fatalf("statement JSON = %+v", st)
	}
}

// dec parses a decimal of a response.
func dec(t *testing.T, s string) apd.Decimal {
	t.Helper()
	d, err := ledger.ParseStored(s)
	if err != nil {
		t.Fatalf("%q is not a decimal: %v", s, err)
	}
	return d
}

// TestMetricsHistogram checks that /metrics has the request histogram by
// route pattern, the written-entries counters and the pool statistics.
func TestMetricsHistogram(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.post(entryBody("m-1", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))
	e.post(entryBody("m-2", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1"), posting("110:USD", "debit", "1"), posting("201:USD:bob", "credit", "1")))
	e.must(http.StatusOK, req{Method: "POST", Path: "/v1/entries", Key: bootstrapKey, Body: entryBody("m-1", posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1"))})
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:alice/balance", Key: bootstrapKey})
	e.must(http.StatusNotFound, req{Method: "GET", Path: "/nowhere/u42"})

	body := string(e.must(http.StatusOK, req{Method: "GET", Path: "/metrics"}).Body)
	for _, re := range []string{
		`(?m)^folio_http_request_duration_seconds_bucket\{[^}]*route="/v1/accounts/\{account\}/balance"[^}]*\} 1$`,
		`(?m)^folio_http_request_duration_seconds_count\{method="POST",route="/v1/entries"\} 3$`,
		`(?m)^folio_http_requests_total\{code="201",method="POST",route="/v1/entries"\} 2$`,
		`(?m)^folio_http_requests_total\{code="200",method="POST",route="/v1/entries"\} 1$`,
		`(?m)^folio_http_requests_total\{code="404",method="GET",route="unmatched"\} 1$`,
		`(?m)^folio_ledger_entries_written_total 2$`,
		`(?m)^folio_ledger_postings_written_total 6$`,
		`(?m)^folio_db_pool_total_conns [1-9]`,
		`(?m)^folio_db_pool_acquire_count_total [1-9]`,
		`(?m)^folio_stats_folded_accruals_total\{source="memory"\} 0$`,
		`(?m)^folio_stats_folded_accruals_total\{source="database"\} 0$`,
	} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics does not match %s", re)
		}
	}
	if strings.Contains(body, "u42") || strings.Contains(body, "alice") {
		t.Errorf("/metrics mentions a raw path or holder")
	}
}

// TestLogsHoldNoKeyMaterial captures the JSON log of requests made with
// keys and checks that no key, secret, holder or amount is in it, while each
// request has its one line with the route pattern and request id.
func TestLogsHoldNoKeyMaterial(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	auditor := e.key(keys.RoleAuditor, "")
	affiliate := e.key(keys.RoleAffiliate, "holder7731")
	created := e.must(http.StatusCreated, req{Method: "POST", Path: "/v1/keys", Key: bootstrapKey, Body: map[string]any{"role": "poster"}}).JSON(t)
	secret := created["key"].(string)
	e.post(entryBody("log-1", posting("110:USD", "debit", "98765.43"), posting("201:USD:holder7731", "credit", "98765.43")))
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/accounts/201:USD:holder7731/balance", Key: affiliate})
	e.must(http.StatusOK, req{Method: "GET", Path: "/v1/chart", Key: auditor})
	e.must(http.StatusForbidden, req{Method: "GET", Path: "/v1/chart", Key: secret})
	e.must(http.StatusUnauthorized, req{Method: "GET", Path: "/v1/chart", Key: "folio_wrongwrongwrong"})
	res := e.must(http.StatusOK, req{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-Id": "trace-abc.123"}})
	if res.Header.Get("X-Request-Id") != "trace-abc.123" {
		t.Errorf("X-Request-Id = %q, want the client's", res.Header.Get("X-Request-Id"))
	}
	if id := e.must(http.StatusOK, req{Method: "GET", Path: "/healthz", Header: map[string]string{"X-Request-Id": "bad id\n"}}).Header.Get("X-Request-Id"); len(id) != 32 {
		t.Errorf("X-Request-Id for a malformed client id = %q, want a generated one", id)
	}

	logs := e.logs.String()
	for _, secret := range []string{bootstrapKey, auditor, affiliate, secret, "folio_wrongwrongwrong", "Bearer", "holder7731", "98765.43"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	var requests int
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] != "request" {
			continue
		}
		requests++
		for _, k := range []string{"request_id", "method", "route", "status", "duration_ms", "bytes"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("request log line lacks %s: %s", k, line)
			}
		}
	}
	if requests != 10 {
		t.Errorf("%d request log lines, want 10:\n%s", requests, logs)
	}
	if !strings.Contains(logs, `"route":"/v1/accounts/{account}/balance"`) || !strings.Contains(logs, `"request_id":"trace-abc.123"`) {
		t.Errorf("the log lacks the route pattern or the client's request id:\n%s", logs)
	}
}

// TestHealthAndReadiness checks the probes, including not-ready when a
// migration step is missing.
func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if got := e.must(http.StatusOK, req{Method: "GET", Path: "/healthz"}).JSON(t); got["status"] != "ok" {
		t.Fatalf("healthz = %v", got)
	}
	e.must(http.StatusOK, req{Method: "GET", Path: "/readyz"})
	if _, err := e.db.Admin.Exec(t.Context(), `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	res := e.must(http.StatusServiceUnavailable, req{Method: "GET", Path: "/readyz"})
	if problemCode(t, res) != folio.EUNAVAILABLE {
		t.Fatalf("readyz = %s", res.Body)
	}
}
