package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/internal/parallel"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Ledger is the journal: it posts batches of entries and answers reads.
type Ledger struct {
	DB *schema.DB
	// Now is the clock, read once per transaction; tests inject their own.
	Now func() time.Time

	mu       sync.RWMutex
	reserved map[string]*Reservation // kind → its engine's claim (see Reserve); replaced, never modified
	shards   int                     // active journal shards, read once (see Shards)
	balances balanceCache            // balance rows as of each shard's last head seen
}

// New returns a ledger on db with the system clock.
func New(db *schema.DB) *Ledger {
	return &Ledger{DB: db, Now: time.Now}
}

func (l *Ledger) now() time.Time {
	if l.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return l.Now().UTC().Truncate(time.Microsecond)
}

// Op is one operation of a batch: exactly one field is set.
type Op struct {
	New     *NewEntry
	Reverse *ReverseOp
	Post    *PostOp
	Void    *VoidOp
}

// ReverseOp reverses a posted entry by mirroring every posting.
type ReverseOp struct {
	EntryID string
	// IdempotencyKey, when set, makes a repeated request a replay. Without
	// it a second reversal of the same entry is already_reversed.
	IdempotencyKey string
	Description    string
	EffectiveAt    time.Time
}

// PostOp completes a pending entry. Postings, when given, are the amounts
// to post: each names an (account, side) of the pending entry and an amount
// no larger than the pending one; they must balance. Without them the full
// pending amounts are posted.
type PostOp struct {
	EntryID        string
	IdempotencyKey string
	Postings       []NewPosting
}

// VoidOp cancels a pending entry.
type VoidOp struct {
	EntryID        string
	IdempotencyKey string
}

// Options control a batch.
type Options struct {
	// Atomic makes the batch all-or-nothing: one failed item fails all.
	Atomic bool
	// Chart, when set, is the chart of accounts the caller loaded in the
	// same transaction (ApplyTx then does not load it again). Never pass
	// a chart read outside the transaction: it could be stale.
	Chart *accounts.Chart
	// Writes, when set, receives the batch's writes instead of the
	// transaction: a schema.Pipe declared with WriteStatements, so that the
	// database executes them while the caller prepares its own writes. The
	// writes' errors then surface when the caller closes the pipe.
	Writes schema.Execer
	// Fresh is the caller's guarantee that no stored entry has any of the
	// batch's ids or idempotency keys, so ApplyTx does not look them up.
	// The trade engine gives it: its ids are new random UUIDs and its keys
	// carry prefixes reserved to it, for trades it found unbooked in the
	// same transaction. Were the guarantee broken, a unique index would
	// fail the transaction: the key index, or for the keys it leaves out
	// (unindexedKeyPrefixes, which only fresh batches may use) the
	// caller's own row inserted in the same transaction (a trade's, by
	// trade id). An entry is never written twice.
	Fresh bool
	// Owner is the engine writing the batch (see Reservation): it may write
	// entries of the kinds it reserved and reverse, post or void them.
	// Empty is a client, which may do neither with any reserved kind.
	Owner string

	sweep bool // the ledger's expiry sweeper: voids expired pending entries whoever owns them
}

// Result is the outcome of one operation of a batch.
type Result struct {
	Entry    *Entry
	Replayed bool // the idempotency key was already used with the same content
	Err      error
}

// ErrNotWritten is the result of the items of a rejected atomic batch that
// failed only because another item did.
var ErrNotWritten = folio.Errorf(folio.EINVALID, "not written: another item of the atomic batch failed")

// ErrBatchRejected is returned by atomic batches in which an item failed;
// the per-item results say which and why.
var ErrBatchRejected = folio.Errorf(folio.EINVALID, "the atomic batch was rejected because an item failed; nothing was written")

// Post writes a batch of new entries in one transaction, with per-item
// results (see Apply).
func (l *Ledger) Post(ctx context.Context, entries []NewEntry, opts Options) ([]Result, error) {
	ops := make([]Op, len(entries))
	for i := range entries {
		ops[i] = Op{New: &entries[i]}
	}
	return l.Apply(ctx, ops, opts)
}

