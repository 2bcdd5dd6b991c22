package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/stream"
)

// getDeadLetters: GET /v1/ingest/dead-letters?limit=&cursor=&format=, the
// messages (or trades of batch messages) that the Kafka and RabbitMQ
// consumers could never book, with the reason, in (time, id) order.
func (s *Server) getDeadLetters(w http.ResponseWriter, r *http.Request) error {
	q, asCSV, limit, err := listRequest(r)
	if err != nil {
		return err
	}
	var f stream.Filter
	if f.AfterAt, f.AfterID, err = timeIDCursor(q.Get("cursor"), "dead", ledger.ValidUUID); err != nil {
		return err
	}
	f.Limit = limit + 1
	recs, err := stream.List(r.Context(), s.db.Pool, f)
	if err != nil {
		return err
	}
	out := pageOf(recs, limit, identity, func(last stream.DeadLetter) string { return timeIDNext("dead", last.At, last.ID) })
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, d := range out.Data {
			rows[i] = []string{d.ID, d.At.Format(time.RFC3339Nano), d.Source, csvText(d.Destination), csvText(d.Position),
				csvText(d.TradeID), d.Code, csvText(d.Reason), csvText(d.Payload), strconv.FormatBool(d.Truncated)}
		}
		writeListCSV(w, r, "dead-letters.csv", deadLettersCSVHeader, rows, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deadLettersCSVHeader is the header of GET /v1/ingest/dead-letters in
// CSV: the fields of stream.DeadLetter in order.
var deadLettersCSVHeader = []string{"id", "at", "source", "destination", "position", "trade_id", "code", "reason", "payload", "truncated"}
