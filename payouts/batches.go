package payouts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Batch and line statuses.
const (
	BatchDraft    = "draft"
	BatchApproved = "approved"
	BatchExecuted = "executed"
	BatchRejected = "rejected"

	LineOK       = "ok"
	LineHeld     = "held"
	LineRejected = "rejected"
	LineReleased = "released" // held at execution: its accruals return to the pool
	LinePaid     = "paid"
)

// Line is what one affiliate is paid in one currency.
type Line struct {
	ID        string
	BatchID   string
	Holder    string
	Currency  string
	Amount    apd.Decimal
	Status    string
	Flags     []Flag
	Forfeited bool
	DecidedBy string
	EntryID   string
	Accruals  int64
	// Destination is where the line is paid: "" (Cr 201, through the
	// outbox when a transfer API is configured), "201" or "202" (Cr that
	// account in the journal, final at once). See affiliate.PayoutPolicy.
	Destination string
}

// Batch is a batch of payout lines. Each decision records its actor
// (a key id, "bootstrap", "scheduler"), the person the actor counts as for
// four-eyes and that person's label (see Actor).
type Batch struct {
	ID               string
	Status           string
	CreatedBy        string
	CreatedByPerson  string
	CreatedByLabel   string
	Cutoff           time.Time
	CreatedAt        time.Time
	ApprovedBy       string
	ApprovedByPerson string
	ApprovedByLabel  string
	ApprovedAt       *time.Time
	ExecutedBy       string
	ExecutedByPerson string
	ExecutedByLabel  string
	ExecutedAt       *time.Time
	EntryID          string
	Lines            []Line
}

// Actor is who decides on a batch. Four-eyes compares people, not keys:
// the API gives each key the person of its minting lineage (keys.Mint).
type Actor struct {
	ID     string // the audit actor: a key id, "bootstrap", "scheduler", …
	Person string // the person the actor counts as ("": ID is a person of its own)
	Label  string // the acting key's person label, for display only
}

func (a Actor) person() string {
	if a.Person == "" {
		return a.ID
	}
	return a.Person
}

// BuildOptions select what a batch pays.
type BuildOptions struct {
	Cutoff  time.Time // zero: now
	Program string    // only accruals of this program ("" = all)
	// autoPay (the scheduler's realtime runs, with Program set) puts the
	// lines the program's auto_approve_below covers in a batch of their own
	// built by AutoBuilder.
	autoPay bool
}

// ErrNothingPayable is returned when no accrual is payable.
var ErrNothingPayable = folio.Errorf(folio.ENOTFOUND, "no payable accruals up to the cut-off")

// The actors of real-time payouts: AutoBuilder builds the batch of the
// lines a realtime program's auto_approve_below covers, and AutoApprover,
// the policy, approves it; neither is a person of the API.
const (
	AutoBuilder  = "auto-payout"
	AutoApprover = "policy:auto_approve_below"
)

type pendingAccrual struct {
	id, holder, currency, program string
	amount                        apd.Decimal
	reported                      *apd.Decimal
	tradeID                       string
	trader                        string // whose trade or event the accrual pays for
}

// BuildBatch builds a draft batch from every payable accrual recorded up to
// the cut-off: accruals not in an active payout link, older than their
// program's hold period. One line per (affiliate, currency) sums them;
// lines whose sum is not positive, is below the program minimum, or whose
// affiliate's 208 balance is not positive are left out (their accruals
// stay payable). Anti-fraud rules flag lines, which are then held. The
// batch id is a hash of the cut-off and the accrual ids, so building the
// same batch twice answers the existing one (created=false). actor is a
// person of its own; see BuildBatchAs.
func (s *Service) BuildBatch(ctx context.Context, opts BuildOptions, actor string) (*Batch, bool, error) {
	return s.BuildBatchAs(ctx, opts, Actor{ID: actor})
}

