package periods

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/seal"
)

// closeTree is what a close's confirmation computes before it writes: the
// balance tree, the seal of the journal at the close and the signed period
// checkpoint.
type closeTree struct {
	tree       *seal.BalanceTree
	leaves     []seal.Balance // in tree order
	seal       *seal.Seal     // nil without a sealing service or journal
	checkpoint string
}

// ClosingBalances returns the balances of m's balance tree: every
// account's posted balance on its normal side by business time — the
// postings effective before m's end — counting the entries within cut
// (the close's journal cut), amounts as ledger.Format writes them.
func ClosingBalances(ctx context.Context, q schema.Querier, m Month, cut ledger.Cut) ([]seal.Balance, error) {
	bs, err := ledger.ClosingBalancesAt(ctx, q, m.To(), cut)
	if err != nil {
		return nil, err
	}
	out := make([]seal.Balance, len(bs))
	for i, b := range bs {
		out[i] = seal.Balance{Account: b.Account.String(), Currency: b.Account.Currency, Amount: ledger.Format(&b.Balance)}
	}
	return out, nil
}

// PeriodOrigin is the origin line of m's period checkpoints: the journal
// checkpoints' origin (the key's name) + "/period/YYYY-MM".
func PeriodOrigin(origin string, m Month) string { return origin + "/period/" + m.String() }

// CheckpointBody is the text a period checkpoint signs (see doc.go):
//
//	<origin>/period/YYYY-MM
//	<number of balance leaves>
//	<base64 balance root>
//	cut <seq of shard 0> <seq of shard 1> …
//	seal <n> <journal tree size> <base64 journal root>
//
// The last line is absent when the journal had no seal at the close.
func CheckpointBody(origin string, m Month, size int64, root tlog.Hash, cut ledger.Cut, s *seal.Seal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\ncut", PeriodOrigin(origin, m), size, base64.StdEncoding.EncodeToString(root[:]))
	for _, c := range cut {
		fmt.Fprintf(&b, " %d", c)
	}
	b.WriteString("\n")
	if s != nil {
		fmt.Fprintf(&b, "seal %d %d %s\n", s.N, s.TreeSize, base64.StdEncoding.EncodeToString(s.Root))
	}
	return b.String()
}

// ParseCheckpoint reads a period checkpoint's text (note.Open's Text):
// its period, balance tree size and root. It checks the form only.
func ParseCheckpoint(text string) (m Month, size int64, root tlog.Hash, err error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 4 || !strings.HasSuffix(text, "\n") {
		return m, 0, root, errors.New("period checkpoint: not enough lines")
	}
	i := strings.LastIndex(lines[0], "/period/")
	if i < 0 {
		return m, 0, root, errors.New("period checkpoint: origin has no /period/")
	}
	if m, err = ParseMonth(lines[0][i+len("/period/"):]); err != nil {
		return m, 0, root, err
	}
	if size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return m, 0, root, fmt.Errorf("period checkpoint: bad size %q", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return m, 0, root, fmt.Errorf("period checkpoint: bad root %q", lines[2])
	}
	copy(root[:], h)
	return m, size, root, nil
}

// buildClose computes m's balance tree at cut, seals the journal (so the
// seal covers at least cut) and signs the period checkpoint. Without a
// sealing service the tree is built and stored with no checkpoint.
func (s *Service) buildClose(ctx context.Context, m Month, cut ledger.Cut) (*closeTree, error) {
	var bs []seal.Balance
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		bs, err = ClosingBalances(ctx, tx, m, cut)
		return err
	})
	if err != nil {
		return nil, err
	}
	t, err := seal.NewBalanceTree(bs)
	if err != nil {
		return nil, err
	}
	out := &closeTree{tree: t}
	out.leaves = slices.Clone(bs)
	slices.SortFunc(out.leaves, func(a, b seal.Balance) int {
		return cmp.Or(strings.Compare(a.Account, b.Account), strings.Compare(a.Currency, b.Currency))
	})
	if s.Seals == nil {
		return out, nil
	}
	if out.seal, _, err = s.Seals.Seal(ctx); err != nil {
		return nil, fmt.Errorf("seal the journal at the close of %s: %w", m, err)
	}
	cp, err := note.Sign(&note.Note{Text: CheckpointBody(s.Seals.Origin(), m, t.Size(), t.Root(), cut, out.seal)}, s.Seals.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign the checkpoint of %s: %w", m, err)
	}
	out.checkpoint = string(cp)
	return out, nil
}

