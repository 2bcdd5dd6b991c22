package payouts

import (
	"context"
	"encoding/json"
	"time"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/payouts/signing"
	"github.com/jackc/pgx/v5"
)

// OutboxMessage is what the exchange's transfer API receives for an
// executed batch (header Idempotency-Key: the batch id).
type OutboxMessage struct {
	BatchID string          `json:"batch_id"`
	EntryID string          `json:"entry_id"`
	Lines   []OutboxPayment `json:"lines"`
}

// OutboxPayment is one transfer to make.
type OutboxPayment struct {
	LineID   string `json:"line_id"`
	Holder   string `json:"holder"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

// Outbox delivery outcomes.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxRefused   = "refused"
)

// maxBackoff caps the delay between delivery attempts.
const maxBackoff = 10 * time.Minute

// DeliverOutbox makes one delivery attempt for every due outbox message
// and returns how many it finished (delivered or refused). A 2xx answer
// posts the batch's pending payout entry; a 4xx answer (the exchange
// refuses) voids it and returns the lines' accruals to the payable pool;
// anything else is retried later with exponential backoff (1 s doubling,
// capped at 10 min). The HTTP call happens outside any transaction; its
// outcome is recorded in one.
func (s *Service) DeliverOutbox(ctx context.Context) (int, error) {
	now := s.now()
	rows, err := s.DB.Pool.Query(ctx, `SELECT batch_id, url, attempts, entry_id::text FROM payout_outbox
		WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 100`, now)
	if err != nil {
		return 0, err
	}
	type due struct {
		batch, url, entry string
		attempts          int64
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.batch, &d.url, &d.attempts, &d.entry); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	done := 0
	for _, d := range list {
		b, err := s.GetBatch(ctx, d.batch)
		if err != nil {
			return done, err
		}
		msg := OutboxMessage{BatchID: b.ID, EntryID: d.entry}
		for _, l := range b.Lines {
			if l.Status == LinePaid && l.EntryID == d.entry {
				msg.Lines = append(msg.Lines, OutboxPayment{LineID: l.ID, Holder: l.Holder, Currency: l.Currency, Amount: ledger.Format(&l.Amount)})
			}
		}
		status, detail := s.send(ctx, d.url, b.ID, msg)
		switch {
		case status >= 200 && status < 300:
			err = s.finishOutbox(ctx, d.batch, d.entry, OutboxDelivered, detail)
			done++
		case status >= 400 && status < 500:
			err = s.finishOutbox(ctx, d.batch, d.entry, OutboxRefused, detail)
			done++
		default:
			backoff := min(time.Second<<min(d.attempts, 20), maxBackoff)
			_, err = s.DB.Pool.Exec(ctx, `UPDATE payout_outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, updated_at = $4
				WHERE batch_id = $1 AND status = 'pending'`, d.batch, now.Add(backoff), detail, now)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (s *Service) send(ctx context.Context, url, key string, msg OutboxMessage) (int, string) {
	if s.Deliver == nil {
		return 0, "no deliverer is configured (payouts.Service.Deliver)"
	}
	body, _ := json.Marshal(msg)
	var header map[string]string
	if secret := s.WebhookSecrets[url]; secret != "" {
		header = signing.Headers(secret, s.now(), body)
	}
	return s.Deliver(ctx, url, key, header, body)
}

// finishOutbox posts or voids the pending payout entry and closes the
// message, in one transaction.
func (s *Service) finishOutbox(ctx context.Context, batch, entry, outcome, detail string) error {
	return s.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM payout_outbox WHERE batch_id = $1 FOR UPDATE`, batch).Scan(&status); err != nil {
			return err
		}
		if status != OutboxPending {
			return nil
		}
		op := ledger.Op{Post: &ledger.PostOp{EntryID: entry, IdempotencyKey: "payout-confirmed:" + batch}}
		if outcome == OutboxRefused {
			op = ledger.Op{Void: &ledger.VoidOp{EntryID: entry, IdempotencyKey: "payout-refused:" + batch}}
		}
		res, err := s.Ledger.ApplyTx(ctx, tx, []ledger.Op{op}, ledger.Options{Atomic: true, Owner: affiliate.Owner})
		if err != nil {
			if len(res) > 0 && res[0].Err != nil {
				return res[0].Err
			}
			return err
		}
		if outcome == OutboxRefused {
			if _, err := tx.Exec(ctx, `UPDATE payout_accruals SET active = false WHERE batch_id = $1
				AND line_id IN (SELECT id FROM payout_lines WHERE batch_id = $1 AND status = 'paid' AND entry_id = $2::uuid)`, batch, entry); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE payout_lines SET status = 'rejected', decided_by = 'exchange', decided_at = $2
				WHERE batch_id = $1 AND status = 'paid' AND entry_id = $3::uuid`, batch, now, entry); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE payout_outbox SET status = $2, attempts = attempts + 1, last_error = $3, updated_at = $4 WHERE batch_id = $1`,
			batch, outcome, detail, now)
		if err != nil {
			return err
		}
		return audit(ctx, tx, now, "outbox", "payout.outbox."+outcome, "payout_batch:"+batch, nil, map[string]string{"detail": detail})
	})
}

// RunOutbox delivers due outbox messages every interval until ctx ends.
func (s *Service) RunOutbox(ctx context.Context, every time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.DeliverOutbox(ctx); err != nil && ctx.Err() == nil && logf != nil {
				logf("payout outbox: %v", err)
			}
		}
	}
}