// Apply runs a batch of operations in one SERIALIZABLE transaction,
// retried as a whole on conflicts. Each item succeeds or fails on its own
// (Result.Err), unless opts.Atomic, in which case any failure rolls back the
// batch and Apply returns ErrBatchRejected with the results. The error is
// non-nil only when nothing was written.
func (l *Ledger) Apply(ctx context.Context, ops []Op, opts Options) ([]Result, error) {
	var results []Result
	err := l.JournalTx(ctx, func(tx pgx.Tx) error {
		var err error
		results, err = l.ApplyTx(ctx, tx, ops, opts)
		return err
	})
	if errors.Is(err, ErrBatchRejected) {
		return results, err
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// candidate is an entry about to be written, with the pending postings it
// releases (for post and void).
type candidate struct {
	entry    *Entry
	content  []byte
	releases []Posting
}

// ApplyTx is Apply inside the caller's transaction, for callers (the
// affiliate engine) whose own rows must commit with the entries. It locks
// the journal head for the rest of the transaction.
func (l *Ledger) ApplyTx(ctx context.Context, tx pgx.Tx, ops []Op, opts Options) ([]Result, error) {
	now := l.now()
	chart := opts.Chart
	if chart == nil {
		var err error
		if chart, err = accounts.LoadChart(ctx, tx); err != nil {
			return nil, err
		}
	}
	results := make([]Result, len(ops))
	valid := make([]*validated, len(ops))
	reserved := l.reservations()
	// Validation is pure and the database idles meanwhile: spread it over
	// the cores.
	parallel.Run(len(ops), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if op := ops[i]; op.New != nil {
				valid[i], results[i].Err = validate(chart, *op.New, now)
				if results[i].Err == nil {
					if results[i].Err = refuseNew(reserved, valid[i].kind, opts.Owner); results[i].Err != nil {
						valid[i] = nil
					}
				}
			} else {
				results[i].Err = checkOp(op)
			}
		}
	})

	var keys, targetIDs, chosenIDs []string
	for i, op := range ops {
		if results[i].Err != nil {
			continue
		}
		key := opKey(op)
		if prefix, ok := unindexedPrefix(key); ok && !opts.Fresh {
			results[i].Err = folio.Errorf(folio.EINVALID, "idempotency key %q: keys starting with %q are the trade engine's, for its fresh batches only",
				truncate(key), prefix)
			valid[i] = nil
			continue
		}
		keys = append(keys, key)
		if id := opTarget(op); id != "" {
			targetIDs = append(targetIDs, id)
		}
		if valid[i] != nil && valid[i].req.ID != "" {
			chosenIDs = append(chosenIDs, valid[i].req.ID)
		}
	}
	// Targets are committed entries, which never change: they are read
	// before the shard locks, since a follow-up goes to its target's shard.
	targets, err := loadEntriesBy(ctx, tx, "id = ANY($1::uuid[])", targetIDs)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Entry{}
	for _, e := range targets {
		byID[e.ID] = e
	}
	n, err := l.shardCount(ctx, tx)
	if err != nil {
		return nil, err
	}
	shardOf := make([]int, len(ops))
	var lockSet []int
	for i, op := range ops {
		if results[i].Err != nil {
			continue
		}
		shardOf[i] = routeOp(chart, op, valid[i], byID[opTarget(op)], n)
		lockSet = append(lockSet, shardOf[i])
	}
	locked := distinctSorted(lockSet)
	heads, err := lockShards(ctx, tx, locked)
	if err != nil {
		return nil, err
	}
	writerStats.batches.Add(1)
	if len(locked) > 1 {
		writerStats.multiShard.Add(1)
	}
	for _, h := range heads {
		if h.recordedAt.After(now) {
			now = h.recordedAt // recorded_at never goes backwards along a shard's seq
		}
	}

	usedIDs, existing := map[string]bool{}, []*Entry(nil)
	if !opts.Fresh {
		if usedIDs, err = existingIDs(ctx, tx, chosenIDs); err != nil {
			return nil, err
		}
		if existing, err = loadEntriesBy(ctx, tx, condByKey, keys); err != nil {
			return nil, err
		}
	}
	// A parent must be a stored entry or one written earlier in the batch
	// (usedIDs grows as items are accepted); only parents that no item of
	// the batch chooses as its id are looked up, so the trade engine's
	// commission entries, whose parent is the fee entry before them, cost
	// no read.
	storedParents, err := existingIDs(ctx, tx, parentLookups(valid, chosenIDs))
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Entry{}
	for _, e := range existing {
		byKey[e.IdempotencyKey] = e
	}
	// The entries that targets reverse or complete, when some kind is
	// reserved to another owner than the batch's: an engine's entry is not
	// undone by reversing the entry that completed it either.
	origins := map[string]*Entry{}
	if len(reserved) > 0 && !opts.sweep {
		var originIDs []string
		for _, e := range targets {
			if id := originID(e); id != "" {
				originIDs = append(originIDs, id)
			}
		}
		if len(originIDs) > 0 {
			loaded, err := loadEntriesBy(ctx, tx, "id = ANY($1::uuid[])", originIDs)
			if err != nil {
				return nil, err
			}
			for _, e := range loaded {
				origins[e.ID] = e
			}
		}
		for i, op := range ops {
			if t := byID[opTarget(op)]; results[i].Err == nil && t != nil {
				results[i].Err = refuseOp(reserved, opts.Owner, t, origins[originID(t)])
			}
		}
	}
	followUps, err := loadFollowUps(ctx, tx, targetIDs)
	if err != nil {
		return nil, err
	}

	var touched []rowKey
	for i, op := range ops {
		if results[i].Err != nil {
			continue
		}
		if valid[i] != nil {
			for _, p := range valid[i].postings {
				touched = append(touched, rowKey{p.Account, shardOf[i]})
			}
		} else if t := byID[opTarget(op)]; t != nil {
			for _, p := range t.Postings {
				touched = append(touched, rowKey{p.Account, shardOf[i]})
			}
		}
	}
	bals, read, err := readBalances(ctx, tx, chart, touched, l.balances.lookup(heads, touched))
	if err != nil {
		return nil, err
	}
	l.balances.read.Add(int64(read))

	batchKeys := map[string]*candidate{}
	var accepted []*candidate
	for i, op := range ops {
		if results[i].Err != nil {
			continue
		}
		key := opKey(op)
		var c *candidate
		var content []byte
		if valid[i] != nil {
			content = valid[i].content
		} else {
			content = opContent(op)
		}
		if old := byKey[key]; old != nil {
			results[i] = replay(op, valid[i], content, old, explicitKey(op))
			continue
		}
		if prior := batchKeys[key]; prior != nil {
			results[i] = replay(op, valid[i], content, prior.entry, explicitKey(op))
			if results[i].Err == nil {
				results[i].Entry = prior.entry
			}
			continue
		}
		if valid[i] != nil {
			if id := valid[i].req.ID; id != "" && usedIDs[id] {
				results[i].Err = folio.Errorf(folio.ECONFLICT, "entry id %s is already used by another entry", id)
				continue
			}
			if p := valid[i].req.ParentID; p != "" && !usedIDs[p] && !storedParents[p] {
				results[i].Err = &folio.Error{Code: folio.EINVALID, Fields: []string{"parent_id"},
					Message: fmt.Sprintf("parent_id %s names no entry (a parent must be posted before, or earlier in the same batch)", p)}
				continue
			}
			c = fromValidated(valid[i], now, l.DB.NewID)
		} else {
			c, results[i].Err = fromOp(op, chart, byID[opTarget(op)], followUps, now, l.DB.NewID)
			if results[i].Err != nil {
				continue
			}
		}
		c.content = content
		// The content hash is what replays of the key are compared with
		// (here, for in-batch replays, and stored). An entry under the
		// trade engine's keys has none (migration 045): its key is never
		// looked up, and the engine's own row (the trade's, with its
		// content hash) answers replays.
		_, unindexed := unindexedPrefix(key)
		if !unindexed {
			c.entry.contentHash = contentHash(content)
		}
		h := heads[shardOf[i]]
		if unindexed && c.entry.ParentID != "" && c.entry.ParentID != h.lastID {
			// The parent index leaves such an entry out (migration 047):
			// its parent's links find it at the next position.
			results[i].Err = folio.Errorf(folio.EINVALID, "entry under %q: its parent %s must be the entry just before it in its journal shard, written in the same batch",
				truncate(key), c.entry.ParentID)
			continue
		}
		if err := bals.apply(c, shardOf[i], h.seq+1); err != nil {
			results[i].Err = err
			continue
		}
		h.seq++
		h.lastID = c.entry.ID
		c.entry.Shard, c.entry.Seq = shardOf[i], h.seq
		batchKeys[key] = c
		usedIDs[c.entry.ID] = true
		if t := c.entry.Reverses; t != "" {
			followUps.reversedBy[t] = c.entry
		}
		if t := c.entry.Completes; t != "" {
			followUps.completedBy[t] = c.entry
		}
		accepted = append(accepted, c)
		results[i].Entry = c.entry
	}

	if opts.Atomic {
		for _, r := range results {
			if r.Err != nil {
				for j := range results {
					// Items written by this batch, and replays of them, are
					// rolled back; replays of stored entries stand.
					if e := results[j].Entry; results[j].Err == nil && heads[e.Shard] != nil && e.Seq > heads[e.Shard].start {
						results[j] = Result{Err: ErrNotWritten}
					}
				}
				return results, ErrBatchRejected
			}
		}
	}
	if len(accepted) == 0 {
		return results, nil
	}
	var w schema.Execer = tx
	chunk := len(accepted)
	if opts.Writes != nil {
		// Through a pipe, the first entries' rows are inserted while the
		// next ones are hashed and encoded.
		w, chunk = opts.Writes, writeChunk
	}
	for lo := 0; lo < len(accepted); lo += chunk {
		part := accepted[lo:min(lo+chunk, len(accepted))]
		for _, c := range part {
			h := heads[c.entry.Shard]
			c.entry.PrevHash = h.hash
			c.entry.Hash = ComputeHash(h.hash, c.entry)
			h.hash = c.entry.Hash
		}
		if err := writeEntries(ctx, w, part); err != nil {
			return nil, err
		}
	}
	if err := bals.write(ctx, w); err != nil {
		return nil, err
	}
	for shard, h := range heads {
		if h.seq == h.start {
			continue
		}
		if _, err := w.Exec(ctx, sqlUpdateHead, h.seq, h.hash, now, shard); err != nil {
			return nil, err
		}
	}
	// Recorded now, before the caller commits: should it roll back, the
	// heads stay where they were, which the cache does not take for its own.
	l.balances.store(heads, bals)
	return results, nil
}