// BuildBatchAs is BuildBatch by act, whose person is recorded as the
// batch's builder for four-eyes.
func (s *Service) BuildBatchAs(ctx context.Context, opts BuildOptions, act Actor) (*Batch, bool, error) {
	var batch *Batch
	var created bool
	err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		cutoff := opts.Cutoff.UTC().Truncate(time.Microsecond)
		if opts.Cutoff.IsZero() {
			cutoff = now
		}
		if cutoff.After(now) {
			return folio.Errorf(folio.EINVALID, "the cut-off %s is in the future", cutoff.Format(time.RFC3339))
		}
		progs, err := s.Affiliate.ListProgramsTx(ctx, tx)
		if err != nil {
			return err
		}
		policies := map[string]*affiliate.PayoutPolicy{}
		for _, p := range progs {
			policies[p.ID] = p.Spec.Payout
		}
		rows, err := tx.Query(ctx, `SELECT a.id::text, a.beneficiary, a.currency, a.program_id, a.amount::text, a.reporting_amount::text, a.recorded_at,
				coalesce(a.trade_id, ''), a.trader_id
			FROM accruals_whole a
			WHERE a.recorded_at <= $1 AND ($2 = '' OR a.program_id = $2)
			AND NOT EXISTS (SELECT 1 FROM payout_accruals p WHERE p.accrual_id = a.id AND p.active)
			ORDER BY a.beneficiary, a.currency, a.id`, cutoff, opts.Program)
		if err != nil {
			return err
		}
		var pending []pendingAccrual
		for rows.Next() {
			var a pendingAccrual
			var amt string
			var rep *string
			var at time.Time
			if err := rows.Scan(&a.id, &a.holder, &a.currency, &a.program, &amt, &rep, &at, &a.tradeID, &a.trader); err != nil {
				rows.Close()
				return err
			}
			hold, _ := policies[a.program].Hold()
			if at.After(now.Add(-hold)) {
				continue
			}
			if a.amount, err = ledger.ParseStored(amt); err != nil {
				rows.Close()
				return err
			}
			if a.reported, err = ledger.ParseStoredOptional(rep); err != nil {
				rows.Close()
				return err
			}
			pending = append(pending, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		lines, links, err := s.groupLines(ctx, tx, pending, policies)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			return ErrNothingPayable
		}
		if opts.autoPay && policies[opts.Program] == nil {
			return notFound("program", opts.Program)
		}
		if err := s.flagLines(ctx, tx, now, lines, links, policies); err != nil {
			return err
		}
		if opts.autoPay {
			// Real-time payouts: the lines no rule flagged and below the
			// program's auto_approve_below form a batch of their own, built
			// by AutoBuilder and approved by the policy (payAuto); the rest
			// form the usual batch, which waits for an admin.
			var small, rest []Line
			var smallLinks, restLinks [][]pendingAccrual
			for i, l := range lines {
				limit, ok := policies[opts.Program].AutoApproveLimit(l.Currency)
				if ok && l.Status == LineOK && l.Amount.Cmp(&limit) < 0 {
					small, smallLinks = append(small, l), append(smallLinks, links[i])
				} else {
					rest, restLinks = append(rest, l), append(restLinks, links[i])
				}
			}
			if len(small) > 0 {
				if batch, created, err = insertBatch(ctx, tx, now, cutoff, Actor{ID: AutoBuilder}, opts.Program, small, smallLinks); err != nil {
					return err
				}
			}
			if len(rest) == 0 {
				return nil
			}
			lines, links = rest, restLinks
		}
		batch, created, err = insertBatch(ctx, tx, now, cutoff, act, opts.Program, lines, links)
		return err
	})
	return batch, created, err
}

