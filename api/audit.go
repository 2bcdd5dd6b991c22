package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/seal"
)

// getVerify: GET /v1/audit/verify, the ledger's Report (docs/CONTRACT.md
// §1.3.5) with the problems of the seal chain, the Merkle log and the
// checkpoints (seal.Verify, against this server's checkpoint key) added.
// It answers 200 whether or not problems were found: "ok" says which.
func (s *Server) getVerify(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.ledger.Verify(r.Context())
	if err != nil {
		return err
	}
	probs, err := seal.Verify(r.Context(), s.db, s.seals.Verifier, 100)
	if err != nil {
		return err
	}
	rep.Problems = append(rep.Problems, probs...)
	rep.OK = len(rep.Problems) == 0
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// getAuditLog: GET /v1/audit/log?object=&action=&limit=&cursor=&format=, the
// configuration audit log in (time, id) order.
func (s *Server) getAuditLog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	f := audit.Filter{Object: q.Get("object"), Action: q.Get("action")}
	if len(f.Object) > 200 || len(f.Action) > 200 {
		return folio.Errorf(folio.EINVALID, "object and action filters are at most 200 characters")
	}
	limit, err := parseLimit(q)
	if err != nil {
		return err
	}
	if f.AfterAt, f.AfterID, err = timeIDCursor(q.Get("cursor"), "audit", ledger.ValidUUID); err != nil {
		return err
	}
	f.Limit = limit + 1
	recs, err := audit.List(r.Context(), s.db.Pool, f)
	if err != nil {
		return err
	}
	out := pageOf(recs, limit, identity, func(last audit.Record) string { return timeIDNext("audit", last.At, last.ID) })
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, x := range out.Data {
			rows[i] = auditCSVRow(x.ID, x.At, x.Actor, x.Action, x.Object, x.Before, x.After)
		}
		writeListCSV(w, r, "audit-log.csv", auditCSVHeader, rows, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listRequest reads what every list route takes: its query, format=csv and
// limit.
func listRequest(r *http.Request) (q url.Values, asCSV bool, limit int, err error) {
	q = r.URL.Query()
	if asCSV, err = wantCSV(r); err != nil {
		return q, false, 0, err
	}
	limit, err = parseLimit(q)
	return q, asCSV, limit, err
}

// timeIDCursor decodes a cursor of a list in (time, id) order (the audit
// log, the dead letters, payout batches) made by timeIDNext; "" is the
// first page; validID checks the id part (ledger.ValidUUID for UUID ids).
func timeIDCursor(c, kind string, validID func(string) bool) (time.Time, string, error) {
	if c == "" {
		return time.Time{}, "", nil
	}
	pos, err := decodeCursor(kind, c)
	if err != nil {
		return time.Time{}, "", err
	}
	at, id, _ := strings.Cut(pos, "|")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if terr != nil || !validID(id) {
		return time.Time{}, "", &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
	}
	return t, id, nil
}

// identity is pageOf's toJSON for items that are their own JSON.
func identity[T any](x T) T { return x }

// timeIDNext is the cursor after the item (at, id) of a (time, id) list.
func timeIDNext(kind string, at time.Time, id string) string {
	return encodeCursor(kind, at.UTC().Format(time.RFC3339Nano)+"|"+id)
}
