package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// writeListCSV writes a page of a list as RFC 4180 CSV (see "# CSV" in
// doc.go): the next page, if any, in a Link header (setNextLink), then the
// header row and one row per item. Rows hold the same (masked) values as
// the JSON answer; free text goes through csvText before it gets here.
func writeListCSV(w http.ResponseWriter, r *http.Request, filename string, header []string, rows [][]string, next string) {
	setNextLink(w, r, next)
	startCSV(w, filename)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write(header)
	for _, row := range rows {
		_ = cw.Write(row)
	}
	cw.Flush() // the status is sent; a write error means the client went away
}

// csvOpt is a nullable JSON string as a CSV cell: empty when null.
func csvOpt(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// accrualsCSVHeader is the header of GET /v1/affiliates/{id}/accruals in CSV:
// the fields of accrualJSON in order.
var accrualsCSVHeader = []string{"id", "source", "trade_id", "event_id", "entry_id", "beneficiary", "trader_id", "level", "program", "kind",
	"rate", "basis", "amount", "currency", "fx_rate", "reporting_amount", "reporting_currency", "market", "code", "reverses", "recorded_at"}

func accrualCSVRow(a accrualJSON) []string {
	return []string{a.ID, a.Source, csvText(csvOpt(a.TradeID)), csvText(csvOpt(a.EventID)), a.EntryID, csvText(a.Beneficiary), csvText(a.TraderID),
		strconv.Itoa(a.Level), csvText(a.Program), a.Kind, csvOpt(a.Rate), csvOpt(a.Basis), a.Amount, a.Currency, csvOpt(a.FXRate),
		csvOpt(a.ReportingAmount), a.ReportingCurrency, csvText(a.Market), csvText(a.Code), csvOpt(a.Reverses), a.RecordedAt}
}

// codesCSVHeader is the header of GET /v1/affiliates/{id}/codes in CSV.
var codesCSVHeader = []string{"code", "owner", "rate", "kickback", "note", "created_at", "disabled_at", "referrals"}

func codeCSVRow(c referralCodeJSON) []string {
	return []string{csvText(c.Code), csvText(c.Owner), csvOpt(c.Rate), csvOpt(c.Kickback), csvText(c.Note), c.CreatedAt, csvOpt(c.DisabledAt), strconv.FormatInt(c.Referrals, 10)}
}

// refereesCSVHeader is the header of GET /v1/affiliates/{id}/referees in
// CSV: one row per direct referee (the per-level counts are JSON only).
var refereesCSVHeader = []string{"id", "referral_code", "country", "signup_ip", "device_id", "group", "registered_at",
	"kyc_verified_at", "first_deposit_at", "first_trade_at"}

func refereeCSVRow(x refereeJSON) []string {
	return []string{csvText(x.ID), csvText(csvOpt(x.ReferralCode)), x.Country, csvText(x.SignupIP), csvText(x.DeviceID), csvText(x.Group), x.RegisteredAt,
		csvOpt(x.Milestones.KYCVerifiedAt), csvOpt(x.Milestones.FirstDepositAt), csvOpt(x.Milestones.FirstTradeAt)}
}

// entriesCSVHeader is the header of GET /v1/entries in CSV: one row per
// posting, its entry's columns repeated (metadata as its JSON text).
var entriesCSVHeader = []string{"id", "seq", "kind", "description", "phase", "effective_at", "recorded_at", "idempotency_key",
	"parent_id", "reverses", "completes", "expires_at", "batch_id", "metadata", "hash", "prev_hash",
	"account", "side", "amount", "balance_after", "pending"}

func entryCSVRows(e entryJSON) [][]string {
	rows := make([][]string, 0, len(e.Postings))
	for _, p := range e.Postings {
		rows = append(rows, []string{e.ID, strconv.FormatInt(e.Seq, 10), csvText(e.Kind), csvText(e.Description), e.Phase, e.EffectiveAt, e.RecordedAt,
			csvText(e.IdempotencyKey), csvOpt(e.ParentID), csvOpt(e.Reverses), csvOpt(e.Completes), csvOpt(e.ExpiresAt), csvText(csvOpt(e.BatchID)),
			csvText(jsonCell(e.Metadata)), e.Hash, e.PrevHash,
			p.Account, p.Side, p.Amount, p.BalanceAfter, strconv.FormatBool(p.Pending)})
	}
	return rows
}

// auditCSVHeader is the header of GET /v1/audit/log in CSV; at is as in
// the JSON, before and after are their JSON text (empty when null).
var auditCSVHeader = []string{"id", "at", "actor", "action", "object", "before", "after"}

func auditCSVRow(id string, at time.Time, actor, action, object string, before, after []byte) []string {
	return []string{id, at.Format(time.RFC3339Nano), csvText(actor), csvText(action), csvText(object), csvText(jsonCell(before)), csvText(jsonCell(after))}
}

// jsonCell is raw JSON as a CSV cell: compacted, as the JSON answer
// carries it, and empty for none or null.
func jsonCell(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.String() == "null" {
		return ""
	}
	return buf.String()
}

// writeItemsCSV writes a small, unpaged list (the chart, currencies, keys,
// programs) as CSV with one column per JSON field of its items: "id" or
// "code" first when present, then the others in name order (the union over
// the items, so a field only some items carry still gets its column; an
// empty list's header comes from the zero item).
// Cells hold what the JSON holds: strings unquoted (through csvText),
// numbers and booleans as written, null or an absent field empty, objects
// and arrays as their compact JSON text. A field added to the JSON is a
// column without touching this.
func writeItemsCSV[T any](w http.ResponseWriter, r *http.Request, filename string, items []T) error {
	objs := make([]map[string]json.RawMessage, len(items))
	seen := map[string]bool{}
	var cols []string
	for i := range items {
		raw, err := json.Marshal(items[i])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &objs[i]); err != nil {
			return err
		}
		for k := range objs[i] {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	if len(items) == 0 {
		// No items: the header still names the columns, from the zero item.
		var zero T
		var obj map[string]json.RawMessage
		if raw, err := json.Marshal(zero); err == nil && json.Unmarshal(raw, &obj) == nil {
			for k := range obj {
				cols = append(cols, k)
			}
		}
	}
	slices.SortFunc(cols, func(a, b string) int {
		rank := func(s string) int {
			if s == "id" || s == "code" {
				return 0
			}
			return 1
		}
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	rows := make([][]string, len(objs))
	for i, o := range objs {
		row := make([]string, len(cols))
		for j, c := range cols {
			row[j] = rawCell(o[c])
		}
		rows[i] = row
	}
	writeListCSV(w, r, filename, cols, rows, "")
	return nil
}

// rawCell is a JSON value as a CSV cell (see writeItemsCSV).
func rawCell(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return csvText(s)
	}
	return csvText(jsonCell(raw))
}
