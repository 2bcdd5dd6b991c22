package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// The invariant harness, in the style of blnk's model/invariant_fuzz_test.go:
// a driver takes a seed and performs random operations on a real database —
// valid and deliberately invalid entries, replays, idempotency conflicts,
// reversals, pending entries posted (fully or partly), voided or expired,
// non_negative violations, atomic and per-item batches — predicting each
// outcome with an in-memory model, and re-checks these invariants after
// every operation:
//
//  1. Conservation: for every currency, the debit postings sum to the credit
//     postings (separately for posted and for pending postings).
//  2. Each balance row equals the sum of its postings: posted debits,
//     credits and balance on the normal side; pending debits and credits
//     equal the postings of still-open pending entries. No balance row
//     without postings, no postings without a balance row. Each posting's
//     balance_after, debits_after and credits_after equal the posted
//     postings of its account up to and including it.
//  3. Posted and pending are consistent: pending figures are never negative;
//     the available balance (posted minus pending against the normal side)
//     of a non_negative account is never below zero; and every balance
//     equals the model's, which applies exactly the operations the ledger
//     reported as written (so nothing reported written is missing and
//     nothing unreported is there).
//  4. A rejected operation changes nothing: the fingerprint of the books
//     (head seq and hash, row counts, every balance row) is identical before
//     and after it. A replay changes nothing either.
//  5. seq is gapless from 1, each prev_hash is the previous entry's hash,
//     the journal head is at the last entry, idempotency keys are unique.
//  6. Every outcome is the predicted one: success, replay, or the expected
//     error code.
//  7. ledger.Verify reports ok (every verifyEvery operations and at the end).
//
// Invariants 1, 2 and 5 are checked from the raw tables (books.check), not
// through the ledger's code.

const verifyEvery = 25

// TestInvariantsSeeded runs the harness on fixed seeds, and checks that
// together they exercised every kind of outcome.
func TestInvariantsSeeded(t *testing.T) {
	seen := map[string]int{}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			for k, n := range runInvariants(t, seed, 150) {
				seen[k] += n
			}
		})
	}
	t.Logf("outcomes: %v", seen)
	if t.Failed() {
		return
	}
	for _, k := range []string{"written", "replayed", "atomic rejected", "expired", "partial post", "post", "void", "reversal",
		folio.EINSUFFICIENT, folio.EIDEMPOTENCY, folio.EREVERSED, folio.ECONFLICT, folio.EAMOUNT, folio.EUNBALANCED,
		folio.EACCOUNT, folio.ECURRENCY, folio.EINVALID} {
		if seen[k] == 0 {
			t.Errorf("no %q outcome in the seeded runs; the harness no longer exercises it", k)
		}
	}
}

// FuzzInvariants is the harness as a fuzz target: each input is a seed and
// an operation count (10 to 49), on a fresh database, so a failing input
// replays exactly with `go test -run FuzzInvariants/<id>`. Run it with
// `go test -run '^$' -fuzz FuzzInvariants ./ledger/`; each input costs a
// database clone plus a little per operation (README, "Measured figures,
// dated").
func FuzzInvariants(f *testing.F) {
	for _, s := range []struct {
		seed uint64
		ops  uint8
	}{{4, 30}, {5, 39}, {6, 20}, {7, 39}} {
		f.Add(s.seed, s.ops)
	}
	f.Fuzz(func(t *testing.T, seed uint64, ops uint8) {
		runInvariants(t, seed, 10+int(ops)%40)
	})
}

// harnessAccounts are the accounts the harness posts to, by currency. The
// 230 accounts carry the non_negative rule.
var harnessAccounts = map[string][]string{
	"USD": {"110:USD", "605:USD", "201:USD:h1", "201:USD:h2", "230:USD:h1", "230:USD:h2"},
	"BTC": {"110:BTC", "606:BTC", "201:BTC:h1", "230:BTC:h1"},
	"JPY": {"110:JPY", "420:JPY", "201:JPY:h1", "230:JPY:h1"},
}

var harnessCurrencies = []string{"USD", "BTC", "JPY"}

var harnessPrecision = map[string]int{"USD": 2, "BTC": 8, "JPY": 0}

// mposting is a posting as the model sees it.
type mposting struct {
	account string
	side    accounts.Side
	amount  apd.Decimal
	pending bool
}

