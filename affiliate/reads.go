package affiliate

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// MaxChain bounds how far up a chain read walks.
const MaxChain = 100

// Chain returns a user's referrers, nearest first.
func (s *Service) Chain(ctx context.Context, id string) ([]*User, error) {
	if _, err := s.GetUser(ctx, id); err != nil {
		return nil, err
	}
	ids, err := ancestors(ctx, s.DB.Pool, id, MaxChain)
	if err != nil {
		return nil, err
	}
	users, err := loadUsers(ctx, s.DB.Pool, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*User, 0, len(ids))
	for _, a := range ids {
		if u := users[a]; u != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

// LevelCount is how many referees an affiliate has at one depth.
type LevelCount struct {
	Level int
	Count int64
}

// RefereeCounts counts an affiliate's referees level by level (1 = direct),
// down to maxLevels or until a level is empty.
func (s *Service) RefereeCounts(ctx context.Context, id string, maxLevels int) ([]LevelCount, error) {
	if _, err := s.GetUser(ctx, id); err != nil {
		return nil, err
	}
	var out []LevelCount
	frontier := []string{id}
	for level := 1; level <= maxLevels && len(frontier) > 0; level++ {
		rows, err := s.DB.Pool.Query(ctx, `SELECT id FROM users WHERE referrer_id = ANY($1)`, frontier)
		if err != nil {
			return nil, err
		}
		next, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		if len(next) == 0 {
			break
		}
		out = append(out, LevelCount{Level: level, Count: int64(len(next))})
		frontier = next
	}
	return out, nil
}

// DirectReferees lists an affiliate's direct referees in registration
// order after the cursor (registered_at, id).
func (s *Service) DirectReferees(ctx context.Context, id string, afterAt time.Time, afterID string, limit int) ([]*User, error) {
	return directReferees(ctx, s.DB.Pool, id, afterAt, afterID, limit)
}

func directReferees(ctx context.Context, q schema.Querier, id string, afterAt time.Time, afterID string, limit int) ([]*User, error) {
	return collectUsers(ctx, q, `SELECT `+userColumns+` FROM users WHERE referrer_id = $1 AND (registered_at, id) > ($2, $3)
		ORDER BY registered_at, id LIMIT $4`, id, afterAt, afterID, limit)
}

// Accrual is one accrual line.
type Accrual struct {
	ID                string
	Source            string
	TradeID           string
	EventID           string
	EntryID           string
	Beneficiary       string
	TraderID          string
	Level             int
	ProgramID         string
	Kind              string
	Rate              *apd.Decimal
	Basis             *apd.Decimal
	Amount            apd.Decimal
	Currency          string
	FXRate            *apd.Decimal
	ReportingAmount   *apd.Decimal
	ReportingCurrency string
	Market            string
	Code              string
	Reverses          string
	RecordedAt        time.Time
}

// AccrualFilter selects accruals of one beneficiary; (AfterAt, AfterID) is
// the cursor.
type AccrualFilter struct {
	Beneficiary string
	Currency    string
	TradeID     string
	Source      string
	From, To    time.Time
	AfterAt     time.Time
	AfterID     string
	Limit       int
}

// ListAccruals returns accrual lines in (recorded_at, id) order. Rows
// stored with a recorded time are read from accruals_beneficiary_stored;
// a trade's compact accruals (migration 049: no index of their own) from
// the beneficiary's 208 lines (compactAccruals); a trade's accruals (f's
// TradeID) from its trade row. All in one snapshot.
func (s *Service) ListAccruals(ctx context.Context, f AccrualFilter) ([]Accrual, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.AfterID == "" {
		f.AfterID = "00000000-0000-0000-0000-000000000000"
	}
	to := f.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var out []Accrual
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		if f.TradeID != "" {
			rows, err := tx.Query(ctx, `SELECT `+accrualColumns+`
				FROM trades t CROSS JOIN LATERAL `+sqlTradeAccrualIDs("t", "true")+` AS ids JOIN accruals_whole a ON a.id = ids.id
				WHERE t.id = $3 AND a.beneficiary = $1 AND ($2 = '' OR a.currency = $2) AND ($4 = '' OR a.source = $4)
					AND a.recorded_at >= $5 AND a.recorded_at < $6 AND (a.recorded_at, a.id) > ($7, $8::uuid)
				ORDER BY a.recorded_at, a.id LIMIT $9`, f.Beneficiary, f.Currency, f.TradeID, f.Source, f.From, to, f.AfterAt, f.AfterID, f.Limit)
			if err != nil {
				return err
			}
			out, err = scanAccruals(rows)
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+accrualColumns+`
			FROM `+sqlStoredAccrualsOf("$1")+` x JOIN accruals_whole a ON a.id = x.id
			WHERE ($2 = '' OR a.currency = $2) AND ($3 = '' OR a.source = $3)
				AND x.stored_at >= $4 AND x.stored_at < $5 AND (x.stored_at, x.id) > ($6, $7::uuid)
			ORDER BY x.stored_at, x.id LIMIT $8`, f.Beneficiary, f.Currency, f.Source, f.From, to, f.AfterAt, f.AfterID, f.Limit)
		if err != nil {
			return err
		}
		if out, err = scanAccruals(rows); err != nil {
			return err
		}
		if f.Source != "" && f.Source != "trade" {
			return nil
		}
		compact, err := compactAccruals(ctx, tx, f, to)
		if err != nil {
			return err
		}
		out = append(out, compact...)
		slices.SortFunc(out, func(a, b Accrual) int {
			if c := a.RecordedAt.Compare(b.RecordedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID) // canonical UUID text sorts as the UUID
		})
		out = out[:min(len(out), f.Limit)]
		return nil
	})
	return out, err
}

