package affiliate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// The statistics folder (see "Statistics: folded off the writer" in
// doc.go). Booking a trade writes its trade row and accrual rows with the
// commission entry's journal position (shard, seq); the folder folds the
// committed rows of each shard, in seq order, past that shard's
// watermark (stats_fold_marks) into the rollups, and moves the watermark
// in the same transaction. Statistics reads add the unfolded tail, so
// their answers never depend on how far the folder has got.

// DefaultFoldBatch is how many accrual rows one fold transaction reads at
// most per shard (all rows of its last seq are always taken together).
const DefaultFoldBatch = 5000

// errFoldRaced is a fold whose watermark another folder moved first: its
// transaction is rolled back and the next round starts from the new mark.
var errFoldRaced = errors.New("affiliate: another folder moved the watermark")

// FoldStats folds, for every journal shard, at most batch accrual rows
// (DefaultFoldBatch when batch ≤ 0) past the shard's watermark into the
// statistics rollups and the referred volume, and revalues a batch of
// unpriced accruals whose rate has arrived. It returns how many accrual
// and trade rows it folded; 0 means the rollups were caught up when it
// looked. Safe to run from several processes at once: a watermark moves
// only from the value the transaction read (SERIALIZABLE, retried).
func (s *Service) FoldStats(ctx context.Context, batch int) (int, error) {
	n, _, err := s.foldStats(ctx, batch)
	return n, err
}

// foldStats is FoldStats also saying whether a shard had more to fold than
// one batch (more: the next round should start at once).
func (s *Service) foldStats(ctx context.Context, batch int) (total int, more bool, err error) {
	if batch <= 0 {
		batch = DefaultFoldBatch
	}
	var heads []ledger.Head
	if err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		heads, err = ledger.Heads(ctx, tx)
		return err
	}); err != nil {
		return 0, false, err
	}
	for _, h := range heads {
		var n int
		var capped bool
		err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
			var err error
			n, capped, err = s.foldShard(ctx, tx, h.Shard, h.Seq, batch)
			return err
		})
		if errors.Is(err, errFoldRaced) {
			more = true
			continue
		}
		if err != nil {
			return total, more, fmt.Errorf("fold statistics of shard %d: %w", h.Shard, err)
		}
		total += n
		more = more || capped
	}
	rolled, err := s.rollDays(ctx)
	switch {
	case errors.Is(err, errFoldRaced):
		more = true
	case err != nil:
		return total, more, fmt.Errorf("roll closed hours into the daily statistics: %w", err)
	}
	n, err := s.revalue(ctx, batch)
	return total + n, more || rolled || n >= batch, err
}

// FoldAllStats folds until the rollups are caught up with what was
// committed when it started folding (tests, `folio serve` at start-up).
func (s *Service) FoldAllStats(ctx context.Context) error {
	for {
		n, err := s.FoldStats(ctx, 0)
		if err != nil || n == 0 {
			return err
		}
	}
}