// record is an entry the harness knows was written.
type record struct {
	entry   *ledger.Entry
	req     *ledger.NewEntry // nil for reversals and completions
	op      *ledger.Op       // the keyed operation that wrote it, if any
	reverse bool             // may be reversed (posted or post_pending, not a reversal)
}

// model is the harness's prediction of the books.
type model struct {
	bal       map[string]*sums
	open      map[string]*record // pending entries not yet completed, by id
	done      map[string]bool    // completed pending entries
	reversed  map[string]bool
	expiredAt map[string]time.Time
}

func (m *model) clone() *model {
	c := &model{bal: map[string]*sums{}, open: map[string]*record{}, done: map[string]bool{}, reversed: map[string]bool{}, expiredAt: m.expiredAt}
	for k, v := range m.bal {
		s := &sums{}
		s.debits.Set(&v.debits)
		s.credits.Set(&v.credits)
		s.pendingDebits.Set(&v.pendingDebits)
		s.pendingCredits.Set(&v.pendingCredits)
		c.bal[k] = s
	}
	for k, v := range m.open {
		c.open[k] = v
	}
	for k := range m.done {
		c.done[k] = true
	}
	for k := range m.reversed {
		c.reversed[k] = true
	}
	return c
}

// apply predicts an entry: it releases the pending postings of releases,
// applies postings, and enforces non_negative the way the engine documents
// it (refused when the available balance would end below zero and lower
// than before). It changes m only when the entry is accepted.
func (m *model) apply(t testing.TB, chart *accounts.Chart, postings, releases []mposting) bool {
	t.Helper()
	work := map[string]*sums{}
	get := func(a string) *sums {
		if s := work[a]; s != nil {
			return s
		}
		s := &sums{}
		if old := m.bal[a]; old != nil {
			s.debits.Set(&old.debits)
			s.credits.Set(&old.credits)
			s.pendingDebits.Set(&old.pendingDebits)
			s.pendingCredits.Set(&old.pendingCredits)
		}
		work[a] = s
		return s
	}
	for _, p := range releases {
		s := get(p.account)
		dst := &s.pendingCredits
		if p.side == accounts.Debit {
			dst = &s.pendingDebits
		}
		mustSub(t, dst, dst, &p.amount)
	}
	for _, p := range postings {
		s := get(p.account)
		var dst *apd.Decimal
		switch {
		case p.pending && p.side == accounts.Debit:
			dst = &s.pendingDebits
		case p.pending:
			dst = &s.pendingCredits
		case p.side == accounts.Debit:
			dst = &s.debits
		default:
			dst = &s.credits
		}
		mustAdd(t, dst, dst, &p.amount)
	}
	for a, after := range work {
		k, _ := accounts.ParseKey(a)
		code, _ := chart.Code(k.Code)
		if code.Rule != accounts.RuleNonNegative {
			continue
		}
		before := m.bal[a]
		if before == nil {
			before = &sums{}
		}
		a0, a1 := available(t, before, code.Normal), available(t, after, code.Normal)
		if a1.Sign() < 0 && a1.Cmp(&a0) < 0 {
			return false
		}
	}
	for a, s := range work {
		m.bal[a] = s
	}
	return true
}

func available(t testing.TB, s *sums, normal accounts.Side) apd.Decimal {
	var bal, out apd.Decimal
	if normal == accounts.Debit {
		mustSub(t, &bal, &s.debits, &s.credits)
		mustSub(t, &out, &bal, &s.pendingCredits)
	} else {
		mustSub(t, &bal, &s.credits, &s.debits)
		mustSub(t, &out, &bal, &s.pendingDebits)
	}
	return out
}

// expectation is the predicted outcome of one operation of a batch.
type expectation struct {
	code     string   // "" for success
	replayOf string   // entry id, for a predicted replay
	fields   []string // for idempotency conflicts, when known
	onOK     func(*ledger.Entry)
}

// item is one operation of a batch with its prediction, made in batch order
// against the working model.
type item struct {
	desc    string
	op      ledger.Op
	predict func(m *model) expectation
}

type harness struct {
	t       testing.TB
	e       *env
	r       *rand.Rand
	chart   *accounts.Chart
	m       *model
	records []*record
	byID    map[string]*record
	keyN    int
	log     []string
	stats   map[string]int // outcomes seen
}

