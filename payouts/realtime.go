package payouts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// RunSchedules builds the batches of scheduled programs that are due at
// now. Each (program, period) run is claimed by inserting a scheduler_runs
// row, so several servers running the scheduler build each batch once.
// A realtime program with auto_approve_below also pays its small lines at
// once (payAuto); its other lines wait in a draft batch for an admin.
// Auto batches a crash left unpaid are finished first.
func (s *Service) RunSchedules(ctx context.Context, server string) ([]string, error) {
	var built []string
	unfinished, err := s.unfinishedAuto(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range unfinished {
		if _, err := s.payAuto(ctx, id); err != nil {
			return built, err
		}
	}
	progs, err := s.Affiliate.ListPrograms(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, p := range progs {
		period := p.Spec.Payout.Due(now)
		if period == "" {
			continue
		}
		tag, err := s.DB.Pool.Exec(ctx, `INSERT INTO scheduler_runs (job, period, claimed_by, claimed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			"payout:"+p.ID, period, server, now)
		if err != nil {
			return built, err
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		auto := len(p.Spec.Payout.AutoApproveBelow) > 0 && p.Spec.Payout.Schedule == affiliate.ScheduleRealtime
		b, _, err := s.BuildBatchAs(ctx, BuildOptions{Program: p.ID, autoPay: auto}, Actor{ID: "scheduler"})
		if errors.Is(err, ErrNothingPayable) {
			continue
		}
		if err != nil {
			return built, err
		}
		built = append(built, b.ID)
		if !auto {
			continue
		}
		// The auto batch, if any, was built in the same transaction.
		ids, err := s.unfinishedAuto(ctx)
		if err != nil {
			return built, err
		}
		for _, id := range ids {
			if _, err := s.payAuto(ctx, id); err != nil {
				return built, err
			}
			if id != b.ID {
				built = append(built, id)
			}
		}
	}
	return built, nil
}

// autoHeld marks (as its approval label, while it is a draft) an auto batch
// the policy no longer approves: it waits for an admin like any batch, and
// the admin's approval replaces the label.
const autoHeld = "auto_approve_below: held for an admin"

// unfinishedAuto lists the batches built by AutoBuilder that are not yet
// executed, rejected by an admin, or held by payAuto.
func (s *Service) unfinishedAuto(ctx context.Context) ([]string, error) {
	rows, err := s.DB.Pool.Query(ctx, `SELECT id FROM payout_batches WHERE created_by = $1 AND (status = 'approved' OR (status = 'draft' AND approved_by_label = ''))
		ORDER BY created_at, id`, AutoBuilder)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// payAuto approves an auto batch by its programs' policy and executes it.
// The policy approves only if every line is ok (no fraud flag), every
// program of its accruals is realtime with an auto_approve_below in its
// currency, and the line is strictly below the smallest of those limits,
// as the policies stand now; otherwise the batch stays a draft that an
// admin approves or rejects like any other (audit "payout.auto_hold", the
// draft's approval label autoHeld).
func (s *Service) payAuto(ctx context.Context, id string) (*Batch, error) {
	b, err := s.changeBatch(ctx, id, s.DB.Tx, func(tx pgx.Tx, now time.Time, b *Batch) error {
		if b.CreatedBy != AutoBuilder {
			return folio.Errorf(folio.ECONFLICT, "batch %s was not built by the real-time payout policy", id)
		}
		if b.Status != BatchDraft {
			return nil
		}
		progs, err := s.Affiliate.ListProgramsTx(ctx, tx)
		if err != nil {
			return err
		}
		policies := map[string]*affiliate.PayoutPolicy{}
		for _, p := range progs {
			policies[p.ID] = p.Spec.Payout
		}
		byLine, err := linePrograms(ctx, tx, id)
		if err != nil {
			return err
		}
		limits := map[string]string{}
		why := ""
		for _, l := range b.Lines {
			if l.Status != LineOK {
				why = fmt.Sprintf("line %s is %s", l.ID, l.Status)
				break
			}
			for _, prog := range byLine[l.ID] {
				limit, ok := policies[prog].AutoApproveLimit(l.Currency)
				if !ok || l.Amount.Cmp(&limit) >= 0 {
					chart, err := accounts.LoadChart(ctx, tx)
					if err != nil {
						return err
					}
					why = fmt.Sprintf("line %s (%s %s) is not below program %s's auto_approve_below", l.ID, formatAt(&l.Amount, currencyPlaces(chart, l.Currency)), l.Currency, prog)
					break
				}
				limits[prog+":"+l.Currency] = ledger.Format(&limit)
			}
			if why != "" {
				break
			}
		}
		if why != "" {
			if _, err := tx.Exec(ctx, `UPDATE payout_batches SET approved_by_label = $2 WHERE id = $1`, id, autoHeld); err != nil {
				return err
			}
			return audit(ctx, tx, now, AutoApprover, "payout.auto_hold", "payout_batch:"+id, nil, map[string]string{"reason": why})
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_batches SET status = 'approved', approved_by = $2, approved_by_person = $2, approved_by_label = 'auto_approve_below', approved_at = $3
			WHERE id = $1`, id, AutoApprover, now); err != nil {
			return err
		}
		return audit(ctx, tx, now, AutoApprover, "payout.auto_approve", "payout_batch:"+id, map[string]string{"status": b.Status},
			map[string]any{"status": BatchApproved, "auto_approve_below": limits})
	})
	if err != nil || b.Status != BatchApproved {
		return b, err
	}
	b, _, err = s.ExecuteBatchAs(ctx, id, Actor{ID: AutoBuilder})
	return b, err
}