// routeOp is the shard an operation writes to: an entry touching an
// account with a balance rule goes to shard 0, where every such account's
// single balance row lives and its rule is checked; a reversal, post or
// void goes to its target's shard, so that it moves the balance rows its
// target moved; any other new entry goes to the shard of its route (the
// trade engine's: the trader) or, without one, of its idempotency key.
func routeOp(chart *accounts.Chart, op Op, v *validated, target *Entry, n int) int {
	if v != nil {
		for _, p := range v.postings {
			if code, ok := chart.Code(p.Account.Code); ok && code.Rule != accounts.RuleNone {
				return 0
			}
		}
		route := v.req.Route
		if route == "" {
			route = opKey(op)
		}
		return ShardOf(route, n)
	}
	if target != nil {
		return target.Shard
	}
	return 0
}

// distinctSorted returns the distinct values of xs in ascending order.
func distinctSorted(xs []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Ints(out)
	return out
}

// parentLookups returns the parent ids of the batch's new entries that no
// entry of the batch chooses as its own id: those must be stored entries.
func parentLookups(valid []*validated, chosenIDs []string) []string {
	chosen := make(map[string]bool, len(chosenIDs))
	for _, id := range chosenIDs {
		chosen[id] = true
	}
	var out []string
	for _, v := range valid {
		if v != nil && v.req.ParentID != "" && !chosen[v.req.ParentID] {
			out = append(out, v.req.ParentID)
		}
	}
	return out
}