// runInvariants runs ops random operations from seed on a fresh database
// and returns how often each kind of outcome occurred.
func runInvariants(t *testing.T, seed uint64, ops int) map[string]int {
	h := &harness{t: t, e: newEnv(t), r: rand.New(rand.NewPCG(seed, 0x5eed)), chart: testChart(),
		m:    &model{bal: map[string]*sums{}, open: map[string]*record{}, done: map[string]bool{}, reversed: map[string]bool{}, expiredAt: map[string]time.Time{}},
		byID: map[string]*record{}, stats: map[string]int{}}
	for i := range ops {
		h.step(i)
		if t.Failed() {
			t.Fatalf("seed %d: stopped after operation %d; last operations:\n%s", seed, i, strings.Join(h.log[max(0, len(h.log)-8):], "\n"))
		}
		if (i+1)%verifyEvery == 0 {
			h.e.verify(t)
		}
	}
	h.e.verify(t)
	if len(h.records) == 0 {
		t.Fatalf("seed %d: no entry written in %d operations", seed, ops)
	}
	return h.stats
}

// step performs one random operation and checks every invariant.
func (h *harness) step(i int) {
	var items []item
	atomic := false
	switch x := h.r.IntN(100); {
	case x < 28:
		items = []item{h.newValid()}
	case x < 38:
		items = []item{h.newInvalid()}
	case x < 45:
		items = []item{h.replay()}
	case x < 50:
		items = []item{h.conflict()}
	case x < 60:
		items = []item{h.reverse()}
	case x < 72:
		items = []item{h.complete()}
	case x < 78:
		items = []item{h.overdraw()}
	case x < 85:
		atomic = true
		items = h.batch()
	case x < 93:
		items = h.batch()
	default:
		h.advanceAndExpire(i)
		return
	}
	h.run(i, items, atomic)
}

func (h *harness) key() string {
	h.keyN++
	return fmt.Sprintf("k%d", h.keyN)
}

func (h *harness) amount(cur string) string {
	places := h.r.IntN(harnessPrecision[cur] + 1)
	return ledger.Format(apd.New(h.r.Int64N(2000)+1, -int32(places)))
}

// randomRequest builds a balanced entry of one or two currency legs.
func (h *harness) randomRequest() ledger.NewEntry {
	ne := ledger.NewEntry{IdempotencyKey: h.key(), Kind: []string{"manual", "trade_fee", "commission"}[h.r.IntN(3)]}
	legs := 1 + h.r.IntN(2)
	for _, ci := range h.r.Perm(len(harnessCurrencies))[:legs] {
		cur := harnessCurrencies[ci]
		accts := harnessAccounts[cur]
		i := h.r.IntN(len(accts))
		j := (i + 1 + h.r.IntN(len(accts)-1)) % len(accts)
		amt := h.amount(cur)
		ne.Postings = append(ne.Postings, ledger.NewPosting{Account: accts[i], Side: accounts.Debit, Amount: amt},
			ledger.NewPosting{Account: accts[j], Side: accounts.Credit, Amount: amt})
	}
	if h.r.IntN(4) == 0 {
		ne.Description = "note " + ne.IdempotencyKey
	}
	if h.r.IntN(5) == 0 {
		ne.Metadata = json.RawMessage(fmt.Sprintf(`{"n":%de-1,"s":"é","k":[%d]}`, h.r.IntN(100), h.r.IntN(5)))
	}
	if h.r.IntN(6) == 0 {
		ne.EffectiveAt = h.e.clock.t.Add(-time.Duration(h.r.IntN(30*24)) * time.Hour)
	}
	if h.r.IntN(4) == 0 {
		ne.Pending = true
		if h.r.IntN(2) == 0 {
			at := h.e.clock.t.Add(time.Duration(30+h.r.IntN(150)) * time.Minute)
			ne.ExpiresAt = &at
		}
	}
	return ne
}

func postingsOf(t testing.TB, ne *ledger.NewEntry) []mposting {
	var out []mposting
	for _, p := range ne.Postings {
		out = append(out, mposting{account: p.Account, side: p.Side, amount: dec(t, p.Amount), pending: ne.Pending})
	}
	return out
}

func entryPostings(en *ledger.Entry, flip bool) []mposting {
	var out []mposting
	for _, p := range en.Postings {
		side := p.Side
		if flip {
			side = side.Opposite()
		}
		out = append(out, mposting{account: p.Account.String(), side: side, amount: p.Amount, pending: p.Pending && !flip})
	}
	return out
}