// storeClose writes the close's tree and checkpoint under its "closed"
// event id in tx.
func storeClose(ctx context.Context, tx pgx.Tx, id string, m Month, c *closeTree, now time.Time) error {
	root := c.tree.Root()
	var sealN any
	journal := ""
	if c.seal != nil {
		sealN, journal = c.seal.N, c.seal.Checkpoint
	}
	if _, err := tx.Exec(ctx, `INSERT INTO period_checkpoints (event_id, period, size, root, seal, checkpoint, journal_checkpoint, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, m.String(), c.tree.Size(), root[:], sealN, c.checkpoint, journal, now); err != nil {
		return err
	}
	for i := 0; i < len(c.leaves); i += 10000 {
		chunk := c.leaves[i:min(len(c.leaves), i+10000)]
		idx, acc, cur, amt := make([]int64, len(chunk)), make([]string, len(chunk)), make([]string, len(chunk)), make([]string, len(chunk))
		for j, b := range chunk {
			idx[j], acc[j], cur[j], amt[j] = int64(i+j), b.Account, b.Currency, b.Amount
		}
		if _, err := tx.Exec(ctx, `INSERT INTO period_balances (event_id, idx, account, currency, amount)
			SELECT $1::uuid, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])`, id, idx, acc, cur, amt); err != nil {
			return err
		}
	}
	return nil
}

// BalanceProof is the proof of one account's closing balance in a closed
// period: tlog.CheckRecord(Proof.Hashes, Proof.Size, root, Proof.Index,
// tlog.RecordHash(Proof.Leaf)) holds for the root in Checkpoint, a signed
// note anyone opens with the journal's verifier key; JournalCheckpoint is
// the checkpoint of the seal the close sealed the journal with.
type BalanceProof struct {
	Period            Month
	Proof             *seal.BalanceProof
	Checkpoint        string
	JournalCheckpoint string
}

// ProveBalance proves the closing balance of account in the closed period
// m (closed or reopening; its last close). It rebuilds the tree from the
// stored leaves and refuses to prove when their root is not the stored
// one. not_found when m is not closed, has no checkpoint, or the account
// had no posting by m's end.
func (s *Service) ProveBalance(ctx context.Context, m Month, account string) (*BalanceProof, error) {
	k, err := accounts.ParseKey(account)
	if err != nil {
		return nil, &folio.Error{Code: folio.EINVALID, Fields: []string{"account"}, Message: err.Error()}
	}
	var leaves []seal.Balance
	var root []byte
	var size int64
	out := &BalanceProof{Period: m}
	err = s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		p := b.get(m)
		if !p.closed() {
			return folio.Errorf(folio.ENOTFOUND, "period %s is %s; balance proofs exist for closed periods only", m, p.State)
		}
		err = tx.QueryRow(ctx, `SELECT size, root, checkpoint, journal_checkpoint FROM period_checkpoints WHERE event_id = $1`, p.snapshot).
			Scan(&size, &root, &out.Checkpoint, &out.JournalCheckpoint)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && out.Checkpoint == "") {
			return folio.Errorf(folio.ENOTFOUND, "period %s was closed without a checkpoint", m)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT account, currency, amount FROM period_balances WHERE event_id = $1 ORDER BY idx`, p.snapshot)
		if err != nil {
			return err
		}
		leaves, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (seal.Balance, error) {
			var b seal.Balance
			err := r.Scan(&b.Account, &b.Currency, &b.Amount)
			return b, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	t, err := seal.NewBalanceTree(leaves)
	if err != nil {
		return nil, err
	}
	if r := t.Root(); t.Size() != size || !bytes.Equal(r[:], root) {
		return nil, fmt.Errorf("period %s: the stored balances do not give the stored balance root", m)
	}
	if out.Proof, err = t.Prove(account, k.Currency); err != nil {
		return nil, folio.Errorf(folio.ENOTFOUND, "account %s has no closing balance in period %s", account, m)
	}
	return out, nil
}

// Checkpoint is a closed period's signed checkpoint and the journal
// checkpoint of the seal made at its close.
type Checkpoint struct {
	Period            Month
	Checkpoint        string
	JournalCheckpoint string
}

// CheckpointsIn returns the checkpoints of the periods that count as
// closed (their last close) and overlap [from, to), in month order;
// periods closed without a checkpoint are left out.
func CheckpointsIn(ctx context.Context, db *schema.DB, from, to time.Time) ([]Checkpoint, error) {
	var out []Checkpoint
	err := db.ReadTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		b, err := load(ctx, tx)
		if err != nil {
			return err
		}
		var ms []Month
		for m, p := range b {
			if p.closed() && m.From().Before(to) && from.Before(m.To()) {
				ms = append(ms, m)
			}
		}
		slices.SortFunc(ms, func(a, b Month) int {
			if a.Before(b) {
				return -1
			}
			if b.Before(a) {
				return 1
			}
			return 0
		})
		for _, m := range ms {
			c := Checkpoint{Period: m}
			err := tx.QueryRow(ctx, `SELECT checkpoint, journal_checkpoint FROM period_checkpoints WHERE event_id = $1`, b[m].snapshot).Scan(&c.Checkpoint, &c.JournalCheckpoint)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && c.Checkpoint == "") {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}