func checkOp(op Op) error {
	n := 0
	for _, set := range []bool{op.New != nil, op.Reverse != nil, op.Post != nil, op.Void != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return folio.Errorf(folio.EINVALID, "an operation must be exactly one of new, reverse, post, void")
	}
	id := opTarget(op)
	if !ValidUUID(id) {
		return folio.Errorf(folio.ENOTFOUND, "entry %q not found", truncate(id))
	}
	if k := explicitKey(op); k != "" && !ValidIdempotencyKey(k) {
		return folio.Errorf(folio.EINVALID, "idempotency_key must be 1 to %d printable ASCII characters without spaces", MaxKeyLength)
	}
	if op.Reverse != nil && len(op.Reverse.Description) > MaxDescription {
		return folio.Errorf(folio.EINVALID, "description is longer than %d bytes", MaxDescription)
	}
	if op.Reverse != nil && !validText(op.Reverse.Description) {
		return folio.Errorf(folio.EINVALID, "description must be UTF-8 text without NUL characters")
	}
	return nil
}

func opTarget(op Op) string {
	switch {
	case op.Reverse != nil:
		return op.Reverse.EntryID
	case op.Post != nil:
		return op.Post.EntryID
	case op.Void != nil:
		return op.Void.EntryID
	}
	return ""
}

