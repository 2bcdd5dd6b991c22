package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
)

// apply runs one batch of operations and fails the test if the batch as a
// whole fails.
func (e *env) apply(t testing.TB, opts ledger.Options, ops ...ledger.Op) []ledger.Result {
	t.Helper()
	res, err := e.ledger.Apply(context.Background(), ops, opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply returned %d results for %d operations", len(res), len(ops))
	}
	return res
}

// one runs a single operation and returns its result.
func (e *env) one(t testing.TB, op ledger.Op) ledger.Result {
	t.Helper()
	return e.apply(t, ledger.Options{}, op)[0]
}

func newOp(ne ledger.NewEntry) ledger.Op { return ledger.Op{New: &ne} }

func reverseOp(id string) ledger.Op { return ledger.Op{Reverse: &ledger.ReverseOp{EntryID: id}} }

func voidOp(id string) ledger.Op { return ledger.Op{Void: &ledger.VoidOp{EntryID: id}} }

func postOp(id string, postings ...string) ledger.Op {
	return ledger.Op{Post: &ledger.PostOp{EntryID: id, Postings: entry("", postings...).Postings}}
}

// bal returns the balance of an account at a point.
func (e *env) bal(t testing.TB, account string, at ledger.AsOf) *ledger.Balance {
	t.Helper()
	b, err := e.ledger.GetBalance(context.Background(), account, at)
	if err != nil {
		t.Fatalf("GetBalance(%s, %+v): %v", account, at, err)
	}
	return b
}

// wantBalance checks an account's current balance, pending amount (against
// the normal side) and available balance.
func (e *env) wantBalance(t testing.TB, account, balance, pending, available string) {
	t.Helper()
	b := e.bal(t, account, ledger.AsOf{})
	p, a := b.Pending(), b.Available()
	got := fmt.Sprintf("balance %s pending %s available %s", ledger.Format(&b.Balance), ledger.Format(&p), ledger.Format(&a))
	want := fmt.Sprintf("balance %s pending %s available %s", balance, pending, available)
	if got != want {
		t.Errorf("%s: %s, want %s", account, got, want)
	}
}

// unchanged fails the test if the books differ from before.
func (e *env) unchanged(t testing.TB, before *books, what string) {
	t.Helper()
	if after := loadBooks(t, e); after.fingerprint() != before.fingerprint() {
		t.Errorf("%s changed the books:\nbefore %s\nafter  %s", what, before.fingerprint(), after.fingerprint())
	}
}

func wantCode(t testing.TB, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: error %v, want code %q", what, err, want)
	}
}

func TestPostMovesBalancesAndChainsSeq(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e1 := e.post(t, entry("p1", "110:USD", "debit", "100.50", "201:USD:alice", "credit", "100.50"))
	e2 := e.post(t, entry("p2", "201:USD:alice", "debit", "0.5", "605:USD", "credit", "0.5"))
	res := e.apply(t, ledger.Options{},
		newOp(entry("p3", "110:USD", "debit", "1", "201:USD:bob", "credit", "1")),
		newOp(entry("p4", "201:USD:bob", "debit", "1", "201:USD:alice", "credit", "1")))
	got := []*ledger.Entry{e1, e2, res[0].Entry, res[1].Entry}
	prev := ledger.GenesisHash
	for i, en := range got {
		if en.Seq != int64(i+1) {
			t.Errorf("entry %d: seq = %d, want %d", i, en.Seq, i+1)
		}
		if !bytes.Equal(en.PrevHash, prev) {
			t.Errorf("seq %d: prev_hash = %x, want %x", en.Seq, en.PrevHash, prev)
		}
		if want := ledger.ComputeHash(en.PrevHash, en); !bytes.Equal(en.Hash, want) {
			t.Errorf("seq %d: hash = %x, want %x", en.Seq, en.Hash, want)
		}
		prev = en.Hash
		if en.Phase != ledger.Posted || en.Kind != "manual" || !en.RecordedAt.Equal(e.clock.t) || !en.EffectiveAt.Equal(e.clock.t) {
			t.Errorf("seq %d: phase %s kind %s recorded %v effective %v, want posted manual at %v", en.Seq, en.Phase, en.Kind, en.RecordedAt, en.EffectiveAt, e.clock.t)
		}
	}
	if got := ledger.Format(&e2.Postings[0].BalanceAfter); got != "100" {
		t.Errorf("alice balance_after in seq 2 = %s, want 100", got)
	}
	e.wantBalance(t, "110:USD", "101.5", "0", "101.5")
	e.wantBalance(t, "201:USD:alice", "101", "0", "101")
	e.wantBalance(t, "201:USD:bob", "0", "0", "0")
	e.wantBalance(t, "605:USD", "0.5", "0", "0.5")
	alice := e.bal(t, "201:USD:alice", ledger.AsOf{})
	if d, c := ledger.Format(&alice.Debits), ledger.Format(&alice.Credits); d != "0.5" || c != "101.5" || alice.Seq != 4 {
		t.Errorf("alice debits %s credits %s seq %d, want 0.5 101.5 4", d, c, alice.Seq)
	}
	stored, links, err := e.ledger.GetEntry(ctx, e2.ID)
	if err != nil {
		t.Fatalf("GetEntry: %v", err)
	}
	if !bytes.Equal(ledger.CanonicalBytes(stored), ledger.CanonicalBytes(e2)) || !bytes.Equal(stored.Hash, e2.Hash) {
		t.Errorf("GetEntry(seq 2) differs from what Post returned:\n%+v\n%+v", stored, e2)
	}
	if links.ReversedBy != "" || links.CompletedBy != "" || len(links.Children) != 0 {
		t.Errorf("links = %+v, want none", links)
	}
	if _, _, err := e.ledger.GetEntry(ctx, "3f2504e0-4f89-41d3-9a0c-0305e82c3301"); code(err) != folio.ENOTFOUND {
		t.Errorf("GetEntry(unknown) error %v, want not_found", err)
	}
	if n := e.count(t, "entries"); n != 4 {
		t.Errorf("entries = %d, want 4", n)
	}
	e.verify(t)
}