// insertBatch stores a draft batch of lines built by act at cut-off, or
// answers the existing batch of the same accruals (created=false).
func insertBatch(ctx context.Context, tx pgx.Tx, now, cutoff time.Time, act Actor, program string, lines []Line, links [][]pendingAccrual) (*Batch, bool, error) {
	var ids []string
	for _, l := range links {
		for _, a := range l {
			ids = append(ids, a.id)
		}
	}
	sort.Strings(ids)
	h := sha256.Sum256([]byte(cutoff.Format(time.RFC3339Nano) + "|" + strings.Join(ids, ",")))
	id := "pb_" + hex.EncodeToString(h[:16])
	// The same accruals at the same cut-off are the same batch; after a
	// rejection they form a new one (id suffixed with its generation).
	for gen := 1; ; gen++ {
		existing, err := getBatch(ctx, tx, id)
		if folio.ErrorCode(err) == folio.ENOTFOUND {
			break
		}
		if err != nil {
			return nil, false, err
		}
		if existing.Status != BatchRejected {
			return existing, false, nil
		}
		id = fmt.Sprintf("pb_%s_%d", hex.EncodeToString(h[:16]), gen+1)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payout_batches (id, status, created_by, created_by_person, created_by_label, cutoff, created_at)
		VALUES ($1, 'draft', $2, $3, $4, $5, $6)`,
		id, act.ID, act.person(), act.Label, cutoff, now); err != nil {
		return nil, false, err
	}
	var lIDs, holders, curs, amounts, statuses, flags, dests []string
	var aIDs, aLines []string
	for i := range lines {
		l := &lines[i]
		l.ID, l.BatchID = uuid.NewString(), id
		fj, _ := json.Marshal(l.Flags)
		if l.Flags == nil {
			fj = []byte("[]")
		}
		lIDs, holders, curs = append(lIDs, l.ID), append(holders, l.Holder), append(curs, l.Currency)
		amounts, statuses, flags = append(amounts, ledger.Format(&l.Amount)), append(statuses, l.Status), append(flags, string(fj))
		dests = append(dests, l.Destination)
		for _, a := range links[i] {
			aIDs, aLines = append(aIDs, a.id), append(aLines, l.ID)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payout_lines (id, batch_id, holder, currency, amount, status, flags, destination)
		SELECT i::uuid, $1, h, c, a::numeric, s, f::jsonb, d FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(i, h, c, a, s, f, d)`,
		id, lIDs, holders, curs, amounts, statuses, flags, dests); err != nil {
		return nil, false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payout_accruals (accrual_id, line_id, batch_id, active)
		SELECT a::uuid, l::uuid, $1, true FROM unnest($2::text[], $3::text[]) AS u(a, l)`, id, aIDs, aLines); err != nil {
		return nil, false, err
	}
	if err := audit(ctx, tx, now, act.ID, "payout.build", "payout_batch:"+id, nil, map[string]any{"cutoff": cutoff, "lines": len(lines), "program": program,
		"created_by_person": act.person(), "created_by_person_label": act.Label}); err != nil {
		return nil, false, err
	}
	return &Batch{ID: id, Status: BatchDraft, CreatedBy: act.ID, CreatedByPerson: act.person(), CreatedByLabel: act.Label,
		Cutoff: cutoff, CreatedAt: now, Lines: lines}, true, nil
}

// groupLines sums pending accruals per (holder, currency) and applies the
// minimum and the 208-balance rule.
func (s *Service) groupLines(ctx context.Context, tx pgx.Tx, pending []pendingAccrual, policies map[string]*affiliate.PayoutPolicy) ([]Line, [][]pendingAccrual, error) {
	var lines []Line
	var links [][]pendingAccrual
	var chart *accounts.Chart // loaded for the first flag's text
	for i := 0; i < len(pending); {
		j := i
		var sum apd.Decimal
		minimum := apd.Decimal{}
		for j < len(pending) && pending[j].holder == pending[i].holder && pending[j].currency == pending[i].currency {
			if _, err := exact.Add(&sum, &sum, &pending[j].amount); err != nil {
				return nil, nil, err
			}
			if m := policies[pending[j].program].MinimumFor(pending[j].currency); m.Cmp(&minimum) > 0 {
				minimum = m
			}
			j++
		}
		group := pending[i:j]
		i = j
		if sum.Sign() <= 0 || sum.Cmp(&minimum) < 0 {
			continue
		}
		balance, err := ledger.CurrentBalance(ctx, tx, "208:"+group[0].currency+":"+group[0].holder)
		if err != nil {
			return nil, nil, err
		}
		if balance.Sign() <= 0 {
			continue
		}
		l := Line{Holder: group[0].holder, Currency: group[0].currency, Amount: sum, Status: LineOK, Accruals: int64(len(group)),
			Destination: policies[group[0].program].PayoutDestination()}
		for _, a := range group {
			// Accruals of programs with different destinations: the default.
			if policies[a.program].PayoutDestination() != l.Destination {
				l.Destination = ""
			}
		}
		if balance.Cmp(&sum) < 0 {
			if chart == nil {
				if chart, err = accounts.LoadChart(ctx, tx); err != nil {
					return nil, nil, err
				}
			}
			p := currencyPlaces(chart, l.Currency)
			l.Flags = append(l.Flags, Flag{FlagBalance, fmt.Sprintf("the accrued balance %s is below the line amount %s", formatAt(&balance, p), formatAt(&sum, p))})
		}
		lines = append(lines, l)
		links = append(links, group)
	}
	return lines, links, nil
}

// currencyPlaces is a currency's precision in chart, -1 when unknown
// (formatAt then shows the amount exactly).
func currencyPlaces(chart *accounts.Chart, currency string) int {
	if c, ok := chart.Currency(currency); ok {
		return c.Precision
	}
	return -1
}

// flagLines runs the anti-fraud rules and holds flagged lines.
func (s *Service) flagLines(ctx context.Context, tx pgx.Tx, now time.Time, lines []Line, links [][]pendingAccrual, policies map[string]*affiliate.PayoutPolicy) error {
	rules, err := s.fraudRules(ctx, tx)
	if err != nil {
		return err
	}
	chart, err := accounts.LoadChart(ctx, tx)
	if err != nil {
		return err
	}
	places := func(currency string) int { return currencyPlaces(chart, currency) }
	reportingPlaces := places(s.Affiliate.Reporting())
	for i := range lines {
		l := &lines[i]
		aff, err := affiliate.GetUserTx(ctx, tx, l.Holder)
		if err != nil {
			return err
		}
		f := &lineFacts{Affiliate: aff, Amount: l.Amount, Counterparty: map[string][2]int64{},
			Places: places(l.Currency), ReportingPlaces: reportingPlaces}
		if f.Referees, err = affiliate.DirectRefereesTx(ctx, tx, aff.ID); err != nil {
			return err
		}
		var tradeIDs []string
		var reported apd.Decimal
		reportedOK := true
		for _, a := range links[i] {
			if a.tradeID != "" {
				tradeIDs = append(tradeIDs, a.tradeID)
			}
			if policies[a.program] != nil && policies[a.program].RequireKYC {
				f.RequireKYC = true
			}
			if a.reported == nil {
				reportedOK = false
			} else if _, err := exact.Add(&reported, &reported, a.reported); err != nil {
				return err
			}
		}
		if reportedOK {
			f.LineReported = &reported
		}
		if len(tradeIDs) > 0 {
			refs := make([]string, len(f.Referees))
			for k, r := range f.Referees {
				refs[k] = r.ID
			}
			if f.Counterparty, err = affiliate.CounterpartyCounts(ctx, tx, tradeIDs, aff.ID, refs); err != nil {
				return err
			}
		}
		var avg string
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(avg(amount), 0)::text FROM payout_lines WHERE holder = $1 AND currency = $2 AND status = 'paid'`,
			l.Holder, l.Currency).Scan(&f.PaidLines, &avg); err != nil {
			return err
		}
		if f.PaidAverage, err = ledger.ParseStored(avg); err != nil {
			return err
		}
		var year string
		yearStart := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(a.reporting_amount), 0)::text FROM payout_lines l
			JOIN payout_batches b ON b.id = l.batch_id JOIN payout_accruals pa ON pa.line_id = l.id JOIN accruals_whole a ON a.id = pa.accrual_id
			WHERE l.holder = $1 AND l.status = 'paid' AND b.executed_at >= $2`, l.Holder, yearStart).Scan(&year); err != nil {
			return err
		}
		if f.YearPaid, err = ledger.ParseStored(year); err != nil {
			return err
		}
		l.Flags = append(l.Flags, checkFraud(rules, f)...)
		// Signup risk: the line pays activity of users whose signup was
		// flagged while the rules said hold.
		var traders []string
		for _, a := range links[i] {
			if !slices.Contains(traders, a.trader) {
				traders = append(traders, a.trader)
			}
		}
		held, err := heldSignups(ctx, tx, traders)
		if err != nil {
			return err
		}
		for _, id := range sortedIDs(held) {
			l.Flags = append(l.Flags, Flag{FlagSignupRisk, fmt.Sprintf("pays activity of %s, whose signup was flagged (%s)", id, strings.Join(held[id], ", "))})
		}
		if len(l.Flags) > 0 {
			l.Status = LineHeld
		}
	}
	return nil
}

const fraudRulesKey = "fraud_rules"

func (s *Service) fraudRules(ctx context.Context, q pgx.Tx) (*parsedFraud, error) {
	r, err := loadFraudRules(ctx, q)
	if err != nil {
		return nil, err
	}
	return r.parse()
}

func loadFraudRules(ctx context.Context, q pgx.Tx) (FraudRules, error) {
	r := DefaultFraudRules()
	var v string
	err := q.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, fraudRulesKey).Scan(&v)
	if isNoRows(err) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(v), &r)
}

// FraudRules returns the anti-fraud thresholds in force.
func (s *Service) FraudRules(ctx context.Context) (FraudRules, error) {
	var r FraudRules
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		r, err = loadFraudRules(ctx, tx)
		return err
	})
	return r, err
}

// PutFraudRules replaces the anti-fraud thresholds (audit-logged).
func (s *Service) PutFraudRules(ctx context.Context, r FraudRules, actor string) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, _ := json.Marshal(r)
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		before, err := loadFraudRules(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, fraudRulesKey, string(b)); err != nil {
			return err
		}
		return audit(ctx, tx, s.now(), actor, "fraud_rules.put", "settings:fraud_rules", before, r)
	})
}

// getBatch loads a batch with its lines.
func getBatch(ctx context.Context, q pgx.Tx, id string) (*Batch, error) {
	b := &Batch{}
	var entry *string
	// A batch built by a server older than migration 010 has no person: its
	// actor counts as one.
	err := q.QueryRow(ctx, `SELECT id, status, created_by, coalesce(created_by_person, created_by), created_by_label, cutoff, created_at,
			coalesce(approved_by, ''), coalesce(approved_by_person, approved_by, ''), approved_by_label, approved_at,
			coalesce(executed_by, ''), coalesce(executed_by_person, executed_by, ''), executed_by_label, executed_at, entry_id::text
		FROM payout_batches WHERE id = $1`, id).Scan(&b.ID, &b.Status, &b.CreatedBy, &b.CreatedByPerson, &b.CreatedByLabel, &b.Cutoff, &b.CreatedAt,
		&b.ApprovedBy, &b.ApprovedByPerson, &b.ApprovedByLabel, &b.ApprovedAt,
		&b.ExecutedBy, &b.ExecutedByPerson, &b.ExecutedByLabel, &b.ExecutedAt, &entry)
	if isNoRows(err) {
		return nil, notFound("payout batch", id)
	}
	if err != nil {
		return nil, err
	}
	b.Cutoff, b.CreatedAt = b.Cutoff.UTC(), b.CreatedAt.UTC()
	if entry != nil {
		b.EntryID = *entry
	}
	rows, err := q.Query(ctx, `SELECT l.id::text, l.holder, l.currency, l.amount::text, l.status, l.flags::text, l.forfeited, coalesce(l.decided_by, ''),
			coalesce(l.entry_id::text, ''), (SELECT count(*) FROM payout_accruals p WHERE p.line_id = l.id), l.destination
		FROM payout_lines l WHERE l.batch_id = $1 ORDER BY l.holder, l.currency`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		l := Line{BatchID: id}
		var amt, flags string
		if err := rows.Scan(&l.ID, &l.Holder, &l.Currency, &amt, &l.Status, &flags, &l.Forfeited, &l.DecidedBy, &l.EntryID, &l.Accruals, &l.Destination); err != nil {
			return nil, err
		}
		if l.Amount, err = ledger.ParseStored(amt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(flags), &l.Flags); err != nil {
			return nil, err
		}
		b.Lines = append(b.Lines, l)
	}
	return b, rows.Err()
}

// GetBatch returns a batch with its lines.
func (s *Service) GetBatch(ctx context.Context, id string) (*Batch, error) {
	var b *Batch
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = getBatch(ctx, tx, id)
		return err
	})
	return b, err
}

// ListBatches returns batches in creation order after the cursor.
func (s *Service) ListBatches(ctx context.Context, afterAt time.Time, afterID string, limit int) ([]*Batch, error) {
	var out []*Batch
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT id FROM payout_batches WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, afterAt, afterID, limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			b, err := getBatch(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

// lockBatch loads and locks a batch for a state change.
func lockBatch(ctx context.Context, tx pgx.Tx, id string) (*Batch, error) {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM payout_batches WHERE id = $1 FOR UPDATE`, id).Scan(&status)
	if isNoRows(err) {
		return nil, notFound("payout batch", id)
	}
	if err != nil {
		return nil, err
	}
	return getBatch(ctx, tx, id)
}