func explicitKey(op Op) string {
	switch {
	case op.New != nil:
		return op.New.IdempotencyKey
	case op.Reverse != nil:
		return op.Reverse.IdempotencyKey
	case op.Post != nil:
		return op.Post.IdempotencyKey
	case op.Void != nil:
		return op.Void.IdempotencyKey
	}
	return ""
}

// opKey is the idempotency key an operation is stored under: the client's,
// or a deterministic one per target and operation.
func opKey(op Op) string {
	if k := explicitKey(op); k != "" {
		return k
	}
	switch {
	case op.Reverse != nil:
		return KeyPrefixReversal + op.Reverse.EntryID
	case op.Post != nil:
		return KeyPrefixPost + op.Post.EntryID
	default:
		return KeyPrefixVoid + op.Void.EntryID
	}
}

func opContent(op Op) []byte {
	var b bytes.Buffer
	switch {
	case op.Reverse != nil:
		fmt.Fprintf(&b, "op=reverse\ntarget=%s\ndescription=%q\n", op.Reverse.EntryID, op.Reverse.Description)
		if !op.Reverse.EffectiveAt.IsZero() {
			fmt.Fprintf(&b, "effective=%s\n", op.Reverse.EffectiveAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
		}
	case op.Post != nil:
		fmt.Fprintf(&b, "op=post\ntarget=%s\n", op.Post.EntryID)
		for _, p := range op.Post.Postings {
			fmt.Fprintf(&b, "posting=%s %s %s\n", p.Account, p.Side, p.Amount)
		}
	case op.Void != nil:
		fmt.Fprintf(&b, "op=void\ntarget=%s\n", op.Void.EntryID)
	}
	return b.Bytes()
}

func contentHash(content []byte) []byte {
	h := sha256.Sum256(content)
	return h[:]
}

// replay answers a request whose key is already used: the original entry
// when the content is the same, else idempotency_conflict naming the fields
// that differ. An operation without an explicit key that finds its default
// key used is a second reversal/completion, not a replay.
func replay(op Op, v *validated, content []byte, old *Entry, explicit string) Result {
	if op.New == nil && explicit == "" {
		switch {
		case op.Reverse != nil:
			return Result{Err: folio.Errorf(folio.EREVERSED, "entry %s is already reversed by entry %s (seq %d)", op.Reverse.EntryID, old.ID, old.Seq)}
		default:
			return Result{Err: folio.Errorf(folio.ECONFLICT, "pending entry %s is already completed by entry %s (%s)", opTarget(op), old.ID, old.Phase)}
		}
	}
	if bytes.Equal(contentHash(content), old.contentHash) {
		return Result{Entry: old, Replayed: true}
	}
	var fields []string
	if v != nil {
		fields = diffFields(v, old)
	} else {
		fields = []string{"operation"}
	}
	if len(fields) == 0 {
		return Result{Entry: old, Replayed: true}
	}
	return Result{Err: &folio.Error{
		Code:    folio.EIDEMPOTENCY,
		Message: fmt.Sprintf("idempotency key %q was used for a different request; differing fields: %v", truncate(old.IdempotencyKey), fields),
		Fields:  fields,
	}}
}

func diffFields(v *validated, old *Entry) []string {
	var f []string
	if v.kind != old.Kind {
		f = append(f, "kind")
	}
	if v.req.Description != old.Description {
		f = append(f, "description")
	}
	if (old.Phase == Pending) != v.req.Pending {
		f = append(f, "pending")
	}
	if !v.req.EffectiveAt.IsZero() && !v.req.EffectiveAt.UTC().Truncate(time.Microsecond).Equal(old.EffectiveAt) {
		f = append(f, "effective_at")
	}
	if !sameTime(v.req.ExpiresAt, old.ExpiresAt) {
		f = append(f, "expires_at")
	}
	if v.req.ParentID != old.ParentID {
		f = append(f, "parent_id")
	}
	if v.req.BatchID != old.BatchID {
		f = append(f, "batch_id")
	}
	if !bytes.Equal(v.metadata, old.Metadata) {
		f = append(f, "metadata")
	}
	if len(v.postings) != len(old.Postings) {
		f = append(f, "postings")
	} else {
		for i, p := range v.postings {
			o := old.Postings[i]
			if p.Account != o.Account || p.Side != o.Side || p.Amount.Cmp(&o.Amount) != 0 {
				f = append(f, "postings")
				break
			}
		}
	}
	return f
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.UTC().Truncate(time.Microsecond).Equal(b.UTC().Truncate(time.Microsecond))
}

func fromValidated(v *validated, now time.Time, newID func() string) *candidate {
	id := v.req.ID
	if id == "" {
		id = newID()
	}
	e := &Entry{
		ID:             id,
		Kind:           v.kind,
		Description:    v.req.Description,
		Phase:          Posted,
		EffectiveAt:    now,
		RecordedAt:     now,
		IdempotencyKey: v.req.IdempotencyKey,
		ParentID:       v.req.ParentID,
		BatchID:        v.req.BatchID,
		Metadata:       v.metadata,
		Postings:       append([]Posting(nil), v.postings...),
	}
	if v.req.Pending {
		e.Phase = Pending
	}
	if !v.req.EffectiveAt.IsZero() {
		e.EffectiveAt = v.req.EffectiveAt.UTC().Truncate(time.Microsecond)
	}
	if v.req.ExpiresAt != nil {
		t := v.req.ExpiresAt.UTC().Truncate(time.Microsecond)
		e.ExpiresAt = &t
	}
	return &candidate{entry: e}
}

// fromOp builds the entry of a reverse, post or void operation on target.
func fromOp(op Op, chart *accounts.Chart, target *Entry, f *followUps, now time.Time, newID func() string) (*candidate, error) {
	id := opTarget(op)
	if target == nil {
		return nil, folio.Errorf(folio.ENOTFOUND, "entry %s not found", id)
	}
	e := &Entry{
		ID:             newID(),
		RecordedAt:     now,
		EffectiveAt:    now,
		IdempotencyKey: opKey(op),
		Metadata:       []byte("{}"),
	}
	switch {
	case op.Reverse != nil:
		switch {
		case target.Reverses != "":
			return nil, folio.Errorf(folio.ECONFLICT, "entry %s is itself a reversal and cannot be reversed", id)
		case target.Phase == Pending:
			return nil, folio.Errorf(folio.ECONFLICT, "entry %s is pending; void it instead of reversing it", id)
		case target.Phase == VoidPending:
			return nil, folio.Errorf(folio.ECONFLICT, "entry %s voids a pending entry and has nothing to reverse", id)
		case f.reversedBy[id] != nil:
			r := f.reversedBy[id]
			return nil, folio.Errorf(folio.EREVERSED, "entry %s is already reversed by entry %s (seq %d)", id, r.ID, r.Seq)
		}
		e.Kind, e.Phase, e.Reverses = KindReversal, Posted, id
		e.Description = op.Reverse.Description
		if e.Description == "" {
			e.Description = fmt.Sprintf("Reversal of entry seq %d", target.Seq)
		}
		if !op.Reverse.EffectiveAt.IsZero() {
			if err := checkEffective(op.Reverse.EffectiveAt, now); err != nil {
				return nil, err
			}
			e.EffectiveAt = op.Reverse.EffectiveAt.UTC().Truncate(time.Microsecond)
		}
		for i, p := range target.Postings {
			e.Postings = append(e.Postings, Posting{Index: i, Account: p.Account, Side: p.Side.Opposite(), Amount: p.Amount})
		}
		return &candidate{entry: e}, nil
	}

	switch {
	case target.Phase != Pending:
		return nil, folio.Errorf(folio.ECONFLICT, "entry %s is not pending", id)
	case f.completedBy[id] != nil:
		c := f.completedBy[id]
		return nil, folio.Errorf(folio.ECONFLICT, "pending entry %s is already completed by entry %s (%s)", id, c.ID, c.Phase)
	case target.ExpiresAt != nil && !target.ExpiresAt.After(now) && op.Post != nil:
		return nil, folio.Errorf(folio.ECONFLICT, "pending entry %s expired at %s", id, target.ExpiresAt.Format(time.RFC3339))
	}
	e.Completes = id
	c := &candidate{entry: e, releases: target.Postings}
	if op.Void != nil {
		e.Kind, e.Phase = KindVoid, VoidPending
		e.Description = fmt.Sprintf("Void of pending entry seq %d", target.Seq)
		return c, nil
	}
	e.Kind, e.Phase = KindPost, PostPending
	e.Description = fmt.Sprintf("Post of pending entry seq %d", target.Seq)
	e.EffectiveAt = target.EffectiveAt
	postings, err := partialPostings(chart, target, op.Post.Postings)
	if err != nil {
		return nil, err
	}
	e.Postings = postings
	return c, nil
}

// partialPostings resolves the amounts of a post operation against the
// pending entry's postings.
func partialPostings(chart *accounts.Chart, target *Entry, req []NewPosting) ([]Posting, error) {
	if len(req) == 0 {
		out := make([]Posting, len(target.Postings))
		for i, p := range target.Postings {
			out[i] = Posting{Index: i, Account: p.Account, Side: p.Side, Amount: p.Amount}
		}
		return out, nil
	}
	used := make([]bool, len(target.Postings))
	var out []Posting
	totals := map[string]*[2]apd.Decimal{}
	for i, rp := range req {
		k, _, cur, err := chart.ParseAndResolve(rp.Account)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("postings[%d]", i), err)
		}
		amt, err := ParseAmount(rp.Amount, cur.Precision)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("postings[%d]", i), err)
		}
		match := -1
		for j, tp := range target.Postings {
			if !used[j] && tp.Account == k && tp.Side == rp.Side {
				match = j
				break
			}
		}
		if match < 0 {
			return nil, folio.Errorf(folio.EINVALID, "postings[%d]: the pending entry has no %s posting on %s", i, truncate(string(rp.Side)), k)
		}
		used[match] = true
		if amt.Cmp(&target.Postings[match].Amount) > 0 {
			return nil, folio.Errorf(folio.EAMOUNT, "postings[%d]: %s is more than the pending %s", i, rp.Amount, Format(&target.Postings[match].Amount))
		}
		t := totals[k.Currency]
		if t == nil {
			t = &[2]apd.Decimal{}
			totals[k.Currency] = t
		}
		side := 0
		if rp.Side == accounts.Credit {
			side = 1
		}
		if err := add(&t[side], &t[side], &amt); err != nil {
			return nil, folio.Errorf(folio.EAMOUNT, "postings[%d]: total out of range", i)
		}
		out = append(out, Posting{Index: len(out), Account: k, Side: rp.Side, Amount: amt})
	}
	if len(out) < 2 {
		return nil, folio.Errorf(folio.EUNBALANCED, "a post needs at least two postings; void the entry to post nothing")
	}
	for cur, t := range totals {
		if t[0].Cmp(&t[1]) != 0 {
			return nil, folio.Errorf(folio.EUNBALANCED, "currency %s does not balance: debits %s, credits %s", cur, Format(&t[0]), Format(&t[1]))
		}
	}
	return out, nil
}

// writeChunk is how many entries a pipelined batch inserts per statement.
const writeChunk = 500

// head is a locked shard head, advanced in memory as the batch assigns
// seqs; start is its seq when locked.
type head struct {
	seq, start int64
	hash       []byte
	startHash  []byte // hash at start: the head as locked
	recordedAt time.Time
	lastID     string // of the entry at seq, once the batch wrote one
}

// sortedKeys returns the distinct account keys in canonical string order.
func sortedKeys(keys []accounts.Key) []accounts.Key {
	seen := map[accounts.Key]bool{}
	var out []accounts.Key
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
