package affiliate

import (
	"sync"
	"sync/atomic"
)

// Folding from the writer's memory (see "Statistics: folded off the
// writer" in doc.go). The folder's costliest statement was reading back
// the accruals the writer had just written: a join of trades, accruals
// and revaluations, and a decimal parse of every figure. The trade writer
// has those rows in memory, priced; once its transaction has committed
// (Booked.Committed) it hands them over as a segment: every accrual of a
// run of journal positions (from, to] of one shard that its transaction
// wrote alone. The folder folds a segment from memory when it starts
// exactly where the fold has got to, and reads the database otherwise, in
// the same round: the gap before a segment (entries of other writers or
// processes), a segment that another process's fold cut into, segments
// dropped for room, and every position after a restart. Both give the
// same rollups (the rows are the committed ones, with the same figures);
// the test TestFoldFromMemoryMatchesDatabase compares them.
//
// A segment holding an unpriced accrual is never handed over: a
// revaluation recorded before the fold must reach the rollups, and only
// the read joins it.

// maxFoldMemoryRows bounds the accrual rows held for the folder (about
// half a kilobyte each: ~60 MB at most). Past it the oldest segments of
// the shard are dropped and folded from the database. It is a few rounds
// at the bench's rates: at ~6,000 trades/s (2.8 accruals each) a round's
// wait and its own ~1 s hold ~35k rows; with room for 40k, a slow round
// dropped segments, the next read them from the database and took longer
// still (17k accruals a second: 50–90% from memory in 8 × 500 runs of
// 2026-12-07, against 100% below ~5,500 trades/s).
const maxFoldMemoryRows = 120000

// foldSegment is what one committed transaction booked in one shard: the
// positions (from, to], all its own, and the accruals written at them.
type foldSegment struct {
	shard    int
	from, to int64
	trades   int
	rows     []foldRow
	// volumes are the trades' volumes with their traders' referrers, as
	// the booking read them under users' cache version usersVersion.
	volumes      []tradeVolume
	usersVersion int64
}

// foldMemory is the segments handed over and not yet folded, per shard in
// seq order.
type foldMemory struct {
	mu     sync.Mutex
	shards map[int][]foldSegment
	rows   int
	limit  int
}

func newFoldMemory(limit int) *foldMemory {
	return &foldMemory{shards: map[int][]foldSegment{}, limit: limit}
}

// push adds committed segments. A segment that does not follow the last
// one of its shard (another writer's entries between them) is kept: the
// gap is folded from the database. Past the limit the shard's oldest
// segments go first; a segment that alone exceeds it is not kept.
func (m *foldMemory) push(segs []foldSegment) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sg := range segs {
		if len(sg.rows) > m.limit {
			continue
		}
		q := m.shards[sg.shard]
		for len(q) > 0 && m.rows+len(sg.rows) > m.limit {
			m.rows -= len(q[0].rows)
			q = q[1:]
		}
		if m.rows+len(sg.rows) > m.limit {
			m.shards[sg.shard] = q
			continue
		}
		m.shards[sg.shard] = append(q, sg)
		m.rows += len(sg.rows)
	}
}

// take returns the segments of shard that continue its watermark mark
// without a gap, ending at or before head, and holding at most batch
// trades (always the first one); the segments up to mark are forgotten.
// Without such a segment it returns nil and the seq where the next held
// segment starts (0: none), where a read from the database should stop so
// that the fold continues from memory. The segments are not removed: a
// fold transaction retried takes them again.
func (m *foldMemory) take(shard int, mark, head int64, batch int) ([]foldSegment, int64) {
	if m == nil {
		return nil, 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.shards[shard]
	// Forget what is folded, and a segment the watermark cut into
	// (another process folded part of it from the database).
	for len(q) > 0 && q[0].from < mark {
		m.rows -= len(q[0].rows)
		q = q[1:]
	}
	m.shards[shard] = q
	if len(q) == 0 {
		return nil, 0
	}
	if q[0].from > mark {
		return nil, q[0].from
	}
	var out []foldSegment
	trades, at := 0, mark
	for _, sg := range q {
		if sg.from != at || sg.to > head || (len(out) > 0 && trades+sg.trades > batch) {
			break
		}
		out = append(out, sg)
		trades, at = trades+sg.trades, sg.to
	}
	return out, 0
}

// Booked is what BookTradesTx booked in the caller's transaction: one
// result per trade, in order, and the accruals the statistics folder can
// fold from memory once that transaction has committed, and what it
// changed that preparing a later batch reads (Touched).
type Booked struct {
	Results []TradeResult
	mem     *foldMemory
	fold    []foldSegment
	touched *Touched
}

// Committed hands the booked accruals to the statistics folder. Call it
// after the transaction committed, and never for one that did not: the
// folder would fold rows that do not exist. Not calling it is always
// safe (the folder reads them from the database).
func (b *Booked) Committed() {
	if b == nil {
		return
	}
	b.mem.push(b.fold)
	b.fold = nil
}

// foldSegments builds the segments of posted trades, per shard: each
// trade's fee and commission entries are at (feeSeq, seq), and a shard's
// trades make a segment when their entries fill the positions from the
// first to the last without a gap (nothing else was written between them
// in this transaction) and every accrual is priced. b holds the traders
// and the users' cache version the batch was booked under.
func foldSegments(b *tradeBatch, posted []*tradeWork, rows []foldRow) []foldSegment {
	byShard := map[int]*foldSegment{}
	var order []int
	unpriced := map[int]bool{}
	for _, w := range posted {
		sg := byShard[w.shard]
		if sg == nil {
			sg = &foldSegment{shard: w.shard, from: w.feeSeq - 1, to: w.seq, usersVersion: b.usersVersion}
			byShard[w.shard] = sg
			order = append(order, w.shard)
		}
		sg.from, sg.to = min(sg.from, w.feeSeq-1), max(sg.to, w.seq)
		sg.trades++
		if w.volume != nil {
			sg.volumes = append(sg.volumes, tradeVolume{user: w.in.UserID, referrer: b.referrerOf(w), at: tradeTime(w), amount: *w.volume, currency: w.in.Volume.Currency})
		}
	}
	for i := range rows {
		r := &rows[i]
		sg := byShard[r.shard]
		if sg == nil || r.rep == nil || (r.fee != nil && r.feeRep == nil) {
			unpriced[r.shard] = true
			continue
		}
		sg.rows = append(sg.rows, *r)
	}
	var out []foldSegment
	for _, sh := range order {
		// Two entries a trade, filling (from, to] when nothing else is there.
		if sg := byShard[sh]; !unpriced[sh] && sg.to-sg.from == 2*int64(sg.trades) {
			out = append(out, *sg)
		}
	}
	return out
}

// FoldCounts are the accrual rows the statistics folder has folded since
// the service started, by where it took them from (the metric
// folio_stats_folded_accruals_total; `folio bench` reports the share).
type FoldCounts struct {
	Memory, Database int64
}

// foldCounters are FoldCounts as they are counted.
type foldCounters struct {
	memory, database atomic.Int64
}

// FoldCounts returns the rows folded so far.
func (s *Service) FoldCounts() FoldCounts {
	return FoldCounts{Memory: s.folded.memory.Load(), Database: s.folded.database.Load()}
}