// ApproveBatch approves a draft batch; actor is a person of its own. See
// ApproveBatchAs.
func (s *Service) ApproveBatch(ctx context.Context, id, actor string) (*Batch, error) {
	return s.ApproveBatchAs(ctx, id, Actor{ID: actor})
}

// ApproveBatchAs approves a draft batch. Four-eyes: act must be another
// person than the batch's builder, not merely another key (forbidden).
func (s *Service) ApproveBatchAs(ctx context.Context, id string, act Actor) (*Batch, error) {
	return s.changeBatch(ctx, id, s.DB.Tx, func(tx pgx.Tx, now time.Time, b *Batch) error {
		if b.Status != BatchDraft {
			return folio.Errorf(folio.ECONFLICT, "batch %s is %s, not draft", id, b.Status)
		}
		switch {
		case act.ID == b.CreatedBy:
			return folio.Errorf(folio.EFORBIDDEN, "four-eyes: batch %s was built by %s; another person must approve it", id, act.ID)
		case act.person() == b.CreatedByPerson:
			return folio.Errorf(folio.EFORBIDDEN, "four-eyes: batch %s was built by person %s (%s) and key %s belongs to the same person "+
				"(a key minted by a key counts as its minter's person); another person must approve it", id, b.CreatedByPerson, b.CreatedBy, act.ID)
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_batches SET status = 'approved', approved_by = $2, approved_by_person = $3, approved_by_label = $4, approved_at = $5
			WHERE id = $1`, id, act.ID, act.person(), act.Label, now); err != nil {
			return err
		}
		return audit(ctx, tx, now, act.ID, "payout.approve", "payout_batch:"+id, map[string]string{"status": b.Status},
			map[string]string{"status": BatchApproved, "created_by_person": b.CreatedByPerson, "created_by_person_label": b.CreatedByLabel,
				"approved_by_person": act.person(), "approved_by_person_label": act.Label})
	})
}

// changeBatch locks a batch in a transaction run by txFn, lets change act
// on it, and returns the batch as the transaction leaves it.
func (s *Service) changeBatch(ctx context.Context, id string, txFn func(context.Context, func(pgx.Tx) error) error,
	change func(tx pgx.Tx, now time.Time, b *Batch) error) (*Batch, error) {
	var out *Batch
	err := txFn(ctx, func(tx pgx.Tx) error {
		b, err := lockBatch(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := change(tx, s.now(), b); err != nil {
			return err
		}
		out, err = getBatch(ctx, tx, id)
		return err
	})
	return out, err
}

// ClearLines releases held lines for payment (status ok), keeping their
// flags on record.
func (s *Service) ClearLines(ctx context.Context, id string, lineIDs []string, actor string) (*Batch, error) {
	return s.decideLines(ctx, id, lineIDs, actor, func(ctx context.Context, tx pgx.Tx, now time.Time, b *Batch, l *Line) error {
		if l.Status != LineHeld {
			return folio.Errorf(folio.ECONFLICT, "line %s is %s, not held", l.ID, l.Status)
		}
		_, err := tx.Exec(ctx, `UPDATE payout_lines SET status = 'ok', decided_by = $2, decided_at = $3 WHERE id = $1`, l.ID, actor, now)
		return err
	}, "payout.clear")
}

// RejectLines rejects lines. With forfeit their amounts move from 208 to
// 606 (one forfeit entry per line) and their accruals are consumed;
// without, the accruals return to the payable pool.
func (s *Service) RejectLines(ctx context.Context, id string, lineIDs []string, forfeit bool, actor string) (*Batch, error) {
	return s.decideLines(ctx, id, lineIDs, actor, func(ctx context.Context, tx pgx.Tx, now time.Time, b *Batch, l *Line) error {
		if l.Status != LineHeld && l.Status != LineOK {
			return folio.Errorf(folio.ECONFLICT, "line %s is %s", l.ID, l.Status)
		}
		var entryID *string
		if forfeit {
			amt := ledger.Format(&l.Amount)
			ne := ledger.NewEntry{IdempotencyKey: "forfeit:" + l.ID, Kind: affiliate.EntryForfeit, BatchID: id,
				Description: fmt.Sprintf("Forfeited payout line of %s in batch %s", l.Holder, id),
				Postings: []ledger.NewPosting{{Account: "208:" + l.Currency + ":" + l.Holder, Side: accounts.Debit, Amount: amt},
					{Account: "606:" + l.Currency, Side: accounts.Credit, Amount: amt}}}
			res, err := s.Ledger.ApplyTx(ctx, tx, []ledger.Op{{New: &ne}}, ledger.Options{Atomic: true, Owner: affiliate.Owner})
			if err != nil {
				if len(res) > 0 && res[0].Err != nil {
					return res[0].Err
				}
				return err
			}
			entryID = &res[0].Entry.ID
		} else if _, err := tx.Exec(ctx, `UPDATE payout_accruals SET active = false WHERE line_id = $1`, l.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE payout_lines SET status = 'rejected', forfeited = $2, decided_by = $3, decided_at = $4, entry_id = $5::uuid WHERE id = $1`,
			l.ID, forfeit, actor, now, entryID)
		return err
	}, "payout.reject_lines")
}