// newItem writes a new entry, predicted with the model.
func (h *harness) newItem(ne ledger.NewEntry) item {
	return item{desc: "new " + describe(ne), op: ledger.Op{New: &ne}, predict: func(m *model) expectation {
		if !m.apply(h.t, h.chart, postingsOf(h.t, &ne), nil) {
			return expectation{code: folio.EINSUFFICIENT}
		}
		return expectation{onOK: func(en *ledger.Entry) {
			rec := &record{entry: en, req: &ne, reverse: !ne.Pending}
			h.add(rec)
			if ne.Pending {
				h.m.open[en.ID] = rec
				if ne.ExpiresAt != nil {
					h.m.expiredAt[en.ID] = *en.ExpiresAt
				}
			}
		}}
	}}
}

func (h *harness) add(rec *record) {
	h.records = append(h.records, rec)
	h.byID[rec.entry.ID] = rec
}

func (h *harness) newValid() item { return h.newItem(h.randomRequest()) }

// newInvalid corrupts a valid request in one of several ways.
func (h *harness) newInvalid() item {
	ne := h.randomRequest()
	var want string
	switch h.r.IntN(10) {
	case 0:
		ne.Postings[0].Amount = ledger.Format(apd.New(h.r.Int64N(1000)+1, 0)) + "1"
		ne.Postings[1].Amount = ne.Postings[0].Amount + "1"
		want = folio.EUNBALANCED
	case 1:
		ne.Postings[0].Amount, ne.Postings[1].Amount = "1.123456789", "1.123456789" // 9 places: beyond every currency
		want = folio.EAMOUNT
	case 2:
		ne.Postings[0].Account = "999:USD"
		want = folio.EACCOUNT
	case 3:
		parts := strings.Split(ne.Postings[1].Account, ":")
		parts[1] = "XXX"
		ne.Postings[1].Account = strings.Join(parts, ":")
		want = folio.ECURRENCY
	case 4:
		ne.IdempotencyKey = "has space"
		want = folio.EINVALID
	case 5:
		ne.Kind = ledger.KindReversal
		want = folio.EINVALID
	case 6:
		ne.Metadata = json.RawMessage(`{"x":"\u0000"}`)
		want = folio.EINVALID
	case 7:
		ne.Description = "bad\x00"
		want = folio.EINVALID
	case 8:
		ne.Postings = ne.Postings[:1]
		want = folio.EUNBALANCED
	default:
		ne.Postings[0].Amount, ne.Postings[1].Amount = "100000000000000000000", "100000000000000000000"
		want = folio.EAMOUNT
	}
	return item{desc: fmt.Sprintf("invalid (%s) %s", want, describe(ne)), op: ledger.Op{New: &ne}, predict: func(*model) expectation {
		return expectation{code: want}
	}}
}