func TestReplayWritesNothing(t *testing.T) {
	e := newEnv(t)
	base := entry("r1", "110:USD", "debit", "100.5", "201:USD:alice", "credit", "100.5")
	base.Kind, base.Description, base.Metadata = "trade_fee", "fee", json.RawMessage(`{"a":1,"b":[1.50,"x"]}`)
	first := e.post(t, base)
	before := loadBooks(t, e)
	tests := []struct {
		name string
		e    ledger.NewEntry
	}{
		{"identical", base},
		{"amounts with trailing zeros", with(base, func(x *ledger.NewEntry) {
			x.Postings = entry("", "110:USD", "debit", "100.50", "201:USD:alice", "credit", "100.50").Postings
		})},
		{"metadata reordered and spaced", with(base, func(x *ledger.NewEntry) { x.Metadata = json.RawMessage(` { "b" : [ 1.50, "x" ], "a" : 1 } `) })},
	}
	for _, tt := range tests {
		e.clock.Advance(time.Minute) // a replay later on is still a replay
		res, err := e.ledger.Post(context.Background(), []ledger.NewEntry{tt.e}, ledger.Options{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("%s: replay error %v / %v", tt.name, err, res[0].Err)
		}
		if !res[0].Replayed || res[0].Entry.ID != first.ID || res[0].Entry.Seq != 1 || !bytes.Equal(res[0].Entry.Hash, first.Hash) {
			t.Errorf("%s: result %+v, want a replay of entry %s", tt.name, res[0], first.ID)
		}
		if len(res[0].Entry.Postings) != 2 {
			t.Errorf("%s: replayed entry has %d postings, want 2", tt.name, len(res[0].Entry.Postings))
		}
	}
	e.unchanged(t, before, "replays")
	if n := e.count(t, "entries"); n != 1 {
		t.Errorf("entries = %d, want 1", n)
	}
	e.verify(t)
}

func TestIdempotencyConflictNamesFields(t *testing.T) {
	e := newEnv(t)
	base := entry("c1", "110:USD", "debit", "10", "201:USD:alice", "credit", "10")
	base.Kind, base.Description, base.Metadata = "trade_fee", "fee", json.RawMessage(`{"trade":1}`)
	e.post(t, base)
	before := loadBooks(t, e)
	tests := []struct {
		name string
		e    ledger.NewEntry
		want []string
	}{
		{"amount", with(base, func(x *ledger.NewEntry) {
			x.Postings = entry("", "110:USD", "debit", "11", "201:USD:alice", "credit", "11").Postings
		}), []string{"postings"}},
		{"account", with(base, func(x *ledger.NewEntry) {
			x.Postings = entry("", "110:USD", "debit", "10", "201:USD:bob", "credit", "10").Postings
		}), []string{"postings"}},
		{"kind", with(base, func(x *ledger.NewEntry) { x.Kind = "commission" }), []string{"kind"}},
		{"kind defaulted", with(base, func(x *ledger.NewEntry) { x.Kind = "" }), []string{"kind"}},
		{"metadata", with(base, func(x *ledger.NewEntry) { x.Metadata = json.RawMessage(`{"trade":2}`) }), []string{"metadata"}},
		{"description", with(base, func(x *ledger.NewEntry) { x.Description = "other" }), []string{"description"}},
		{"pending", with(base, func(x *ledger.NewEntry) { x.Pending = true }), []string{"pending"}},
		{"effective_at", with(base, func(x *ledger.NewEntry) { x.EffectiveAt = e.clock.t.Add(-time.Hour) }), []string{"effective_at"}},
		{"parent_id", with(base, func(x *ledger.NewEntry) { x.ParentID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301" }), []string{"parent_id"}},
		{"description and amount", with(base, func(x *ledger.NewEntry) {
			x.Description = "other"
			x.Postings = entry("", "110:USD", "debit", "11", "201:USD:alice", "credit", "11").Postings
		}), []string{"description", "postings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.ledger.Post(context.Background(), []ledger.NewEntry{tt.e}, ledger.Options{})
			if err != nil {
				t.Fatalf("Post: %v", err)
			}
			var fe *folio.Error
			if !errors.As(res[0].Err, &fe) || fe.Code != folio.EIDEMPOTENCY {
				t.Fatalf("Post() item error %v, want idempotency_conflict", res[0].Err)
			}
			if !slices.Equal(fe.Fields, tt.want) {
				t.Errorf("Fields = %q, want %q", fe.Fields, tt.want)
			}
			if res[0].Entry != nil || res[0].Replayed {
				t.Errorf("result %+v, want no entry", res[0])
			}
		})
	}
	e.unchanged(t, before, "conflicting requests")
}

func TestReverse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	orig := e.post(t, entry("o1", "110:USD", "debit", "100", "201:USD:alice", "credit", "70", "605:USD", "credit", "30",
		"110:BTC", "debit", "0.5", "201:BTC:alice", "credit", "0.5"))
	other := e.post(t, entry("o2", "110:USD", "debit", "5", "201:USD:bob", "credit", "5"))
	e.clock.Advance(time.Hour)

	r := e.one(t, reverseOp(orig.ID))
	if r.Err != nil {
		t.Fatalf("reverse: %v", r.Err)
	}
	rev := r.Entry
	if rev.Kind != ledger.KindReversal || rev.Reverses != orig.ID || rev.Phase != ledger.Posted || rev.Seq != 3 || !rev.RecordedAt.Equal(e.clock.t) {
		t.Errorf("reversal = kind %s reverses %s phase %s seq %d recorded %v, want reversal of %s, posted, seq 3, now",
			rev.Kind, rev.Reverses, rev.Phase, rev.Seq, rev.RecordedAt, orig.ID)
	}
	if len(rev.Postings) != len(orig.Postings) {
		t.Fatalf("reversal has %d postings, want %d", len(rev.Postings), len(orig.Postings))
	}
	for i, p := range rev.Postings {
		o := orig.Postings[i]
		if p.Account != o.Account || p.Side != o.Side.Opposite() || p.Amount.Cmp(&o.Amount) != 0 {
			t.Errorf("reversal posting %d = %s %s %s, want %s %s %s", i, p.Account, p.Side, ledger.Format(&p.Amount), o.Account, o.Side.Opposite(), ledger.Format(&o.Amount))
		}
	}
	for _, acct := range []string{"110:BTC", "201:USD:alice", "605:USD", "201:BTC:alice"} {
		e.wantBalance(t, acct, "0", "0", "0")
	}
	e.wantBalance(t, "110:USD", "5", "0", "5")
	alice := e.bal(t, "201:USD:alice", ledger.AsOf{})
	if d, c := ledger.Format(&alice.Debits), ledger.Format(&alice.Credits); d != "70" || c != "70" {
		t.Errorf("alice debits %s credits %s, want 70 70 (a reversal adds, never deletes)", d, c)
	}
	_, links, err := e.ledger.GetEntry(ctx, orig.ID)
	if err != nil || links.ReversedBy != rev.ID {
		t.Errorf("GetEntry(original) links %+v, %v; want ReversedBy %s", links, err, rev.ID)
	}

	pending := entry("o3", "110:USD", "debit", "1", "201:USD:carol", "credit", "1")
	pending.Pending = true
	pend := e.post(t, pending)
	voided := e.one(t, voidOp(pend.ID)).Entry

	before := loadBooks(t, e)
	refusals := []struct {
		name string
		op   ledger.Op
		want string
	}{
		{"reverse twice", reverseOp(orig.ID), folio.EREVERSED},
		{"reverse twice with a key", ledger.Op{Reverse: &ledger.ReverseOp{EntryID: orig.ID, IdempotencyKey: "rev-again"}}, folio.EREVERSED},
		{"reverse a reversal", reverseOp(rev.ID), folio.ECONFLICT},
		{"reverse a pending entry", reverseOp(pend.ID), folio.ECONFLICT},
		{"reverse a void", reverseOp(voided.ID), folio.ECONFLICT},
		{"reverse an unknown entry", reverseOp("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), folio.ENOTFOUND},
		{"reverse a malformed id", reverseOp("nope"), folio.ENOTFOUND},
		{"reverse with a future effective time", ledger.Op{Reverse: &ledger.ReverseOp{EntryID: other.ID, EffectiveAt: e.clock.t.AddDate(0, 0, 2)}}, folio.EINVALID},
		{"reverse with a NUL description", ledger.Op{Reverse: &ledger.ReverseOp{EntryID: other.ID, Description: "\x00"}}, folio.EINVALID},
		{"two operations in one", ledger.Op{Reverse: &ledger.ReverseOp{EntryID: other.ID}, Void: &ledger.VoidOp{EntryID: other.ID}}, folio.EINVALID},
	}
	for _, tt := range refusals {
		wantCode(t, tt.name, e.one(t, tt.op).Err, tt.want)
	}
	e.unchanged(t, before, "refused reversals")

	// With an explicit key a repeated reversal is a replay; the same key
	// for another request is a conflict.
	keyed := ledger.Op{Reverse: &ledger.ReverseOp{EntryID: other.ID, IdempotencyKey: "rev-o2", Description: "typo"}}
	r1 := e.one(t, keyed)
	r2 := e.one(t, keyed)
	if r1.Err != nil || r2.Err != nil || !r2.Replayed || r2.Entry.ID != r1.Entry.ID || r1.Entry.Description != "typo" {
		t.Errorf("keyed reversal then replay = %+v, %+v; want the same entry, replayed", r1, r2)
	}
	diff := e.one(t, ledger.Op{Reverse: &ledger.ReverseOp{EntryID: other.ID, IdempotencyKey: "rev-o2", Description: "other"}})
	var fe *folio.Error
	if !errors.As(diff.Err, &fe) || fe.Code != folio.EIDEMPOTENCY || !slices.Equal(fe.Fields, []string{"operation"}) {
		t.Errorf("same key, other reversal = %v, want idempotency_conflict on [operation]", diff.Err)
	}
	e.wantBalance(t, "201:USD:bob", "0", "0", "0")
	e.verify(t)
}

// fund credits an account (on its credit side) from 110 in its currency.
func (e *env) fund(t testing.TB, key, account, amount string) *ledger.Entry {
	t.Helper()
	cur := strings.Split(account, ":")[1]
	return e.post(t, entry(key, "110:"+cur, "debit", amount, account, "credit", amount))
}

func TestPendingPartialPost(t *testing.T) {
	e := newEnv(t)
	e.fund(t, "f1", "201:USD:alice", "100")
	hold := entry("w1", "201:USD:alice", "debit", "30", "110:USD", "credit", "30")
	hold.Pending = true
	pend := e.post(t, hold)
	if pend.Phase != ledger.Pending || !pend.Postings[0].Pending {
		t.Fatalf("pending entry phase %s, posting pending %t; want pending", pend.Phase, pend.Postings[0].Pending)
	}
	e.wantBalance(t, "201:USD:alice", "100", "30", "70")
	e.wantBalance(t, "110:USD", "100", "30", "70")
	alice := e.bal(t, "201:USD:alice", ledger.AsOf{})
	if pd, d := ledger.Format(&alice.PendingDebits), ledger.Format(&alice.Debits); pd != "30" || d != "0" {
		t.Errorf("alice pending debits %s debits %s, want 30 0", pd, d)
	}

	notPending := e.fund(t, "f2", "201:USD:bob", "1")
	bad := []struct {
		name string
		op   ledger.Op
		want string
	}{
		{"more than pending", postOp(pend.ID, "201:USD:alice", "debit", "31", "110:USD", "credit", "31"), folio.EAMOUNT},
		{"account not in the entry", postOp(pend.ID, "201:USD:bob", "debit", "10", "110:USD", "credit", "10"), folio.EINVALID},
		{"side not in the entry", postOp(pend.ID, "201:USD:alice", "credit", "10", "110:USD", "debit", "10"), folio.EINVALID},
		{"unbalanced", postOp(pend.ID, "201:USD:alice", "debit", "10", "110:USD", "credit", "9"), folio.EUNBALANCED},
		{"one posting", postOp(pend.ID, "201:USD:alice", "debit", "10"), folio.EUNBALANCED},
		{"too precise", postOp(pend.ID, "201:USD:alice", "debit", "10.001", "110:USD", "credit", "10.001"), folio.EAMOUNT},
		{"not pending", postOp(notPending.ID), folio.ECONFLICT},
	}
	before := loadBooks(t, e)
	for _, tt := range bad {
		wantCode(t, tt.name, e.one(t, tt.op).Err, tt.want)
	}
	e.unchanged(t, before, "refused posts")

	e.clock.Advance(time.Hour)
	r := e.one(t, postOp(pend.ID, "201:USD:alice", "debit", "20", "110:USD", "credit", "20"))
	if r.Err != nil {
		t.Fatalf("partial post: %v", r.Err)
	}
	post := r.Entry
	if post.Phase != ledger.PostPending || post.Completes != pend.ID || post.Kind != ledger.KindPost || !post.EffectiveAt.Equal(pend.EffectiveAt) {
		t.Errorf("post entry phase %s completes %s kind %s effective %v, want post_pending of %s effective %v",
			post.Phase, post.Completes, post.Kind, post.EffectiveAt, pend.ID, pend.EffectiveAt)
	}
	if len(post.Postings) != 2 || ledger.Format(&post.Postings[0].Amount) != "20" || post.Postings[0].Pending {
		t.Errorf("post postings %+v, want two posted postings of 20", post.Postings)
	}
	e.wantBalance(t, "201:USD:alice", "80", "0", "80")
	e.wantBalance(t, "110:USD", "81", "0", "81")
	alice = e.bal(t, "201:USD:alice", ledger.AsOf{})
	if pd, d := ledger.Format(&alice.PendingDebits), ledger.Format(&alice.Debits); pd != "0" || d != "20" {
		t.Errorf("alice pending debits %s debits %s after the post, want 0 20", pd, d)
	}
	_, links, err := e.ledger.GetEntry(context.Background(), pend.ID)
	if err != nil || links.CompletedBy != post.ID {
		t.Errorf("GetEntry(pending) links %+v, %v; want CompletedBy %s", links, err, post.ID)
	}
	before = loadBooks(t, e)
	wantCode(t, "second post", e.one(t, postOp(pend.ID)).Err, folio.ECONFLICT)
	wantCode(t, "void after post", e.one(t, voidOp(pend.ID)).Err, folio.ECONFLICT)
	e.unchanged(t, before, "completing twice")

	// A full post (no postings given) posts the pending amounts.
	hold2 := entry("w2", "201:USD:alice", "debit", "5", "110:USD", "credit", "5")
	hold2.Pending = true
	full := e.one(t, postOp(e.post(t, hold2).ID))
	if full.Err != nil || len(full.Entry.Postings) != 2 || ledger.Format(&full.Entry.Postings[1].Amount) != "5" {
		t.Errorf("full post = %+v, want postings of 5", full)
	}
	e.wantBalance(t, "201:USD:alice", "75", "0", "75")
	e.verify(t)
}

func TestPendingVoid(t *testing.T) {
	e := newEnv(t)
	e.fund(t, "f1", "201:USD:alice", "100")
	hold := entry("w1", "201:USD:alice", "debit", "30", "110:USD", "credit", "30")
	hold.Pending = true
	pend := e.post(t, hold)
	e.wantBalance(t, "201:USD:alice", "100", "30", "70")

	r := e.one(t, voidOp(pend.ID))
	if r.Err != nil {
		t.Fatalf("void: %v", r.Err)
	}
	if r.Entry.Phase != ledger.VoidPending || r.Entry.Completes != pend.ID || len(r.Entry.Postings) != 0 || r.Entry.Seq != 3 {
		t.Errorf("void entry = phase %s completes %s postings %d seq %d, want void_pending of %s, no postings, seq 3",
			r.Entry.Phase, r.Entry.Completes, len(r.Entry.Postings), r.Entry.Seq, pend.ID)
	}
	e.wantBalance(t, "201:USD:alice", "100", "0", "100")
	e.wantBalance(t, "110:USD", "100", "0", "100")
	_, links, err := e.ledger.GetEntry(context.Background(), pend.ID)
	if err != nil || links.CompletedBy != r.Entry.ID {
		t.Errorf("links %+v, %v; want CompletedBy %s", links, err, r.Entry.ID)
	}
	before := loadBooks(t, e)
	wantCode(t, "void twice", e.one(t, voidOp(pend.ID)).Err, folio.ECONFLICT)
	wantCode(t, "post after void", e.one(t, postOp(pend.ID)).Err, folio.ECONFLICT)
	wantCode(t, "void a posted entry", e.one(t, voidOp(r.Entry.ID)).Err, folio.ECONFLICT)
	e.unchanged(t, before, "refused completions")
	e.verify(t)
}

func TestPendingExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fund(t, "f1", "201:USD:alice", "100")
	hold := func(key, amount string, expires time.Duration) *ledger.Entry {
		ne := entry(key, "201:USD:alice", "debit", amount, "110:USD", "credit", amount)
		at := e.clock.t.Add(expires)
		ne.Pending, ne.ExpiresAt = true, &at
		return e.post(t, ne)
	}
	p1 := hold("h1", "10", time.Hour)
	p2 := hold("h2", "20", 3*time.Hour)
	if n, err := e.ledger.ExpirePending(ctx); n != 0 || err != nil {
		t.Fatalf("ExpirePending before expiry = %d, %v; want 0", n, err)
	}
	e.clock.Advance(2 * time.Hour)
	if n, err := e.ledger.ExpirePending(ctx); n != 1 || err != nil {
		t.Fatalf("ExpirePending after 2h = %d, %v; want 1", n, err)
	}
	_, links, err := e.ledger.GetEntry(ctx, p1.ID)
	if err != nil || links.CompletedBy == "" {
		t.Fatalf("expired entry links %+v, %v; want completed", links, err)
	}
	void, _, err := e.ledger.GetEntry(ctx, links.CompletedBy)
	if err != nil || void.Phase != ledger.VoidPending {
		t.Errorf("expiry wrote %+v, %v; want a void_pending entry", void, err)
	}
	e.wantBalance(t, "201:USD:alice", "100", "20", "80")
	before := loadBooks(t, e)
	wantCode(t, "post an expired, voided entry", e.one(t, postOp(p1.ID)).Err, folio.ECONFLICT)

	// Expired but not yet swept: it cannot be posted, but can be voided.
	e.clock.Advance(2 * time.Hour)
	wantCode(t, "post an expired entry", e.one(t, postOp(p2.ID)).Err, folio.ECONFLICT)
	e.unchanged(t, before, "posting expired entries")
	if r := e.one(t, voidOp(p2.ID)); r.Err != nil {
		t.Errorf("void an expired entry: %v", r.Err)
	}
	if n, err := e.ledger.ExpirePending(ctx); n != 0 || err != nil {
		t.Errorf("ExpirePending with nothing left = %d, %v; want 0", n, err)
	}
	e.wantBalance(t, "201:USD:alice", "100", "0", "100")
	e.verify(t)
}

func TestNonNegativeRule(t *testing.T) {
	e := newEnv(t)
	refuse := func(name string, ne ledger.NewEntry) {
		t.Helper()
		before := loadBooks(t, e)
		res, err := e.ledger.Post(context.Background(), []ledger.NewEntry{ne}, ledger.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantCode(t, name, res[0].Err, folio.EINSUFFICIENT)
		e.unchanged(t, before, name)
	}
	refuse("debit a new 230 account", entry("n1", "230:USD:x", "debit", "0.01", "110:USD", "credit", "0.01"))
	e.post(t, entry("n2", "110:USD", "debit", "50", "230:USD:x", "credit", "50"))
	refuse("debit below zero", entry("n3", "230:USD:x", "debit", "50.01", "110:USD", "credit", "50.01"))
	// The rule is per code: 201 has none and may go negative.
	e.post(t, entry("n4", "201:USD:y", "debit", "5", "110:USD", "credit", "5"))
	e.wantBalance(t, "201:USD:y", "-5", "0", "-5")

	hold := entry("n5", "230:USD:x", "debit", "30", "110:USD", "credit", "30")
	hold.Pending = true
	pend := e.post(t, hold)
	e.wantBalance(t, "230:USD:x", "50", "30", "20")
	refuse("debit more than available while a hold is pending", entry("n6", "230:USD:x", "debit", "20.01", "110:USD", "credit", "20.01"))
	refuse("a second hold beyond available", with(entry("n7", "230:USD:x", "debit", "21", "110:USD", "credit", "21"), func(x *ledger.NewEntry) { x.Pending = true }))
	e.post(t, entry("n8", "230:USD:x", "debit", "20", "110:USD", "credit", "20"))
	e.wantBalance(t, "230:USD:x", "30", "30", "0")

	// Within one batch each entry sees the ones before it.
	if r := e.one(t, voidOp(pend.ID)); r.Err != nil {
		t.Fatalf("void: %v", r.Err)
	}
	res := e.apply(t, ledger.Options{},
		newOp(entry("n9", "230:USD:x", "debit", "20", "110:USD", "credit", "20")),
		newOp(entry("n10", "230:USD:x", "debit", "20", "110:USD", "credit", "20")),
		newOp(entry("n11", "230:USD:x", "debit", "10", "110:USD", "credit", "10")))
	if res[0].Err != nil || res[2].Err != nil {
		t.Errorf("batch items 0 and 2: %v, %v; want ok", res[0].Err, res[2].Err)
	}
	wantCode(t, "second debit of 20 in one batch", res[1].Err, folio.EINSUFFICIENT)
	e.wantBalance(t, "230:USD:x", "0", "0", "0")
	// Crediting an account with the rule is always allowed.
	e.post(t, entry("n12", "110:USD", "debit", "1", "230:USD:x", "credit", "1"))
	e.verify(t)
}

func TestBalanceAsOfSeq(t *testing.T) {
	e := newEnv(t)
	e.fund(t, "s1", "201:USD:alice", "10")
	e.fund(t, "s2", "201:USD:bob", "7")
	e.fund(t, "s3", "201:USD:alice", "5")
	e.post(t, entry("s4", "201:USD:alice", "debit", "3", "605:USD", "credit", "3"))
	tests := []struct {
		account              string
		seq                  int64
		balance, debits, cre string
	}{
		{"201:USD:alice", 1, "10", "0", "10"},
		{"201:USD:alice", 2, "10", "0", "10"},
		{"201:USD:alice", 3, "15", "0", "15"},
		{"201:USD:alice", 4, "12", "3", "15"},
		{"201:USD:alice", 0, "12", "3", "15"}, // zero AsOf: now
		{"201:USD:alice", 99, "12", "3", "15"},
		{"201:USD:bob", 1, "0", "0", "0"},
		{"201:USD:bob", 2, "7", "0", "7"},
		{"110:USD", 3, "22", "22", "0"},
		{"605:USD", 3, "0", "0", "0"},
		{"201:USD:never", 4, "0", "0", "0"},
	}
	for _, tt := range tests {
		b := e.bal(t, tt.account, ledger.AsOf{Seq: tt.seq})
		got := fmt.Sprintf("%s d%s c%s", ledger.Format(&b.Balance), ledger.Format(&b.Debits), ledger.Format(&b.Credits))
		if want := fmt.Sprintf("%s d%s c%s", tt.balance, tt.debits, tt.cre); got != want {
			t.Errorf("GetBalance(%s, seq %d) = %s, want %s", tt.account, tt.seq, got, want)
		}
	}
	if _, err := e.ledger.GetBalance(context.Background(), "201:USD", ledger.AsOf{}); code(err) != folio.EACCOUNT {
		t.Errorf("GetBalance(201:USD) error %v, want unknown_account", err)
	}
}

func TestBalanceAsOfRecordedTime(t *testing.T) {
	e := newEnv(t)
	t0 := e.clock.t
	e.fund(t, "t1", "201:USD:alice", "10")
	e.clock.Advance(time.Hour)
	e.fund(t, "t2", "201:USD:alice", "5")
	e.clock.Advance(time.Hour)
	e.fund(t, "t3", "201:USD:alice", "1")
	tests := []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Second), "0"},
		{t0, "10"},
		{t0.Add(30 * time.Minute), "10"},
		{t0.Add(time.Hour - time.Microsecond), "10"},
		{t0.Add(time.Hour), "15"},
		{t0.Add(90 * time.Minute), "15"},
		{t0.Add(2 * time.Hour), "16"},
		{t0.Add(24 * time.Hour), "16"},
	}
	for _, tt := range tests {
		b := e.bal(t, "201:USD:alice", ledger.AsOf{Recorded: tt.at})
		if got := ledger.Format(&b.Balance); got != tt.want {
			t.Errorf("balance as of recorded %v = %s, want %s", tt.at.Sub(t0), got, tt.want)
		}
	}
}

func TestBalanceAsOfEffectiveTime(t *testing.T) {
	e := newEnv(t)
	t0 := e.clock.t
	e.fund(t, "e1", "201:USD:alice", "10")
	e.clock.Advance(48 * time.Hour)
	back := entry("e2", "110:USD", "debit", "5", "201:USD:alice", "credit", "5")
	back.EffectiveAt = t0.Add(24 * time.Hour)
	e.post(t, back)
	ahead := entry("e3", "110:USD", "debit", "1", "201:USD:alice", "credit", "1")
	ahead.EffectiveAt = e.clock.t.Add(time.Hour)
	e.post(t, ahead)
	e.post(t, entry("e4", "201:USD:alice", "debit", "2", "605:USD", "credit", "2")) // effective now
	tests := []struct {
		name string
		at   ledger.AsOf
		want string
	}{
		{"effective before everything", ledger.AsOf{Effective: t0.Add(-time.Second)}, "0"},
		{"effective at the first entry", ledger.AsOf{Effective: t0}, "10"},
		{"effective just before the back-dated entry", ledger.AsOf{Effective: t0.Add(24*time.Hour - time.Microsecond)}, "10"},
		{"effective at the back-dated entry", ledger.AsOf{Effective: t0.Add(24 * time.Hour)}, "15"},
		{"effective now", ledger.AsOf{Effective: e.clock.t}, "13"},
		{"effective after the future-dated entry", ledger.AsOf{Effective: e.clock.t.Add(2 * time.Hour)}, "14"},
		{"recorded at t0+24h (the back-dated entry was recorded later)", ledger.AsOf{Recorded: t0.Add(24 * time.Hour)}, "10"},
		{"current", ledger.AsOf{}, "14"},
	}
	for _, tt := range tests {
		b := e.bal(t, "201:USD:alice", tt.at)
		if got := ledger.Format(&b.Balance); got != tt.want {
			t.Errorf("%s: balance %s, want %s", tt.name, got, tt.want)
		}
	}
	b := e.bal(t, "201:USD:alice", ledger.AsOf{Effective: t0.Add(24 * time.Hour)})
	if d, c := ledger.Format(&b.Debits), ledger.Format(&b.Credits); d != "0" || c != "15" {
		t.Errorf("as of effective t0+24h: debits %s credits %s, want 0 15", d, c)
	}
}

func TestStatement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day := func(n int) time.Time { return time.Date(2026, 1, n, 12, 0, 0, 0, time.UTC) }
	e.clock.t = day(1)
	e.fund(t, "st1", "201:USD:alice", "100") // before the period: opening
	e.clock.t = day(12)
	s2 := e.post(t, with(entry("st2", "201:USD:alice", "debit", "30", "605:USD", "credit", "30"), func(x *ledger.NewEntry) { x.Kind, x.Description = "trade_fee", "fee" }))
	e.clock.t = day(25)
	back := entry("st3", "110:USD", "debit", "4", "120:USD", "debit", "3", "201:USD:alice", "credit", "7")
	back.EffectiveAt, back.Description = day(11), "late deposit"
	s3 := e.post(t, back)
	e.post(t, entry("st4", "110:USD", "debit", "1", "201:USD:alice", "credit", "1")) // after the period
	pend := entry("st5", "201:USD:alice", "debit", "50", "110:USD", "credit", "50")
	pend.Pending, pend.EffectiveAt = true, day(15)
	e.post(t, pend) // pending: not on the statement

	st, err := e.ledger.Statement(ctx, "201:USD:alice", day(10), day(20))
	if err != nil {
		t.Fatalf("Statement: %v", err)
	}
	if o, c := ledger.Format(&st.Opening), ledger.Format(&st.Closing); o != "100" || c != "77" {
		t.Errorf("opening %s closing %s, want 100 77", o, c)
	}
	type line struct {
		seq                     int64
		id, kind, desc, counter string
		side                    accounts.Side
		amount, running         string
	}
	var got []line
	for _, l := range st.Lines {
		got = append(got, line{l.Seq, l.EntryID, l.Kind, l.Description, strings.Join(l.CounterAccounts, ","), l.Side, ledger.Format(&l.Amount), ledger.Format(&l.Running)})
	}
	want := []line{
		{3, s3.ID, "manual", "late deposit", "110:USD,120:USD", accounts.Credit, "7", "107"},
		{2, s2.ID, "trade_fee", "fee", "605:USD", accounts.Debit, "30", "77"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("statement lines\n got %+v\nwant %+v", got, want)
	}
	if len(st.Lines) == 2 && (!st.Lines[0].EffectiveAt.Equal(day(11)) || !st.Lines[0].RecordedAt.Equal(day(25))) {
		t.Errorf("back-dated line effective %v recorded %v, want %v %v", st.Lines[0].EffectiveAt, st.Lines[0].RecordedAt, day(11), day(25))
	}

	all, err := e.ledger.Statement(ctx, "201:USD:alice", day(1), day(30))
	if err != nil {
		t.Fatalf("Statement(all): %v", err)
	}
	cur := e.bal(t, "201:USD:alice", ledger.AsOf{})
	if o, c := ledger.Format(&all.Opening), ledger.Format(&all.Closing); o != "0" || c != ledger.Format(&cur.Balance) || len(all.Lines) != 4 {
		t.Errorf("whole statement: opening %s closing %s with %d lines, want 0, %s (the balance), 4 lines", o, c, len(all.Lines), ledger.Format(&cur.Balance))
	}
	if _, err := e.ledger.Statement(ctx, "201:USD:alice", day(20), day(10)); code(err) != folio.EINVALID {
		t.Errorf("Statement(from after to) error %v, want invalid_request", err)
	}
}

func TestTrialBalance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fund(t, "tb1", "201:USD:alice", "100")
	e.clock.Advance(time.Hour)
	e.post(t, entry("tb2", "201:USD:alice", "debit", "40", "605:USD", "credit", "40", "110:BTC", "debit", "1", "201:BTC:bob", "credit", "1"))
	e.clock.Advance(time.Hour)
	e.fund(t, "tb3", "201:USD:bob", "10")
	pend := entry("tb4", "201:USD:alice", "debit", "5", "110:USD", "credit", "5")
	pend.Pending = true
	e.post(t, pend) // pending amounts are not in the trial balance

	render := func(tb *ledger.TrialBalance) string {
		var b strings.Builder
		for _, c := range tb.Currencies {
			fmt.Fprintf(&b, "%s balanced=%t %s/%s:", c.Currency, c.Balanced, ledger.Format(&c.TotalDebits), ledger.Format(&c.TotalCredits))
			for _, l := range c.Lines {
				fmt.Fprintf(&b, " %s(%s %s %s)", l.Account, ledger.Format(&l.Debits), ledger.Format(&l.Credits), ledger.Format(&l.Balance))
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	tests := []struct {
		name     string
		at       ledger.AsOf
		currency string
		seq      int64
		want     string
	}{
		{"current", ledger.AsOf{}, "", 4,
			"BTC balanced=true 1/1: 110:BTC(1 0 1) 201:BTC:bob(0 1 1)\n" +
				"USD balanced=true 150/150: 110:USD(110 0 110) 201:USD:alice(40 100 60) 201:USD:bob(0 10 10) 605:USD(0 40 40)\n"},
		{"as of seq 1", ledger.AsOf{Seq: 1}, "", 1, "USD balanced=true 100/100: 110:USD(100 0 100) 201:USD:alice(0 100 100)\n"},
		{"as of seq 2", ledger.AsOf{Seq: 2}, "", 2,
			"BTC balanced=true 1/1: 110:BTC(1 0 1) 201:BTC:bob(0 1 1)\n" +
				"USD balanced=true 140/140: 110:USD(100 0 100) 201:USD:alice(40 100 60) 605:USD(0 40 40)\n"},
		{"as of recorded time before seq 3", ledger.AsOf{Recorded: e.clock.t.Add(-time.Minute)}, "", 2,
			"BTC balanced=true 1/1: 110:BTC(1 0 1) 201:BTC:bob(0 1 1)\n" +
				"USD balanced=true 140/140: 110:USD(100 0 100) 201:USD:alice(40 100 60) 605:USD(0 40 40)\n"},
		{"BTC only", ledger.AsOf{}, "BTC", 4, "BTC balanced=true 1/1: 110:BTC(1 0 1) 201:BTC:bob(0 1 1)\n"},
	}
	for _, tt := range tests {
		tb, err := e.ledger.TrialBalance(ctx, tt.at, tt.currency)
		if err != nil {
			t.Fatalf("%s: TrialBalance: %v", tt.name, err)
		}
		if got := render(tb); got != tt.want || tb.Seq != tt.seq {
			t.Errorf("%s: trial balance at seq %d\n%s\nwant at seq %d\n%s", tt.name, tb.Seq, got, tt.seq, tt.want)
		}
	}
	if _, err := e.ledger.TrialBalance(ctx, ledger.AsOf{Effective: e.clock.t}, ""); code(err) != folio.EINVALID {
		t.Errorf("TrialBalance(as of effective) error %v, want invalid_request", err)
	}
}

func TestBatchPerItemResults(t *testing.T) {
	e := newEnv(t)
	e.fund(t, "b0", "230:USD:x", "1")
	bad := []struct {
		name string
		op   ledger.Op
		want string
	}{
		{"unbalanced", newOp(entry("bad1", "110:USD", "debit", "1", "201:USD:a", "credit", "2")), folio.EUNBALANCED},
		{"NUL in description", newOp(with(entry("bad2", "110:USD", "debit", "1", "201:USD:a", "credit", "1"), func(x *ledger.NewEntry) { x.Description = "\x00" })), folio.EINVALID},
		{"metadata JSONB refuses", newOp(with(entry("bad3", "110:USD", "debit", "1", "201:USD:a", "credit", "1"), func(x *ledger.NewEntry) {
			x.Metadata = json.RawMessage(`{"a":"\u0000"}`)
		})), folio.EINVALID},
		{"insufficient balance", newOp(entry("bad4", "230:USD:x", "debit", "2", "110:USD", "credit", "2")), folio.EINSUFFICIENT},
		{"unknown reversal target", reverseOp("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), folio.ENOTFOUND},
		{"empty operation", ledger.Op{}, folio.EINVALID},
	}
	for i, tt := range bad {
		seq := int64(e.count(t, "entries"))
		res := e.apply(t, ledger.Options{},
			newOp(entry(fmt.Sprintf("ok%d-a", i), "110:USD", "debit", "1", "201:USD:a", "credit", "1")),
			tt.op,
			newOp(entry(fmt.Sprintf("ok%d-b", i), "110:USD", "debit", "2", "201:USD:b", "credit", "2")))
		if res[0].Err != nil || res[2].Err != nil || res[0].Entry.Seq != seq+1 || res[2].Entry.Seq != seq+2 {
			t.Errorf("%s: good items = %+v, %+v; want seqs %d and %d", tt.name, res[0], res[2], seq+1, seq+2)
		}
		wantCode(t, tt.name, res[1].Err, tt.want)
		if res[1].Entry != nil {
			t.Errorf("%s: failed item has entry %+v", tt.name, res[1].Entry)
		}
		if n := int64(e.count(t, "entries")); n != seq+2 {
			t.Errorf("%s: entries = %d, want %d", tt.name, n, seq+2)
		}
	}
	e.wantBalance(t, "201:USD:a", fmt.Sprint(len(bad)), "0", fmt.Sprint(len(bad)))
	e.verify(t)
}

func TestAtomicBatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stored := e.fund(t, "a0", "230:USD:x", "1")
	good := func(k string) ledger.Op { return newOp(entry(k, "110:USD", "debit", "1", "201:USD:a", "credit", "1")) }
	tests := []struct {
		name     string
		ops      []ledger.Op
		bad      int
		want     string
		replayed []int // items that stay replays of stored entries
	}{
		{"invalid item", []ledger.Op{good("a1"), newOp(entry("a2", "110:USD", "debit", "1", "201:USD:a", "credit", "2")), good("a3")}, 1, folio.EUNBALANCED, nil},
		{"rule fails on the last item", []ledger.Op{good("a1"), good("a3"), newOp(entry("a2", "230:USD:x", "debit", "2", "110:USD", "credit", "2"))}, 2, folio.EINSUFFICIENT, nil},
		{"with a replay of a stored entry", []ledger.Op{newOp(entry("a0", "110:USD", "debit", "1", "230:USD:x", "credit", "1")), reverseOp("nope")}, 1, folio.ENOTFOUND, []int{0}},
		{"with an in-batch duplicate", []ledger.Op{good("a1"), good("a1"), newOp(entry("a2", "1:USD", "debit", "1", "201:USD:a", "credit", "1"))}, 2, folio.EACCOUNT, nil},
	}
	for _, tt := range tests {
		before := loadBooks(t, e)
		res, err := e.ledger.Apply(ctx, tt.ops, ledger.Options{Atomic: true})
		if !errors.Is(err, ledger.ErrBatchRejected) {
			t.Errorf("%s: Apply error %v, want ErrBatchRejected", tt.name, err)
		}
		if len(res) != len(tt.ops) {
			t.Fatalf("%s: %d results for %d operations", tt.name, len(res), len(tt.ops))
		}
		for i, r := range res {
			switch {
			case i == tt.bad:
				wantCode(t, fmt.Sprintf("%s: item %d", tt.name, i), r.Err, tt.want)
			case slices.Contains(tt.replayed, i):
				if r.Err != nil || !r.Replayed || r.Entry.ID != stored.ID {
					t.Errorf("%s: item %d = %+v, want the replay of the stored entry", tt.name, i, r)
				}
			default:
				if r.Err == nil || r.Entry != nil || r.Replayed {
					t.Errorf("%s: item %d = %+v, want an error (not written)", tt.name, i, r)
				}
			}
		}
		e.unchanged(t, before, tt.name)
	}
	res, err := e.ledger.Apply(ctx, []ledger.Op{good("a1"), good("a2"), good("a1")}, ledger.Options{Atomic: true})
	if err != nil || res[0].Err != nil || res[1].Err != nil || !res[2].Replayed || res[2].Entry.ID != res[0].Entry.ID {
		t.Fatalf("good atomic batch = %+v, %v", res, err)
	}
	if res[0].Entry.Seq != 2 || res[1].Entry.Seq != 3 || e.count(t, "entries") != 3 {
		t.Errorf("good atomic batch seqs %d %d, entries %d; want 2 3, 3", res[0].Entry.Seq, res[1].Entry.Seq, e.count(t, "entries"))
	}
	e.verify(t)
}

func TestInBatchDuplicateKeys(t *testing.T) {
	e := newEnv(t)
	a := entry("d1", "110:USD", "debit", "1", "201:USD:a", "credit", "1")
	a2 := entry("d1", "110:USD", "debit", "1.00", "201:USD:a", "credit", "1.0")
	b := entry("d2", "110:USD", "debit", "2", "201:USD:a", "credit", "2")
	b2 := entry("d2", "110:USD", "debit", "3", "201:USD:a", "credit", "3")
	res := e.apply(t, ledger.Options{}, newOp(a), newOp(a2), newOp(b), newOp(b2))
	if res[0].Err != nil || res[0].Replayed || res[1].Err != nil || !res[1].Replayed || res[1].Entry.ID != res[0].Entry.ID {
		t.Errorf("same key, same content: %+v then %+v; want created then a replay of it", res[0], res[1])
	}
	var fe *folio.Error
	if res[2].Err != nil || !errors.As(res[3].Err, &fe) || fe.Code != folio.EIDEMPOTENCY || !slices.Equal(fe.Fields, []string{"postings"}) {
		t.Errorf("same key, different content: %+v then %v; want created then idempotency_conflict on [postings]", res[2], res[3].Err)
	}
	if n := e.count(t, "entries"); n != 2 {
		t.Errorf("entries = %d, want 2", n)
	}
	e.wantBalance(t, "201:USD:a", "3", "0", "3")

	x, y := res[0].Entry, res[2].Entry
	keyed := ledger.Op{Reverse: &ledger.ReverseOp{EntryID: x.ID, IdempotencyKey: "rev-x"}}
	hold := entry("d3", "201:USD:a", "debit", "1", "110:USD", "credit", "1")
	hold.Pending = true
	pend := e.post(t, hold)
	res = e.apply(t, ledger.Options{}, keyed, keyed, reverseOp(y.ID), reverseOp(y.ID), postOp(pend.ID), voidOp(pend.ID))
	if res[0].Err != nil || res[1].Err != nil || !res[1].Replayed || res[1].Entry.ID != res[0].Entry.ID {
		t.Errorf("keyed reversal twice in a batch: %+v then %+v; want a replay", res[0], res[1])
	}
	if res[2].Err != nil {
		t.Errorf("reversal of y: %v", res[2].Err)
	}
	wantCode(t, "second reversal of y in the batch", res[3].Err, folio.EREVERSED)
	if res[4].Err != nil {
		t.Errorf("post: %v", res[4].Err)
	}
	wantCode(t, "void after post in the batch", res[5].Err, folio.ECONFLICT)

	// A key whose first use fails is free for the next item.
	res = e.apply(t, ledger.Options{},
		newOp(entry("d4", "230:USD:z", "debit", "1", "110:USD", "credit", "1")),
		newOp(entry("d4", "110:USD", "debit", "1", "230:USD:z", "credit", "1")))
	wantCode(t, "failed first use", res[0].Err, folio.EINSUFFICIENT)
	if res[1].Err != nil || res[1].Replayed {
		t.Errorf("second use after a failed first: %+v, want created", res[1])
	}
	e.verify(t)
}

func TestMetadataRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	inputs := []string{
		`{"n":1e2}`,
		`{"n":1.50,"m":-0.0,"o":1.5e-3,"p":12.340e1}`,
		`{"big":1e300,"small":1e-300,"int":123456789012345678901234567890}`,
		`{"z":1,"a":2,"mm":3,"b":{"y":[1,{"k":null,"c":true}],"x":"é"}}`,
		`{"unicode":"é😀中文","line":"\u2028\u2029","ctl":"\u0001\t\n","quote":"\"\\/<>&"}`,
		`{"é":1,"e":2,"😀":3,"":4}`,
		deep,
		`{}`,
	}
	for i, in := range inputs {
		ne := entry(fmt.Sprintf("md%d", i), "110:USD", "debit", "1", "605:USD", "credit", "1")
		ne.Metadata = json.RawMessage(in)
		posted := e.post(t, ne)
		want, err := ledger.CanonicalMetadata(json.RawMessage(in))
		if err != nil {
			t.Fatalf("CanonicalMetadata(%s): %v", in, err)
		}
		got, _, err := e.ledger.GetEntry(ctx, posted.ID)
		if err != nil {
			t.Fatalf("GetEntry: %v", err)
		}
		if string(got.Metadata) != string(want) || string(posted.Metadata) != string(want) {
			t.Errorf("metadata %s: posted %s, read back %s, want %s", in, posted.Metadata, got.Metadata, want)
		}
		var stored string
		if err := e.db.Admin.QueryRow(ctx, `SELECT metadata::text FROM entries WHERE id = $1`, posted.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if again, err := ledger.CanonicalMetadata(json.RawMessage(stored)); err != nil || string(again) != string(want) {
			t.Errorf("metadata %s: JSONB text %s canonicalizes to %s, %v; want %s", in, stored, again, err, want)
		}
		res, err := e.ledger.Post(ctx, []ledger.NewEntry{ne}, ledger.Options{})
		if err != nil || res[0].Err != nil || !res[0].Replayed {
			t.Errorf("metadata %s: replay after the round trip = %+v, %v; want a replay", in, res, err)
		}
	}
	e.verify(t)
}

func TestTimestampsMicroseconds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.clock.t = time.Date(2026, 1, 1, 12, 0, 0, 123456789, time.UTC)
	zone := time.FixedZone("X", 5*3600)
	eff := time.Date(2025, 12, 31, 9, 30, 0, 987654321, zone)
	exp := e.clock.t.Add(time.Hour + 999)
	ne := entry("ts1", "110:USD", "debit", "1", "201:USD:a", "credit", "1")
	ne.EffectiveAt, ne.Pending, ne.ExpiresAt = eff, true, &exp
	posted := e.post(t, ne)
	if want := e.clock.t.Truncate(time.Microsecond); !posted.RecordedAt.Equal(want) || posted.RecordedAt.Nanosecond()%1000 != 0 {
		t.Errorf("recorded_at = %v, want %v", posted.RecordedAt, want)
	}
	if want := eff.UTC().Truncate(time.Microsecond); !posted.EffectiveAt.Equal(want) || posted.EffectiveAt.Location() != time.UTC {
		t.Errorf("effective_at = %v, want %v in UTC", posted.EffectiveAt, want)
	}
	if want := exp.Truncate(time.Microsecond); posted.ExpiresAt == nil || !posted.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %v, want %v", posted.ExpiresAt, want)
	}
	got, _, err := e.ledger.GetEntry(ctx, posted.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ledger.CanonicalBytes(got), ledger.CanonicalBytes(posted)) {
		t.Errorf("stored entry differs from the posted one:\n%+v\n%+v", got, posted)
	}
	e.clock.Advance(time.Nanosecond * 1500)
	res, err := e.ledger.Post(ctx, []ledger.NewEntry{ne}, ledger.Options{})
	if err != nil || res[0].Err != nil || !res[0].Replayed {
		t.Errorf("replay with the same nanosecond times = %+v, %v; want a replay", res, err)
	}
	post := e.one(t, postOp(posted.ID))
	if post.Err != nil || post.Entry.RecordedAt.Nanosecond()%1000 != 0 {
		t.Errorf("post = %+v, want recorded at a whole microsecond", post)
	}
	e.verify(t)
}

func TestBalanceOverflowFailsOnlyItsItem(t *testing.T) {
	e := newEnv(t)
	max := "99999999999999999999"
	e.post(t, entry("big1", "110:JPY", "debit", max, "201:JPY:a", "credit", max))
	before := e.count(t, "entries")
	res := e.apply(t, ledger.Options{},
		newOp(entry("big2", "120:JPY", "debit", "1", "201:JPY:b", "credit", "1")),
		newOp(entry("big3", "120:JPY", "debit", max, "201:JPY:a", "credit", max)),
		newOp(entry("big4", "201:JPY:a", "debit", max, "201:JPY:a", "credit", max)),
		newOp(entry("big5", "120:JPY", "debit", "1", "201:JPY:b", "credit", "1")))
	wantCode(t, "balance beyond 20 integer digits", res[1].Err, folio.EAMOUNT)
	wantCode(t, "debit and credit totals beyond 20 integer digits", res[2].Err, folio.EAMOUNT)
	if res[0].Err != nil || res[3].Err != nil {
		t.Errorf("other items: %v, %v; want ok", res[0].Err, res[3].Err)
	}
	if n := e.count(t, "entries"); n != before+2 {
		t.Errorf("entries = %d, want %d", n, before+2)
	}
	e.wantBalance(t, "201:JPY:a", max, "0", max)
	e.verify(t)
}

// TestRunningBalancesWithinBatch posts several entries on one account in one
// batch, with amounts whose sums outgrow apd's inline coefficient: each
// posting's balance_after must be its own, not the batch's last (decimals
// copied by value share their coefficient).
func TestRunningBalancesWithinBatch(t *testing.T) {
	e := newEnv(t)
	e.fund(t, "rb0", "201:USD:a", "827439.17")
	var ops []ledger.Op
	for i := range 4 {
		ops = append(ops, newOp(entry(fmt.Sprintf("rb%d", i+1), "110:USD", "debit", "202166", "201:USD:a", "credit", "202166")))
	}
	res := e.apply(t, ledger.Options{}, ops...)
	want := []string{"1029605.17", "1231771.17", "1433937.17", "1636103.17"}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
		if got := ledger.Format(&r.Entry.Postings[1].BalanceAfter); got != want[i] {
			t.Errorf("item %d: balance_after %s, want %s", i, got, want[i])
		}
		b := e.bal(t, "201:USD:a", ledger.AsOf{Seq: r.Entry.Seq})
		if got := ledger.Format(&b.Balance); got != want[i] {
			t.Errorf("balance as of seq %d = %s, want %s", r.Entry.Seq, got, want[i])
		}
	}
	e.verify(t)
}

func TestRecordedAtNeverGoesBackwards(t *testing.T) {
	e := newEnv(t)
	first := e.fund(t, "rt1", "201:USD:a", "1")
	e.clock.Advance(-time.Hour) // a clock that steps back (another server, NTP)
	second := e.fund(t, "rt2", "201:USD:a", "1")
	if second.RecordedAt.Before(first.RecordedAt) {
		t.Errorf("seq 2 recorded at %v, before seq 1 at %v", second.RecordedAt, first.RecordedAt)
	}
	if !second.EffectiveAt.Equal(second.RecordedAt) {
		t.Errorf("effective_at %v, want the recorded time %v", second.EffectiveAt, second.RecordedAt)
	}
	e.verify(t)
}

func TestListEntries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t0 := e.clock.t
	var ids []string
	for i, kind := range []string{"trade_fee", "manual", "trade_fee", "commission", "trade_fee"} {
		ne := entry(fmt.Sprintf("l%d", i), "110:USD", "debit", "1", fmt.Sprintf("201:USD:u%d", i%2), "credit", "1")
		ne.Kind = kind
		if i == 3 {
			ne.BatchID = "b1"
		}
		ids = append(ids, e.post(t, ne).ID)
		e.clock.Advance(time.Hour)
	}
	seqs := func(es []*ledger.Entry) []int64 {
		var out []int64
		for _, x := range es {
			out = append(out, x.Seq)
		}
		return out
	}
	tests := []struct {
		name string
		f    ledger.EntryFilter
		want []int64
	}{
		{"all", ledger.EntryFilter{}, []int64{1, 2, 3, 4, 5}},
		{"by account", ledger.EntryFilter{Account: "201:USD:u1"}, []int64{2, 4}},
		{"by kind", ledger.EntryFilter{Kind: "trade_fee"}, []int64{1, 3, 5}},
		{"by batch", ledger.EntryFilter{BatchID: "b1"}, []int64{4}},
		{"page after seq 2", ledger.EntryFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"recorded in [t0+1h, t0+3h)", ledger.EntryFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []int64{2, 3}},
		{"account and kind", ledger.EntryFilter{Account: "201:USD:u0", Kind: "trade_fee"}, []int64{1, 3, 5}},
	}
	for _, tt := range tests {
		got, err := e.ledger.ListEntries(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: ListEntries: %v", tt.name, err)
		}
		if !slices.Equal(seqs(got), tt.want) {
			t.Errorf("%s: seqs %v, want %v", tt.name, seqs(got), tt.want)
		}
		for _, x := range got {
			if len(x.Postings) != 2 || x.ID != ids[x.Seq-1] {
				t.Errorf("%s: seq %d has %d postings, id %s; want 2, %s", tt.name, x.Seq, len(x.Postings), x.ID, ids[x.Seq-1])
			}
		}
	}
}

// TestChosenEntryIDs covers NewEntry.ID, which internal callers set so that
// a later entry of the same batch can name an earlier one as its parent.
func TestChosenEntryIDs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const fee, comm, other = "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "3f2504e0-4f89-41d3-9a0c-0305e82c3302", "3f2504e0-4f89-41d3-9a0c-0305e82c3303"
	parent := with(entry("c-fee", "110:USD", "debit", "10", "101:USD", "credit", "10"), func(x *ledger.NewEntry) { x.ID = fee })
	child := with(entry("c-comm", "101:USD", "debit", "3", "208:USD:ref", "credit", "3"), func(x *ledger.NewEntry) { x.ID, x.ParentID = comm, fee })
	res := e.apply(t, ledger.Options{}, newOp(parent), newOp(child))
	if res[0].Err != nil || res[1].Err != nil || res[0].Entry.ID != fee || res[1].Entry.ID != comm {
		t.Fatalf("batch with chosen ids = %+v", res)
	}
	_, links, err := e.ledger.GetEntry(ctx, fee)
	if err != nil || !slices.Equal(links.Children, []string{comm}) {
		t.Errorf("GetEntry(fee) links %+v, %v; want child %s", links, err, comm)
	}

	replay := with(parent, func(x *ledger.NewEntry) { x.ID = other })
	if r := e.one(t, newOp(replay)); r.Err != nil || !r.Replayed || r.Entry.ID != fee {
		t.Errorf("replay with another chosen id = %+v, want the replay of %s", r, fee)
	}
	before := e.count(t, "entries")
	res = e.apply(t, ledger.Options{},
		newOp(with(entry("c-2", "110:USD", "debit", "1", "101:USD", "credit", "1"), func(x *ledger.NewEntry) { x.ID = fee })),
		newOp(with(entry("c-3", "110:USD", "debit", "1", "101:USD", "credit", "1"), func(x *ledger.NewEntry) { x.ID = other })),
		newOp(with(entry("c-4", "110:USD", "debit", "1", "101:USD", "credit", "1"), func(x *ledger.NewEntry) { x.ID = other })),
		newOp(with(entry("c-5", "110:USD", "debit", "1", "101:USD", "credit", "1"), func(x *ledger.NewEntry) { x.ID = "not-a-uuid" })))
	wantCode(t, "id of a stored entry", res[0].Err, folio.ECONFLICT)
	if res[1].Err != nil || res[1].Entry.ID != other {
		t.Errorf("fresh chosen id = %+v, want written as %s", res[1], other)
	}
	wantCode(t, "id chosen twice in one batch", res[2].Err, folio.ECONFLICT)
	wantCode(t, "malformed id", res[3].Err, folio.EINVALID)
	if n := e.count(t, "entries"); n != before+1 {
		t.Errorf("entries = %d, want %d", n, before+1)
	}
	e.verify(t)
}