func (s *Service) decideLines(ctx context.Context, id string, lineIDs []string, actor string,
	fn func(context.Context, pgx.Tx, time.Time, *Batch, *Line) error, action string) (*Batch, error) {
	if len(lineIDs) == 0 {
		return nil, folio.Errorf(folio.EINVALID, "name at least one line")
	}
	return s.changeBatch(ctx, id, s.Ledger.JournalTx, func(tx pgx.Tx, now time.Time, b *Batch) error {
		if b.Status != BatchDraft && b.Status != BatchApproved {
			return folio.Errorf(folio.ECONFLICT, "batch %s is %s; its lines can no longer change", id, b.Status)
		}
		byID := map[string]*Line{}
		for i := range b.Lines {
			byID[b.Lines[i].ID] = &b.Lines[i]
		}
		for _, lid := range lineIDs {
			l := byID[lid]
			if l == nil {
				return notFound("payout line", lid)
			}
			if err := fn(ctx, tx, now, b, l); err != nil {
				return err
			}
		}
		return audit(ctx, tx, now, actor, action, "payout_batch:"+id, nil, map[string]any{"lines": lineIDs})
	})
}

// RejectBatch rejects a whole draft or approved batch: lines not forfeited
// return their accruals to the payable pool.
func (s *Service) RejectBatch(ctx context.Context, id, actor string) (*Batch, error) {
	return s.changeBatch(ctx, id, s.DB.Tx, func(tx pgx.Tx, now time.Time, b *Batch) error {
		if b.Status != BatchDraft && b.Status != BatchApproved {
			return folio.Errorf(folio.ECONFLICT, "batch %s is %s", id, b.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_accruals SET active = false WHERE batch_id = $1
			AND line_id IN (SELECT id FROM payout_lines WHERE batch_id = $1 AND NOT forfeited)`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_batches SET status = 'rejected', rejected_by = $2, rejected_at = $3 WHERE id = $1`, id, actor, now); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "payout.reject", "payout_batch:"+id, map[string]string{"status": b.Status}, map[string]string{"status": BatchRejected})
	})
}