// replayable returns a random record written with a key that can be
// replayed (its request carries no expiry, which a later replay would
// fail validation on).
func (h *harness) replayable() *record {
	var cands []*record
	for _, r := range h.records {
		if (r.req != nil && r.req.ExpiresAt == nil) || r.op != nil {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[h.r.IntN(len(cands))]
}

func (h *harness) replay() item {
	rec := h.replayable()
	if rec == nil {
		return h.newValid()
	}
	op := ledger.Op{New: rec.req}
	if rec.op != nil {
		op = *rec.op
	}
	return item{desc: "replay of seq " + fmt.Sprint(rec.entry.Seq), op: op, predict: func(*model) expectation {
		return expectation{replayOf: rec.entry.ID}
	}}
}

func (h *harness) conflict() item {
	rec := h.replayable()
	if rec == nil || rec.req == nil {
		return h.newValid()
	}
	ne := *rec.req
	ne.Postings = slices.Clone(ne.Postings)
	var fields []string
	switch h.r.IntN(3) {
	case 0:
		ne.Description += " changed"
		fields = []string{"description"}
	case 1:
		ne.Kind = "bounty"
		fields = []string{"kind"}
	default:
		ne.Metadata = json.RawMessage(`{"changed":true}`)
		fields = []string{"metadata"}
	}
	return item{desc: fmt.Sprintf("conflict %v on seq %d", fields, rec.entry.Seq), op: ledger.Op{New: &ne}, predict: func(*model) expectation {
		return expectation{code: folio.EIDEMPOTENCY, fields: fields}
	}}
}

// reverse reverses a random entry; the model says whether it may be.
func (h *harness) reverse() item {
	if len(h.records) == 0 {
		return h.newValid()
	}
	rec := h.records[h.r.IntN(len(h.records))]
	op := ledger.Op{Reverse: &ledger.ReverseOp{EntryID: rec.entry.ID}}
	if h.r.IntN(3) == 0 {
		op.Reverse.IdempotencyKey = h.key()
	}
	return item{desc: "reverse seq " + fmt.Sprint(rec.entry.Seq), op: op, predict: func(m *model) expectation {
		switch {
		case rec.entry.Reverses != "":
			return expectation{code: folio.ECONFLICT}
		case m.reversed[rec.entry.ID]:
			return expectation{code: folio.EREVERSED}
		case !rec.reverse:
			return expectation{code: folio.ECONFLICT}
		}
		if !m.apply(h.t, h.chart, entryPostings(rec.entry, true), nil) {
			return expectation{code: folio.EINSUFFICIENT}
		}
		m.reversed[rec.entry.ID] = true
		return expectation{onOK: func(en *ledger.Entry) {
			h.m.reversed[rec.entry.ID] = true
			r := &record{entry: en}
			if op.Reverse.IdempotencyKey != "" {
				r.op = &op
			}
			h.add(r)
		}}
	}}
}

// complete posts (fully or partly) or voids a pending entry, open or not.
func (h *harness) complete() item {
	var pend []*record
	for _, r := range h.records {
		if r.entry.Phase == ledger.Pending {
			pend = append(pend, r)
		}
	}
	if len(pend) == 0 {
		return h.newValid()
	}
	rec := pend[h.r.IntN(len(pend))]
	id := rec.entry.ID
	void := h.r.IntN(3) == 0
	op := ledger.Op{Void: &ledger.VoidOp{EntryID: id}}
	posted := entryPostings(rec.entry, false)
	for i := range posted {
		posted[i].pending = false
	}
	if !void {
		op = ledger.Op{Post: &ledger.PostOp{EntryID: id}}
		if len(posted) == 2 && h.r.IntN(2) == 0 {
			// Partial: post a random part of the single leg.
			cur := posted[0].account[strings.Index(posted[0].account, ":")+1:]
			if i := strings.Index(cur, ":"); i >= 0 {
				cur = cur[:i]
			}
			part := dec(h.t, h.amount(cur))
			if part.Cmp(&posted[0].amount) > 0 {
				part.Set(&posted[0].amount)
			}
			for i := range posted {
				posted[i].amount.Set(&part)
				op.Post.Postings = append(op.Post.Postings, ledger.NewPosting{Account: posted[i].account, Side: posted[i].side, Amount: ledger.Format(&part)})
			}
		}
	}
	if h.r.IntN(3) == 0 {
		k := h.key()
		if void {
			op.Void.IdempotencyKey = k
		} else {
			op.Post.IdempotencyKey = k
		}
	}
	desc := fmt.Sprintf("post seq %d", rec.entry.Seq)
	if void {
		desc = fmt.Sprintf("void seq %d", rec.entry.Seq)
	}
	return item{desc: desc, op: op, predict: func(m *model) expectation {
		if m.done[id] {
			return expectation{code: folio.ECONFLICT}
		}
		exp, expires := h.m.expiredAt[id]
		if !void && expires && !exp.After(h.e.clock.t) {
			return expectation{code: folio.ECONFLICT}
		}
		var ps []mposting
		if !void {
			ps = posted
		}
		if !m.apply(h.t, h.chart, ps, entryPostings(rec.entry, false)) {
			return expectation{code: folio.EINSUFFICIENT}
		}
		m.done[id] = true
		return expectation{onOK: func(en *ledger.Entry) {
			h.m.done[id] = true
			delete(h.m.open, id)
			r := &record{entry: en, reverse: !void}
			if op.Post != nil && op.Post.IdempotencyKey != "" || op.Void != nil && op.Void.IdempotencyKey != "" {
				r.op = &op
			}
			h.add(r)
		}}
	}}
}

// overdraw debits a non_negative account by more than its available
// balance.
func (h *harness) overdraw() item {
	cur := harnessCurrencies[h.r.IntN(len(harnessCurrencies))]
	var acct string
	for _, a := range harnessAccounts[cur] {
		if strings.HasPrefix(a, "230:") {
			acct = a
		}
	}
	s := h.m.bal[acct]
	if s == nil {
		s = &sums{}
	}
	avail := available(h.t, s, accounts.Credit)
	var amt apd.Decimal
	mustAdd(h.t, &amt, &avail, apd.New(1, -int32(harnessPrecision[cur])))
	if amt.Sign() <= 0 {
		amt.Set(apd.New(1, 0))
	}
	ne := entry(h.key(), acct, "debit", ledger.Format(&amt), "110:"+cur, "credit", ledger.Format(&amt))
	ne.Pending = h.r.IntN(3) == 0
	it := h.newItem(ne)
	it.desc = "overdraw " + it.desc
	return it
}

// batch is 2–4 random items: valid, invalid, replays, reversals,
// completions.
func (h *harness) batch() []item {
	n := 2 + h.r.IntN(3)
	var items []item
	for range n {
		switch h.r.IntN(10) {
		case 0:
			items = append(items, h.newInvalid())
		case 1:
			items = append(items, h.replay())
		case 2:
			items = append(items, h.reverse())
		case 3:
			items = append(items, h.complete())
		case 4:
			items = append(items, h.overdraw())
		default:
			items = append(items, h.newValid())
		}
	}
	// The same target twice in one batch is predicted item by item; the
	// same key twice is not modelled, so make keys distinct.
	seen := map[string]bool{}
	for i := range items {
		if items[i].op.New != nil {
			k := items[i].op.New.IdempotencyKey
			if seen[k] {
				items[i] = h.newValid()
			}
			seen[items[i].op.New.IdempotencyKey] = true
		}
	}
	return items
}

// run applies one batch and checks the predicted outcome and the
// invariants.
func (h *harness) run(i int, items []item, atomic bool) {
	t := h.t
	t.Helper()
	var descs []string
	for _, it := range items {
		descs = append(descs, it.desc)
	}
	h.log = append(h.log, fmt.Sprintf("#%d atomic=%t: %s", i, atomic, strings.Join(descs, "; ")))
	before := loadBooks(t, h.e)

	work := h.m.clone()
	exps := make([]expectation, len(items))
	failed := false
	for j, it := range items {
		exps[j] = it.predict(work)
		failed = failed || exps[j].code != ""
	}
	ops := make([]ledger.Op, len(items))
	for j := range items {
		ops[j] = items[j].op
	}
	res, err := h.e.ledger.Apply(context.Background(), ops, ledger.Options{Atomic: atomic})
	writes := false
	switch {
	case atomic && failed:
		if !errors.Is(err, ledger.ErrBatchRejected) {
			t.Errorf("#%d: atomic batch with a failing item: error %v, want ErrBatchRejected", i, err)
		}
		h.stats["atomic rejected"]++
	case err != nil:
		t.Errorf("#%d: Apply: %v", i, err)
		return
	}
	if len(res) != len(items) {
		t.Fatalf("#%d: %d results for %d items", i, len(res), len(items))
	}
	for j, x := range exps {
		r := res[j]
		where := fmt.Sprintf("#%d item %d (%s)", i, j, items[j].desc)
		switch {
		case x.code != "":
			var fe *folio.Error
			if !errors.As(r.Err, &fe) || fe.Code != x.code {
				t.Errorf("%s: %+v, want error %s", where, r, x.code)
			} else if x.fields != nil && !slices.Equal(fe.Fields, x.fields) {
				t.Errorf("%s: fields %q, want %q", where, fe.Fields, x.fields)
			}
			h.stats[x.code]++
		case x.replayOf != "":
			if r.Err != nil || !r.Replayed || r.Entry.ID != x.replayOf {
				t.Errorf("%s: %+v, want a replay of %s", where, r, x.replayOf)
			}
			h.stats["replayed"]++
		case atomic && failed:
			if r.Err == nil {
				t.Errorf("%s: %+v, want not written (atomic batch rejected)", where, r)
			}
		default:
			if r.Err != nil || r.Replayed || r.Entry == nil {
				t.Errorf("%s: %+v, want written", where, r)
				continue
			}
			writes = true
			x.onOK(r.Entry)
			h.stats["written"]++
			switch {
			case r.Entry.Reverses != "":
				h.stats["reversal"]++
			case r.Entry.Phase == ledger.VoidPending:
				h.stats["void"]++
			case r.Entry.Phase == ledger.PostPending && ops[j].Post != nil && len(ops[j].Post.Postings) > 0:
				h.stats["partial post"]++
			case r.Entry.Phase == ledger.PostPending:
				h.stats["post"]++
			}
		}
	}
	if t.Failed() {
		return
	}
	if !(atomic && failed) {
		work.expiredAt = h.m.expiredAt
		work.open, work.done, work.reversed = h.m.open, h.m.done, h.m.reversed
		h.m.bal = work.bal
	}
	h.check(i, before, writes)
}

// advanceAndExpire moves the clock and sometimes sweeps expired holds.
func (h *harness) advanceAndExpire(i int) {
	d := time.Duration(h.r.IntN(90)+1) * time.Minute
	h.e.clock.Advance(d)
	h.log = append(h.log, fmt.Sprintf("#%d advance %v and expire", i, d))
	before := loadBooks(h.t, h.e)
	var due []string
	for id := range h.m.open {
		if at, ok := h.m.expiredAt[id]; ok && !at.After(h.e.clock.t) {
			due = append(due, id)
		}
	}
	n, err := h.e.ledger.ExpirePending(context.Background())
	if err != nil || n != len(due) {
		h.t.Errorf("#%d: ExpirePending = %d, %v; want %d", i, n, err, len(due))
		return
	}
	h.stats["expired"] += n
	for _, id := range due {
		rec := h.m.open[id]
		if !h.m.apply(h.t, h.chart, nil, entryPostings(rec.entry, false)) {
			h.t.Fatalf("#%d: model refused a void", i)
		}
		h.m.done[id] = true
		delete(h.m.open, id)
		_, links, err := h.e.ledger.GetEntry(context.Background(), id)
		if err != nil || links.CompletedBy == "" {
			h.t.Errorf("#%d: expired entry %s: links %+v, %v; want completed", i, id, links, err)
			continue
		}
		void, _, err := h.e.ledger.GetEntry(context.Background(), links.CompletedBy)
		if err != nil {
			h.t.Fatalf("#%d: %v", i, err)
		}
		h.add(&record{entry: void})
	}
	h.check(i, before, n > 0)
}

// check verifies invariants 1–5 against the raw tables and the model.
func (h *harness) check(i int, before *books, wrote bool) {
	t := h.t
	b := loadBooks(t, h.e)
	if !wrote && b.fingerprint() != before.fingerprint() {
		t.Errorf("#%d: nothing was reported written, but the books changed:\nbefore %s\nafter  %s", i, before.fingerprint(), b.fingerprint())
	}
	if wrote && b.headSeq == before.headSeq {
		t.Errorf("#%d: entries reported written, but the head did not move", i)
	}
	for _, p := range b.check(t, h.chart) {
		t.Errorf("#%d: %s", i, p)
	}
	if got, want := len(b.entries), len(h.records); got != want {
		t.Errorf("#%d: %d entries, the harness saw %d written", i, got, want)
	}
	for acct, s := range h.m.bal {
		got, ok := b.balances[acct]
		if !ok {
			if s.debits.Sign() != 0 || s.credits.Sign() != 0 || s.pendingDebits.Sign() != 0 || s.pendingCredits.Sign() != 0 {
				t.Errorf("#%d: %s missing, the model has %+v", i, acct, s)
			}
			continue
		}
		for _, f := range []struct {
			name      string
			got, want *apd.Decimal
		}{{"debits", &got.debits, &s.debits}, {"credits", &got.credits, &s.credits},
			{"pending debits", &got.pendingDebits, &s.pendingDebits}, {"pending credits", &got.pendingCredits, &s.pendingCredits}} {
			if f.got.Cmp(f.want) != 0 {
				t.Errorf("#%d: %s %s = %s, model %s", i, acct, f.name, ledger.Format(f.got), ledger.Format(f.want))
			}
		}
	}
	for acct := range b.balances {
		if h.m.bal[acct] == nil {
			t.Errorf("#%d: balance row %s the model never touched", i, acct)
		}
	}
}

func describe(ne ledger.NewEntry) string {
	var ps []string
	for _, p := range ne.Postings {
		ps = append(ps, fmt.Sprintf("%s %s %s", p.Account, p.Side, p.Amount))
	}
	s := fmt.Sprintf("%s [%s]", ne.IdempotencyKey, strings.Join(ps, ", "))
	if ne.Pending {
		s += " pending"
	}
	return s
}