// RunFolder folds statistics until ctx ends: a round every idle, or at
// once after a round that left a shard more than one batch behind. Waiting
// for idle when there is work is the point: a round costs about a dozen
// statements per shard whatever it folds, so folding whatever a second
// brought in one round, instead of chasing every commit, keeps that cost
// per second rather than per group commit (with 64 clients of one trade
// each, continuous rounds folded a few dozen trades each). The rollups are
// at most about idle late, never wrong: reads add the unfolded tail.
// Errors are reported to logf and retried at the next round.
func (s *Service) RunFolder(ctx context.Context, idle time.Duration, logf func(format string, args ...any)) {
	if idle <= 0 {
		idle = time.Second
	}
	for {
		_, more, err := s.foldStats(ctx, 0)
		if err != nil && ctx.Err() == nil && logf != nil {
			logf("statistics folder: %v", err)
		}
		wait := idle
		if err == nil && more {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// foldMarks returns the watermark of every shard that has one.
func foldMarks(ctx context.Context, q schema.Querier) (map[int]int64, error) {
	rows, err := q.Query(ctx, `SELECT shard, seq FROM stats_fold_marks`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	marks := map[int]int64{}
	for rows.Next() {
		var sh, seq int64
		if err := rows.Scan(&sh, &seq); err != nil {
			return nil, err
		}
		marks[int(sh)] = seq
	}
	return marks, rows.Err()
}

// foldShard folds one shard's rows past its watermark, up to the seq of
// its batch-th trade (or accrual without a trade) and never past head, the
// shard's head read before the transaction began: the rows of every seq up
// to it were committed then (a shard's seqs are commit-ordered), so this
// later snapshot sees them all. Reading the head in an earlier read-only
// transaction keeps the journal's hot head row out of the fold's
// read-write transaction (no serialization conflict with the writers).
func (s *Service) foldShard(ctx context.Context, tx pgx.Tx, shard int, head int64, batch int) (n int, capped bool, err error) {
	var mark int64
	err = tx.QueryRow(ctx, `SELECT seq FROM stats_fold_marks WHERE shard = $1`, shard).Scan(&mark)
	if err != nil && !isNoRows(err) {
		return 0, false, err
	}
	if head <= mark {
		return 0, false, nil
	}
	roll := newRollup()
	// What the writer handed over where it continues the watermark
	// (foldmem.go), and the rows read back where it does not: up to the
	// next held segment, whose run is then taken in the same round, so a
	// gap (a manual entry, a bounty) costs one read rather than a round.
	// A round ends at the head, or after about batch trades (read back:
	// accruals), or after maxFoldSteps reads.
	through := mark
	var segs []foldSegment
	var readBack [][2]int64 // the positions read back, (from, to]
	fromDB, fromMemory, budget := 0, 0, batch
	for step := 0; through < head && budget > 0 && step < maxFoldSteps; step++ {
		held, next := s.foldMem.take(shard, through, head, budget)
		if len(held) > 0 {
			for i := range held {
				for j := range held[i].rows {
					f := &held[i].rows[j]
					if err := roll.add(&f.accrualRow, f.rep, f.feeRep); err != nil {
						return 0, false, err
					}
				}
				fromMemory += len(held[i].rows)
				budget -= held[i].trades
				through = held[i].to
			}
			segs = append(segs, held...)
			continue
		}
		end := head
		if next > 0 {
			end = min(end, next)
		}
		if end, err = foldBatchEnd(ctx, tx, shard, through, end, budget); err != nil {
			return 0, false, err
		}
		// The rows go straight into the rollup as they are read (a batch
		// is up to DefaultFoldBatch trades' accruals: collecting them
		// first cost a fifth of the folder's CPU in growing the slice).
		read := 0
		err = eachFoldRow(ctx, tx, func(f *foldRow) error {
			read++
			return roll.add(&f.accrualRow, f.rep, f.feeRep)
		}, tradesAt, `a.shard = $1 AND a.seq > $2 AND a.seq <= $3`, int64(shard), through, end)
		if err != nil {
			return 0, false, err
		}
		readBack = addSpan(readBack, through, end)
		fromDB, budget, through = fromDB+read, budget-max(read, 1), end
		if next == 0 || end != next {
			break // at the head or the batch's end, or nothing held past it
		}
	}
	if err := roll.write(ctx, s.DB, tx); err != nil {
		return 0, false, err
	}
	vol, err := s.foldVolumes(ctx, tx, segs, readBack, shard)
	if err != nil {
		return 0, false, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO stats_fold_marks AS m (shard, seq, folded_at) VALUES ($1, $2, $3)
		ON CONFLICT (shard) DO UPDATE SET seq = excluded.seq, folded_at = excluded.folded_at WHERE m.seq = $4`,
		shard, through, s.now(), mark)
	if err != nil {
		return 0, false, err
	}
	if tag.RowsAffected() != 1 {
		return 0, false, errFoldRaced
	}
	s.folded.memory.Add(int64(fromMemory))
	s.folded.database.Add(int64(fromDB))
	return fromDB + fromMemory + vol.trades + 1, through < head, nil
}

// foldVolumes folds the volume of the trades read back at readBack and of
// the segments segs into the referred volume and the traders' own volume.
// A segment carries its trades' volumes and each trader's referrer at
// booking. The referred volume takes the referrer at folding, which is the
// one at booking only if no user changed since: a segment's volumes are
// used only while the users' cache version is the one it was booked under,
// and the trades of the others are read back too (one query per run of
// positions).
func (s *Service) foldVolumes(ctx context.Context, tx pgx.Tx, segs []foldSegment, readBack [][2]int64, shard int) (*volumeFold, error) {
	var ts []tradeVolume
	if len(segs) > 0 {
		version, err := usersVersion(ctx, tx)
		if err != nil {
			return nil, err
		}
		for i := range segs {
			if sg := &segs[i]; sg.usersVersion == version {
				ts = append(ts, sg.volumes...)
			} else {
				readBack = addSpan(readBack, sg.from, sg.to)
			}
		}
	}
	for _, r := range readBack {
		read, err := readVolumes(ctx, tx, tradesAt, int64(shard), r[0], r[1])
		if err != nil {
			return nil, err
		}
		ts = append(ts, read...)
	}
	vol, err := sumReferredVolume(ctx, tx, s.reporting(), ts)
	if err != nil {
		return nil, err
	}
	if err := vol.write(ctx, tx); err != nil {
		return nil, err
	}
	return vol, writeOwnVolume(ctx, tx, ts)
}

// tradesAt is the condition, over trades t, of the trades at positions
// ($2, $3] of shard $1.
const tradesAt = `t.shard = $1 AND t.seq > $2 AND t.seq <= $3`

// addSpan adds the positions (from, to] to spans, extending the last span
// when they continue it.
func addSpan(spans [][2]int64, from, to int64) [][2]int64 {
	if n := len(spans); n > 0 && spans[n-1][1] == from {
		spans[n-1][1] = to
		return spans
	}
	return append(spans, [2]int64{from, to})
}

// maxFoldSteps bounds the reads and takes of one fold round of a shard
// (foldShard), whatever the gaps between the segments held.
const maxFoldSteps = 64

// foldBatchEnd is where a fold from the database past mark stops: at the
// seq of the batch-th trade or of the batch-th accrual without a trade
// (bounties, reversals), whichever comes first, and never past through.
func foldBatchEnd(ctx context.Context, tx pgx.Tx, shard int, mark, through int64, batch int) (int64, error) {
	for _, sql := range []string{
		`SELECT seq FROM trades WHERE shard = $1 AND seq > $2 AND seq <= $3 ORDER BY seq OFFSET $4 LIMIT 1`,
		`SELECT seq FROM accruals_whole WHERE source <> 'trade' AND shard = $1 AND seq > $2 AND seq <= $3 ORDER BY seq OFFSET $4 LIMIT 1`,
	} {
		var nth int64
		err := tx.QueryRow(ctx, sql, shard, mark, through, batch-1).Scan(&nth)
		switch {
		case err == nil:
			through = min(through, nth)
		case !isNoRows(err):
			return 0, err
		}
	}
	return through, nil
}

// foldRow is an accrual as the folder and the statistics tail read it.
type foldRow struct {
	accrualRow
	rep, feeRep *apd.Decimal // nil: unpriced
}

// readFoldRows reads, with their revaluation if any, the accruals of the
// trades matching tradeWhere (over trades t and accruals a) and the
// accruals without a trade row (bounties, reversals) matching otherWhere
// (over accruals a); both conditions take the same args. A trade's
// accruals have the trade's position and business time (executed_at).
func readFoldRows(ctx context.Context, q schema.Querier, tradeWhere, otherWhere string, args ...any) ([]foldRow, error) {
	var out []foldRow
	err := eachFoldRow(ctx, q, func(f *foldRow) error {
		out = append(out, *f)
		return nil
	}, tradeWhere, otherWhere, args...)
	return out, err
}

// eachFoldRow is readFoldRows handing each row to each as it is read.
func eachFoldRow(ctx context.Context, q schema.Querier, each func(*foldRow) error, tradeWhere, otherWhere string, args ...any) error {
	const cols = `a.source, a.beneficiary, a.trader_id, a.level, a.market, a.code, a.currency, a.program_id, a.country,
			%s, a.amount::text, a.trade_fee::text, a.volume_reporting::text,
			coalesce(a.reporting_amount, r.reporting_amount)::text, coalesce(a.fee_reporting, r.fee_reporting)::text`
	const reval = ` LEFT JOIN accrual_revaluations r ON a.reporting_amount IS NULL AND r.accrual_id = a.id`
	rows, err := q.Query(ctx, `SELECT `+fmt.Sprintf(cols, "coalesce(a.business_at, t.executed_at)")+`
		FROM trades t CROSS JOIN LATERAL `+sqlTradeAccrualIDs("t", "x.source = 'trade'")+` AS ids JOIN accruals_whole a ON a.id = ids.id`+reval+`
		WHERE `+tradeWhere+`
		UNION ALL
		SELECT `+fmt.Sprintf(cols, "a.business_at")+` FROM accruals_whole a`+reval+`
		WHERE a.source <> 'trade' AND `+otherWhere, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f foldRow
		var level int64
		var amt string
		var fee, vol, rep, feeRep *string
		if err := rows.Scan(&f.source, &f.beneficiary, &f.trader, &level, &f.market, &f.code, &f.currency, &f.program, &f.country,
			&f.at, &amt, &fee, &vol, &rep, &feeRep); err != nil {
			return err
		}
		f.level = int(level)
		switch f.source {
		case "trade":
			f.trades = 1
		case "reversal":
			f.trades = -1
		}
		var err error
		if f.amount, err = ledger.ParseStored(amt); err != nil {
			return err
		}
		for _, x := range []struct {
			dst **apd.Decimal
			s   *string
		}{{&f.fee, fee}, {&f.volumeRep, vol}, {&f.rep, rep}, {&f.feeRep, feeRep}} {
			if *x.dst, err = ledger.ParseStoredOptional(x.s); err != nil {
				return err
			}
		}
		if err := each(&f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// volumeFold is referred volume per (direct referrer, UTC day of
// execution), in the reporting currency.
type volumeFold struct {
	by     map[volumeKey]*volumeSum
	trades int
}

type volumeKey struct {
	affiliate string
	day       time.Time
}

type volumeSum struct {
	volume apd.Decimal
	trades int64
}

// tradeVolume is a trade's volume as the volume folds need it: its
// trader, the trader's referrer ("" without one), its execution time.
type tradeVolume struct {
	user, referrer string
	at             time.Time
	amount         apd.Decimal
	currency       string
}

// referredVolume reads the trades matching where (over trades t and their
// traders u, with args) that have a volume and a trader with a referrer,
// and sums their volume per referrer (sumReferredVolume).
func referredVolume(ctx context.Context, q schema.Querier, rep, where string, args ...any) (*volumeFold, error) {
	ts, err := readVolumes(ctx, q, `u.referrer_id IS NOT NULL AND `+where, args...)
	if err != nil {
		return nil, err
	}
	return sumReferredVolume(ctx, q, rep, ts)
}

// readVolumes reads the trades matching where (over trades t and their
// traders u, with args) that have a volume, with their traders' referrers
// as they are now.
func readVolumes(ctx context.Context, q schema.Querier, where string, args ...any) ([]tradeVolume, error) {
	rows, err := q.Query(ctx, `SELECT t.user_id, coalesce(u.referrer_id, ''), t.executed_at, t.volume_amount::text, t.volume_currency
		FROM trades t JOIN users u ON u.id = t.user_id
		WHERE t.volume_amount IS NOT NULL AND `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []tradeVolume
	for rows.Next() {
		var t tradeVolume
		var v string
		if err := rows.Scan(&t.user, &t.referrer, &t.at, &v, &t.currency); err != nil {
			return nil, err
		}
		if t.amount, err = ledger.ParseStored(v); err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// sumReferredVolume sums the volume of the trades ts whose trader has a
// referrer, per (referrer, UTC day of execution), converted at the rate in
// force at execution (a volume in a currency without a rate then counts
// the trade and no volume).
func sumReferredVolume(ctx context.Context, q schema.Querier, rep string, ts []tradeVolume) (*volumeFold, error) {
	times := map[string][]time.Time{}
	for i := range ts {
		if ts[i].referrer != "" {
			times[ts[i].currency] = append(times[ts[i].currency], ts[i].at)
		}
	}
	cache := rateCache{}
	for cur, at := range times {
		if err := rateWindow(ctx, q, cache, cur, rep, at); err != nil {
			return nil, err
		}
	}
	vf := &volumeFold{by: map[volumeKey]*volumeSum{}}
	for i := range ts {
		t := &ts[i]
		if t.referrer == "" {
			continue
		}
		vf.trades++
		fx, err := fxRate(ctx, q, cache, t.currency, rep, t.at)
		if err != nil {
			return nil, err
		}
		conv, err := convert(&t.amount, fx)
		if err != nil {
			return nil, err
		}
		k := volumeKey{t.referrer, t.at.UTC().Truncate(24 * time.Hour)}
		v := vf.by[k]
		if v == nil {
			v = &volumeSum{}
			vf.by[k] = v
		}
		if conv != nil {
			if _, err := exact.Add(&v.volume, &v.volume, conv); err != nil {
				return nil, err
			}
		}
		v.trades++
	}
	return vf, nil
}

// total is the volume summed over every key.
func (vf *volumeFold) total() (apd.Decimal, error) {
	var sum apd.Decimal
	for _, v := range vf.by {
		if _, err := exact.Add(&sum, &sum, &v.volume); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// write adds the referred volume rows in key order (see rollupSQL).
func (vf *volumeFold) write(ctx context.Context, q schema.Querier) error {
	if len(vf.by) == 0 {
		return nil
	}
	keys := make([]volumeKey, 0, len(vf.by))
	for k := range vf.by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].affiliate != keys[j].affiliate {
			return keys[i].affiliate < keys[j].affiliate
		}
		return keys[i].day.Before(keys[j].day)
	})
	affs, days, vols, counts := make([]string, len(keys)), make([]time.Time, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		affs[i], days[i], vols[i], counts[i] = k.affiliate, k.day, ledger.Format(&vf.by[k].volume), vf.by[k].trades
	}
	return sqlReferredVolume.write(ctx, q, len(keys), []any{affs, days, vols, counts})
}

// sqlReferredVolume writes referred volume per (direct referrer, day).
var sqlReferredVolume = newRollupSQL("referred_volume_daily", []column{{"affiliate_id", "text"}, {"day", "timestamptz"}},
	[]column{{"volume", "numeric"}, {"trades", "bigint"}})

// tailWhere is the condition, over rows with columns prefix+"shard" and
// prefix+"seq" (trades, or accruals without a trade), of the rows no fold has reached: past
// their shard's watermark, for every shard of heads (a shard without a
// watermark is at 0). One range per shard, so the position index serves
// it. It returns the SQL and its arguments numbered from first.
func tailWhere(prefix string, heads []ledger.Head, marks map[int]int64, first int) (string, []any) {
	if len(heads) == 0 {
		return "false", nil
	}
	sql := "("
	var args []any
	for i, h := range heads {
		if i > 0 {
			sql += " OR "
		}
		sql += fmt.Sprintf("(%[1]sshard = $%[2]d AND %[1]sseq > $%[3]d)", prefix, first+2*i, first+2*i+1)
		args = append(args, int64(h.Shard), marks[h.Shard])
	}
	return sql + ")", args
}

// foldPosition is what a read needs to add the unfolded tail: the shards
// and their watermarks, read in the reader's snapshot.
func foldPosition(ctx context.Context, q schema.Querier) ([]ledger.Head, map[int]int64, error) {
	heads, err := ledger.Heads(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	marks, err := foldMarks(ctx, q)
	return heads, marks, err
}

// revalue prices, at most batch at a time, the unpriced accruals whose
// currency now has a rate in force at their business time: it records a
// revaluation (accruals are append-only) and, for an accrual already
// folded, moves its figures from unpriced to priced in the rollups. An
// accrual still in the tail is priced by the read that folds it.
func (s *Service) revalue(ctx context.Context, batch int) (int, error) {
	total := 0
	err := s.DB.Tx(ctx, func(tx pgx.Tx) error {
		total = 0
		marks, err := foldMarks(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT a.id::text, a.source, a.beneficiary, a.trader_id, a.level, a.market, a.code, a.currency, a.program_id, a.country,
				coalesce(a.business_at, t.executed_at), a.amount::text, a.trade_fee::text, coalesce(a.shard, t.shard), coalesce(a.seq, t.seq)
			FROM accruals_whole a LEFT JOIN trades t ON a.source = 'trade' AND t.id = a.trade_id
			WHERE a.reporting_amount IS NULL AND a.currency <> a.reporting_currency
				AND NOT EXISTS (SELECT 1 FROM accrual_revaluations r WHERE r.accrual_id = a.id)
				AND EXISTS (SELECT 1 FROM fx_rates f WHERE ((f.base = a.currency AND f.quote = $1) OR (f.base = $1 AND f.quote = a.currency)) AND f.at <= coalesce(a.business_at, t.executed_at))
			ORDER BY a.currency, a.id LIMIT $2`, s.reporting(), batch)
		if err != nil {
			return err
		}
		type unpriced struct {
			id string
			foldRow
			shard int64
			seq   int64
		}
		var us []unpriced
		for rows.Next() {
			var u unpriced
			var level int64
			var amt string
			var fee *string
			if err := rows.Scan(&u.id, &u.source, &u.beneficiary, &u.trader, &level, &u.market, &u.code, &u.currency, &u.program, &u.country,
				&u.at, &amt, &fee, &u.shard, &u.seq); err != nil {
				rows.Close()
				return err
			}
			u.level = int(level)
			if u.amount, err = ledger.ParseStored(amt); err != nil {
				rows.Close()
				return err
			}
			if u.fee, err = ledger.ParseStoredOptional(fee); err != nil {
				rows.Close()
				return err
			}
			us = append(us, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(us) == 0 {
			return nil
		}
		now := s.now()
		cache := rateCache{}
		moved := newRollup()
		var ids, fxs, reps []string
		var feeReps []*string
		for _, u := range us {
			fx, err := fxRate(ctx, tx, cache, u.currency, s.reporting(), u.at)
			if err != nil {
				return err
			}
			if fx == nil {
				continue
			}
			rep, err := convert(&u.amount, fx)
			if err != nil {
				return err
			}
			feeRep, err := convert(u.fee, fx)
			if err != nil {
				return err
			}
			ids, fxs, reps, feeReps = append(ids, u.id), append(fxs, ledger.Format(fx)), append(reps, ledger.Format(rep)), append(feeReps, decText(feeRep))
			if u.seq > marks[int(u.shard)] {
				continue
			}
			// Folded as unpriced: add the priced figures and take back the
			// unpriced ones, nothing else (the row was already counted).
			f := rollupFigures{}
			if _, err := exact.Add(&f.commissionRep, &f.commissionRep, rep); err != nil {
				return err
			}
			if feeRep != nil {
				f.feesRep.Set(feeRep)
			}
			f.unpricedCom.Neg(&u.amount)
			if u.fee != nil {
				f.unpricedFees.Neg(u.fee)
			}
			if err := moved.addFigures(&u.accrualRow, &f); err != nil {
				return err
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO accrual_revaluations (accrual_id, fx_rate, reporting_amount, fee_reporting, revalued_at)
			SELECT id::uuid, fx::numeric, rep::numeric, feerep::numeric, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, fx, rep, feerep)`,
			ids, fxs, reps, feeReps, now); err != nil {
			return err
		}
		total = len(ids)
		return moved.write(ctx, s.DB, tx)
	})
	return total, err
}

// refereeFigures returns, for referees ids of affiliate, the volume,
// commission (reporting currency) and trades they generated for it: the
// referee rollup plus the accruals no fold has reached, read in tx's one
// snapshot so that nothing counts twice.
func refereeFigures(ctx context.Context, tx pgx.Tx, affiliate string, ids []string) (map[string]Referral, error) {
	rows, err := tx.Query(ctx, `SELECT referee_id, sum(volume_reporting)::text, sum(commission_reporting)::text, sum(trades)
		FROM affiliate_referee_daily WHERE affiliate_id = $1 AND referee_id = ANY($2) GROUP BY 1`, affiliate, ids)
	if err != nil {
		return nil, err
	}
	sums := map[string]Referral{}
	for rows.Next() {
		var id, v, c string
		var r Referral
		if err := rows.Scan(&id, &v, &c, &r.Trades); err != nil {
			rows.Close()
			return nil, err
		}
		if r.Volume, err = ledger.ParseStored(v); err != nil {
			rows.Close()
			return nil, err
		}
		if r.Commission, err = ledger.ParseStored(c); err != nil {
			rows.Close()
			return nil, err
		}
		sums[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	heads, marks, err := foldPosition(ctx, tx)
	if err != nil {
		return nil, err
	}
	tradeTail, tailArgs := tailWhere("t.", heads, marks, 3)
	otherTail, _ := tailWhere("a.", heads, marks, 3)
	tail, err := readFoldRows(ctx, tx, `a.beneficiary = $1 AND a.trader_id = ANY($2) AND `+tradeTail,
		`a.beneficiary = $1 AND a.trader_id = ANY($2) AND `+otherTail, append([]any{affiliate, ids}, tailArgs...)...)
	if err != nil {
		return nil, err
	}
	for i := range tail {
		f := &tail[i]
		r := sums[f.trader]
		for _, x := range []struct{ dst, v *apd.Decimal }{{&r.Volume, f.volumeRep}, {&r.Commission, f.rep}} {
			if x.v == nil {
				continue
			}
			if _, err := exact.Add(x.dst, x.dst, x.v); err != nil {
				return nil, err
			}
		}
		r.Trades += f.trades
		sums[f.trader] = r
	}
	return sums, nil
}