// ExecuteBatch pays an approved batch exactly once: one payout entry
// (Dr 208:C:A / Cr 201:C:A per ok line, batch_id = the batch id) in the same
// transaction as the status change. Held lines are released (their accruals
// return to the pool). Executing an executed batch answers it unchanged
// (replayed=true); concurrent executions serialize on the batch row. actor
// is a person of its own; see ExecuteBatchAs.
func (s *Service) ExecuteBatch(ctx context.Context, id, actor string) (*Batch, bool, error) {
	return s.ExecuteBatchAs(ctx, id, Actor{ID: actor})
}

// ExecuteBatchAs is ExecuteBatch by act, whose person is recorded as the
// batch's executor.
func (s *Service) ExecuteBatchAs(ctx context.Context, id string, act Actor) (*Batch, bool, error) {
	actor := act.ID
	var out *Batch
	var replayed bool
	err := s.Ledger.JournalTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		b, err := lockBatch(ctx, tx, id)
		if err != nil {
			return err
		}
		if b.Status == BatchExecuted {
			out, replayed = b, true
			return nil
		}
		replayed = false
		if b.Status != BatchApproved {
			return folio.Errorf(folio.ECONFLICT, "batch %s is %s; approve it first", id, b.Status)
		}
		// Lines paid to the default destination credit 201 and go through
		// the outbox when a transfer API is configured (entry pending until
		// it confirms); lines with a destination (201 or 202) credit that
		// account in an entry of their own, posted at once.
		external := ledger.NewEntry{IdempotencyKey: affiliate.KeyPrefixPayout + id, Kind: affiliate.EntryPayout, BatchID: id, Description: "Payout batch " + id,
			Pending: s.Webhook != ""}
		direct := ledger.NewEntry{IdempotencyKey: affiliate.KeyPrefixPayout + id + ":direct", Kind: affiliate.EntryPayout, BatchID: id,
			Description: "Payout batch " + id + " to the affiliates' balances"}
		var paidExternal, paidDirect []string
		for _, l := range b.Lines {
			if l.Status != LineOK {
				continue
			}
			amt := ledger.Format(&l.Amount)
			ne, to, paid := &external, "201", &paidExternal
			if l.Destination != "" {
				ne, to, paid = &direct, l.Destination, &paidDirect
			}
			ne.Postings = append(ne.Postings,
				ledger.NewPosting{Account: "208:" + l.Currency + ":" + l.Holder, Side: accounts.Debit, Amount: amt},
				ledger.NewPosting{Account: to + ":" + l.Currency + ":" + l.Holder, Side: accounts.Credit, Amount: amt})
			*paid = append(*paid, l.ID)
		}
		var entryID *string
		for _, part := range []struct {
			ne   *ledger.NewEntry
			paid []string
		}{{&direct, paidDirect}, {&external, paidExternal}} {
			if len(part.paid) == 0 {
				continue
			}
			res, err := s.Ledger.ApplyTx(ctx, tx, []ledger.Op{{New: part.ne}}, ledger.Options{Atomic: true, Owner: affiliate.Owner})
			if err != nil {
				if len(res) > 0 && res[0].Err != nil {
					return res[0].Err
				}
				return err
			}
			entryID = &res[0].Entry.ID
			if _, err := tx.Exec(ctx, `UPDATE payout_lines SET status = 'paid', entry_id = $2::uuid WHERE id = ANY($1::uuid[])`, part.paid, *entryID); err != nil {
				return err
			}
			if part.ne.Pending {
				if _, err := tx.Exec(ctx, `INSERT INTO payout_outbox (batch_id, url, status, next_attempt_at, entry_id, updated_at) VALUES ($1, $2, 'pending', $3, $4, $3)`,
					id, s.Webhook, now, *entryID); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_accruals SET active = false WHERE line_id IN (SELECT id FROM payout_lines WHERE batch_id = $1 AND status = 'held')`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_lines SET status = 'released' WHERE batch_id = $1 AND status = 'held'`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE payout_batches SET status = 'executed', executed_at = $2, entry_id = $3::uuid,
			executed_by = $4, executed_by_person = $5, executed_by_label = $6 WHERE id = $1`, id, now, entryID, actor, act.person(), act.Label); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, actor, "payout.execute", "payout_batch:"+id, map[string]string{"status": b.Status}, map[string]any{"status": BatchExecuted, "entry_id": entryID,
			"created_by_person": b.CreatedByPerson, "approved_by_person": b.ApprovedByPerson, "approved_by_person_label": b.ApprovedByLabel,
			"executed_by_person": act.person(), "executed_by_person_label": act.Label}); err != nil {
			return err
		}
		out, err = getBatch(ctx, tx, id)
		return err
	})
	return out, replayed, err
}

func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// linePrograms returns, per line of batch id, the programs of the accruals
// it pays.
func linePrograms(ctx context.Context, tx pgx.Tx, id string) (map[string][]string, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT p.line_id::text, a.program_id FROM payout_accruals p JOIN accruals_whole a ON a.id = p.accrual_id
		WHERE p.batch_id = $1 ORDER BY 1, 2`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var line, program string
		if err := rows.Scan(&line, &program); err != nil {
			return nil, err
		}
		out[line] = append(out[line], program)
	}
	return out, rows.Err()
}

// HolderLines returns the lines of one holder in a batch (none when the
// batch has no line of theirs or does not exist), as q sees them, without
// their fraud flags. The event feed (package events) reads them to show an
// affiliate its own part of a batch's state changes.
func HolderLines(ctx context.Context, q schema.Querier, batchID, holder string) ([]Line, error) {
	rows, err := q.Query(ctx, `SELECT id::text, currency, amount::text, status, forfeited FROM payout_lines
		WHERE batch_id = $1 AND holder = $2 ORDER BY currency`, batchID, holder)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		l := Line{BatchID: batchID, Holder: holder}
		var amt string
		if err := rows.Scan(&l.ID, &l.Currency, &amt, &l.Status, &l.Forfeited); err != nil {
			return nil, err
		}
		if l.Amount, err = ledger.ParseStored(amt); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
