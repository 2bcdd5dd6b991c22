package bundle_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/folioledger/folio/affiliate"
	"github.com/folioledger/folio/affiliate/affiliatetest"
	"github.com/folioledger/folio/bundle"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/periods"
	"github.com/folioledger/folio/seal"
)

// sealedMonth generates activity in February, March and April on two
// shards, sealing in February, twice in March and in April, closes March
// (its period checkpoint), and exports March with the checkpoints part.
// It returns the bundle and the verifier key.
func sealedMonth(t *testing.T) (string, string) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	env := affiliatetest.New(t, func() time.Time { return now })
	if err := ledger.SetShards(ctx, env.App, 2); err != nil {
		t.Fatal(err)
	}
	env.BrokerTree(t)
	skey, vkey, err := note.GenerateKey(rand.Reader, seal.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	seals, err := seal.New(env.App, skey)
	if err != nil {
		t.Fatal(err)
	}
	seals.Now = func() time.Time { return now }
	n := 0
	trades := func(k int) {
		for range k {
			n++
			tr := affiliatetest.Trade(fmt.Sprintf("t-%d", n), []string{"A", "B", "C", "D"}[n%4], fmt.Sprintf("%d.5", n))
			tr.ExecutedAt = now
			if res, err := env.Svc.PostTrades(ctx, []affiliate.NewTrade{tr}); err != nil || res[0].Status != affiliate.TradeCreated {
				t.Fatalf("trade %d: %v %+v", n, err, res)
			}
		}
	}
	sealNow := func() {
		if _, _, err := seals.Seal(ctx); err != nil {
			t.Fatal(err)
		}
	}
	trades(4)
	sealNow()
	now = time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	trades(5)
	sealNow()
	now = time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	trades(5)
	sealNow()
	now = time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC)
	trades(3)
	now = time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	ps := periods.New(env.App, func() time.Time { return now })
	ps.Seals = seals
	march, _ := periods.ParseMonth("2026-03")
	if _, err := ps.Close(ctx, march, periods.Actor{ID: "admin-1"}); err != nil {
		t.Fatal(err)
	}
	if p, err := ps.Close(ctx, march, periods.Actor{ID: "admin-2"}); err != nil || p.State != periods.Closed {
		t.Fatalf("confirm March's close: %v %+v", err, p)
	}
	trades(2)
	sealNow()

	dir := filepath.Join(t.TempDir(), "march")
	unsealed := false
	m, err := bundle.ExportWith(ctx, env.App, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), now, dir,
		bundle.Options{VerifierKey: vkey, Unsealed: &unsealed})
	if err != nil || unsealed || len(m.Checkpoints) != 4 {
		t.Fatalf("ExportWith = %+v, %v (unsealed %v); want the 4 checkpoint files", m, err, unsealed)
	}
	return dir, vkey
}