// compactAccruals returns the first f.Limit, in (recorded_at, id) order,
// of the beneficiary's compact accruals stored without a recorded time
// (migration 049) recorded in [f.From, to) after the cursor. They are the
// credits of the beneficiary's 208 accounts that book a trade's share
// (compactLine), read through the account index in each shard from the
// first entry recorded at or after the cursor (a cut: a shard's
// recorded_at never goes back along its seq, and such an accrual is
// recorded with its entry). A shard's lines come in recorded order but
// not in id order within one recorded time, so the query runs twice: the
// first finds, in each (account, shard) with f.Limit lines after the
// cursor, the time of the last of them; every accrual of the page is
// recorded at or before the earliest such time R (each of those shards
// alone has f.Limit accruals up to its time). The second reads every line
// up to R — f.Limit a shard at most, and the accruals recorded at R
// itself — and sorts.
func compactAccruals(ctx context.Context, tx pgx.Tx, f AccrualFilter, to time.Time) ([]Accrual, error) {
	accts, err := compactAccounts(ctx, tx, f.Beneficiary, f.Currency)
	if err != nil {
		return nil, err
	}
	var lo, hi []int64
	if from := f.From; !from.IsZero() || !f.AfterAt.IsZero() {
		if f.AfterAt.After(from) {
			from = f.AfterAt
		}
		cut, err := ledger.CutBefore(ctx, tx, from)
		if err != nil {
			return nil, err
		}
		lo = cut
	}
	if !f.To.IsZero() {
		cut, err := ledger.CutBefore(ctx, tx, f.To)
		if err != nil {
			return nil, err
		}
		hi = cut
	}
	cond := compactLine + ` AND p.recorded_at >= $4 AND p.recorded_at < $5 AND (p.recorded_at, x.id) > ($6, $7::uuid)`
	var last *time.Time
	err = tx.QueryRow(ctx, `SELECT min(l.recorded_at) FROM `+ledger.AccountShardsSQL("$1::text[]")+` s
		CROSS JOIN LATERAL `+ledger.AccountLinesSQL("s", "$2::bigint[]", "$3::bigint[]", "p.recorded_at", compactLineJoin("$8"), cond, "OFFSET $9 LIMIT 1")+` l`,
		accts, lo, hi, f.From, to, f.AfterAt, f.AfterID, f.Beneficiary, f.Limit-1).Scan(&last)
	if err != nil {
		return nil, err
	}
	if last != nil {
		cut, err := ledger.CutBefore(ctx, tx, last.Add(time.Microsecond))
		if err != nil {
			return nil, err
		}
		if hi == nil {
			hi = cut
		}
		for i := range min(len(hi), len(cut)) {
			hi[i] = min(hi[i], cut[i])
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+accrualColumns+` FROM `+ledger.AccountShardsSQL("$1::text[]")+` s
		CROSS JOIN LATERAL `+ledger.AccountLinesSQL("s", "$2::bigint[]", "$3::bigint[]", "x.id, p.entry_id", compactLineJoin("$8"), cond, "")+` l
		JOIN accruals_whole a ON a.id = l.id AND a.entry_id = l.entry_id
		ORDER BY a.recorded_at, a.id LIMIT $9`,
		accts, lo, hi, f.From, to, f.AfterAt, f.AfterID, f.Beneficiary, f.Limit)
	if err != nil {
		return nil, err
	}
	return scanAccruals(rows)
}

// TradeInfo explains a booked trade: its fee, program, basis, why it paid
// what it paid, its entries, accruals and reversal.
type TradeInfo struct {
	ID                string
	UserID            string
	Market            string
	Liquidity         string
	Product           string
	Fee               apd.Decimal
	FeeCurrency       string
	FeeComputed       bool
	ExecutedAt        time.Time
	RecordedAt        time.Time
	ProgramID         string
	ProgramKind       string
	Basis             apd.Decimal
	Explanation       map[string]any
	FeeEntryID        string
	CommissionEntryID string
	Reversed          bool
	Accruals          []Accrual
}

// GetTrade returns a booked trade with its explanation and accruals.
func (s *Service) GetTrade(ctx context.Context, id string) (*TradeInfo, error) {
	t := &TradeInfo{}
	var fee, basis, expl string
	err := s.DB.Pool.QueryRow(ctx, `SELECT t.id, t.user_id, t.market, t.liquidity, t.fee_amount::text, t.fee_currency, t.fee_computed, t.executed_at,
			t.recorded_at, coalesce(t.program_id, ''), coalesce(t.program_kind, ''), t.basis::text, t.explanation::text, t.fee_entry_id::text,
			t.commission_entry_id::text, EXISTS (SELECT 1 FROM trade_reversals r WHERE r.trade_id = t.id), t.product
		FROM trades t WHERE t.id = $1`, id).Scan(&t.ID, &t.UserID, &t.Market, &t.Liquidity, &fee, &t.FeeCurrency, &t.FeeComputed, &t.ExecutedAt,
		&t.RecordedAt, &t.ProgramID, &t.ProgramKind, &basis, &expl, &t.FeeEntryID, &t.CommissionEntryID, &t.Reversed, &t.Product)
	if isNoRows(err) {
		return nil, notFound("trade", id)
	}
	if err != nil {
		return nil, err
	}
	t.ExecutedAt, t.RecordedAt = t.ExecutedAt.UTC(), t.RecordedAt.UTC()
	if t.Fee, err = ledger.ParseStored(fee); err != nil {
		return nil, err
	}
	if t.Basis, err = ledger.ParseStored(basis); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(expl), &t.Explanation); err != nil {
		return nil, err
	}
	t.Explanation = explanationRead(t.Explanation, t.ProgramID, t.ProgramKind, &t.Basis)
	rows, err := s.DB.Pool.Query(ctx, `SELECT DISTINCT a.beneficiary FROM trades t CROSS JOIN LATERAL `+sqlTradeAccrualIDs("t", "true")+` AS ids
		JOIN accruals_whole a ON a.id = ids.id WHERE t.id = $1`, id)
	if err != nil {
		return nil, err
	}
	bens, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, b := range bens {
		as, err := s.ListAccruals(ctx, AccrualFilter{Beneficiary: b, TradeID: id, Limit: 1000})
		if err != nil {
			return nil, err
		}
		t.Accruals = append(t.Accruals, as...)
	}
	if _, ok := t.Explanation["platform"]; !ok {
		if t.Explanation["platform"], err = platformOf(&t.Fee, t.Accruals); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// RegisteredUsers returns those of ids that are registered users, in no
// particular order; the others (any text) are ignored. The API uses it to
// find the user ids inside free text that it masks for affiliate keys.
func (s *Service) RegisteredUsers(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.DB.Pool.Query(ctx, `SELECT id FROM users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// accrualColumns are the columns scanAccruals reads, for an accruals table
// aliased a.
const accrualColumns = `a.id::text, a.source, coalesce(a.trade_id, ''), coalesce(a.event_id, ''), a.entry_id::text, a.beneficiary, a.trader_id, a.level,
	a.program_id, a.kind, a.rate::text, a.basis::text, a.amount::text, a.currency, a.fx_rate::text, a.reporting_amount::text, a.reporting_currency,
	a.market, a.code, coalesce(a.reverses::text, ''), a.recorded_at`

// scanAccruals reads rows of accrualColumns, closing rows.
func scanAccruals(rows pgx.Rows) ([]Accrual, error) {
	out, _, err := scanAccrualRows(rows, false)
	return out, err
}

// scanAccrualRows reads rows of accrualColumns, preceded by a BIGINT
// position when withPos, closing rows.
func scanAccrualRows(rows pgx.Rows, withPos bool) ([]Accrual, []int64, error) {
	defer rows.Close()
	var out []Accrual
	var positions []int64
	for rows.Next() {
		var a Accrual
		var level, pos int64
		var rate, basis, fx, rep *string
		var amt string
		dst := []any{&a.ID, &a.Source, &a.TradeID, &a.EventID, &a.EntryID, &a.Beneficiary, &a.TraderID, &level, &a.ProgramID, &a.Kind,
			&rate, &basis, &amt, &a.Currency, &fx, &rep, &a.ReportingCurrency, &a.Market, &a.Code, &a.Reverses, &a.RecordedAt}
		if withPos {
			dst = append([]any{&pos}, dst...)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, nil, err
		}
		a.Level, a.RecordedAt = int(level), a.RecordedAt.UTC()
		var err error
		for _, x := range []struct {
			dst **apd.Decimal
			s   *string
		}{{&a.Rate, rate}, {&a.Basis, basis}, {&a.FXRate, fx}, {&a.ReportingAmount, rep}} {
			if *x.dst, err = ledger.ParseStoredOptional(x.s); err != nil {
				return nil, nil, err
			}
		}
		if a.Amount, err = ledger.ParseStored(amt); err != nil {
			return nil, nil, err
		}
		out = append(out, a)
		positions = append(positions, pos)
	}
	return out, positions, rows.Err()
}

// AccrualsAt returns the accruals booked by the journal entries of one
// shard with after < seq <= through, as q sees them, ordered by the seq of
// the entry that booked them (Accrual.EntryID), then level and id. A
// trade's accruals carry the position of its commission entry (through
// the trade row), a bounty's or reversal's their own: both are the
// position of the entry named by EntryID. beneficiary, when not "", keeps
// only that beneficiary's accruals. The event feed (package events) reads
// accruals through this, beside ledger.ShardEntries over the same range.
// seqs[i] is the seq of the entry that booked accruals[i].
func AccrualsAt(ctx context.Context, q schema.Querier, shard int, after, through int64, beneficiary string) (accruals []Accrual, seqs []int64, err error) {
	rows, err := q.Query(ctx, `SELECT a.pos, `+accrualColumns+` FROM (
			SELECT t.seq AS pos, a.* FROM trades t CROSS JOIN LATERAL `+sqlTradeAccrualIDs("t", "x.source = 'trade'")+` AS ids
				JOIN accruals_whole a ON a.id = ids.id
			WHERE t.shard = $1 AND t.seq > $2 AND t.seq <= $3
			UNION ALL
			SELECT a.seq AS pos, a.* FROM accruals_whole a
			WHERE a.source <> 'trade' AND a.shard = $1 AND a.seq > $2 AND a.seq <= $3
		) AS a
		WHERE $4 = '' OR a.beneficiary = $4
		ORDER BY a.pos, a.level, a.id`, shard, after, through, beneficiary)
	if err != nil {
		return nil, nil, err
	}
	return scanAccrualRows(rows, true)
}