// TestAuditBundleCheckpoints: the checkpoints part verifies with no
// database (signatures, consistency between consecutive checkpoints,
// every entry's inclusion, the period checkpoint); an auditor's key that
// is not the bundle's fails; a changed checkpoint, consistency proof,
// inclusion proof or period checkpoint fails naming the file, line and
// field.
func TestAuditBundleCheckpoints(t *testing.T) {
	dir, vkey := sealedMonth(t)
	sum, err := bundle.VerifyWithKey(dir, vkey)
	if err != nil {
		t.Fatalf("VerifyWithKey of a fresh export: %v", err)
	}
	// The seal before March's entries, the two March seals and April's
	// (the first holding all of March): four checkpoints.
	if sum.JournalCheckpoints != 4 || sum.PeriodCheckpoints != 1 || sum.TreeSize < int64(sum.Entries) || sum.CheckpointKey != vkey || sum.Entries == 0 {
		t.Fatalf("summary %+v: want 4 journal checkpoints, 1 period checkpoint, the key", sum)
	}
	_, other, _ := note.GenerateKey(rand.Reader, seal.KeyName)
	var p *bundle.Problem
	if _, err := bundle.VerifyWithKey(dir, other); !errors.As(err, &p) || p.File != bundle.FileCheckpointKey {
		t.Fatalf("VerifyWithKey with another key = %v, want a problem in %s", err, bundle.FileCheckpointKey)
	}

	// tamper rewrites line of file by edit (on the decoded JSON line), and
	// wants a problem at file:line field.
	tamper := func(file string, line int, field string, edit func(*lineOf)) {
		t.Helper()
		cp := t.TempDir()
		copyDir(t, dir, cp)
		path := filepath.Join(cp, filepath.FromSlash(file))
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
		var x lineOf
		switch file {
		case bundle.FileJournalCheckpoint:
			x.j = &bundle.JournalCheckpoint{}
		case bundle.FileInclusion:
			x.i = &bundle.Inclusion{}
		default:
			x.p = &bundle.PeriodCheckpoint{}
		}
		if err := json.Unmarshal(lines[line-1], x.v()); err != nil {
			t.Fatal(err)
		}
		edit(&x)
		if lines[line-1], err = json.Marshal(x.v()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = bundle.Verify(cp)
		var p *bundle.Problem
		if !errors.As(err, &p) || p.File != file || p.Line != line || p.Field != field {
			t.Errorf("%s:%d %s changed: Verify = %v, want a problem there", file, line, field, err)
			return
		}
		t.Logf("%s:%d %s: %v", file, line, field, p)
	}
	flipHash := func(s string) string {
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	// A checkpoint's signature line, and its root.
	flipSig := func(c string) string {
		i := strings.LastIndex(c, " ")
		return c[:i+1] + flipHash(c[i+1:])
	}
	tamper(bundle.FileJournalCheckpoint, 2, "checkpoint", func(x *lineOf) { x.j.Checkpoint = flipSig(x.j.Checkpoint) })
	tamper(bundle.FileJournalCheckpoint, 3, "checkpoint", func(x *lineOf) {
		ls := strings.SplitN(x.j.Checkpoint, "\n", 4)
		ls[2] = flipHash(ls[2])
		x.j.Checkpoint = strings.Join(ls, "\n")
	})
	// A consistency proof's hash.
	tamper(bundle.FileJournalCheckpoint, 3, "consistency", func(x *lineOf) { x.j.Consistency[0] = flipHash(x.j.Consistency[0]) })
	// An inclusion proof's hash, its index, and its entry.
	tamper(bundle.FileInclusion, 5, "hashes", func(x *lineOf) {
		x.i.Hashes[len(x.i.Hashes)-1] = flipHash(x.i.Hashes[len(x.i.Hashes)-1])
	})
	tamper(bundle.FileInclusion, 7, "hashes", func(x *lineOf) { x.i.Index++ })
	tamper(bundle.FileInclusion, 2, "entry", func(x *lineOf) { x.i.Entry = "00000000-0000-0000-0000-000000000000" })
	// The period checkpoint: its body, and its journal checkpoint.
	tamper(bundle.FilePeriodCheckpoint, 1, "checkpoint", func(x *lineOf) {
		x.p.Checkpoint = strings.Replace(x.p.Checkpoint, "/period/2026-03\n", "/period/2026-03\n1", 1)
	})
	tamper(bundle.FilePeriodCheckpoint, 1, "journal_checkpoint", func(x *lineOf) { x.p.JournalCheckpoint = flipSig(x.p.JournalCheckpoint) })
}

// lineOf is one decoded line of a checkpoints file.
type lineOf struct {
	j *bundle.JournalCheckpoint
	i *bundle.Inclusion
	p *bundle.PeriodCheckpoint
}

func (l *lineOf) v() any {
	switch {
	case l.j != nil:
		return l.j
	case l.i != nil:
		return l.i
	}
	return l.p
}

// TestConsistentRewriteWithCheckpoints: the rewrite TestConsistentRewrite
// shows passing a bundle without checkpoints — an entry changed, its
// shard's later hashes and end anchor recomputed, fresh digests — fails
// once the bundle carries checkpoints: the changed entry is not a leaf of
// the signed tree.
func TestConsistentRewriteWithCheckpoints(t *testing.T) {
	dir, _ := sealedMonth(t)
	entries, anchors := bundle.ReadBundle(t, dir)
	entries[0].Description = "rewritten"
	last := entries[0]
	for i, e := range entries {
		if e.Shard != entries[0].Shard {
			break
		}
		if i > 0 {
			e.PrevHash = entries[i-1].Hash
		}
		bundle.Rehash(t, e)
		last = e
	}
	anchors[last.Shard].ToHash = last.Hash
	bundle.Rewrite(t, dir, entries, anchors)
	_, err := bundle.Verify(dir)
	var p *bundle.Problem
	if !errors.As(err, &p) || p.File != bundle.FileInclusion || p.Line != 1 || p.Field != "hashes" {
		t.Fatalf("Verify of a consistently rewritten bundle with checkpoints = %v, want checkpoints/inclusion.jsonl:1: hashes", err)
	}
	t.Log(p)
}
