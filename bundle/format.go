package bundle

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/folioledger/folio/ledger"
)

// FormatName is the manifest's "format": the bundle layout version.
const FormatName = "folio-audit-bundle/1"

// The bundle's files, in the order they are written, listed in the
// manifest and checked. CheckpointsDir is the optional part (see doc.go).
const (
	FileManifest       = "manifest.json"
	FileCurrencies     = "currencies.jsonl"
	FileChart          = "chart.jsonl"
	FileAnchors        = "anchors.jsonl"
	FileEntries        = "entries.jsonl"
	FileEntriesCSV     = "entries.csv"
	FilePostingsCSV    = "postings.csv"
	FileReferenced     = "referenced.jsonl"
	FileOpening        = "trial_balance_opening.jsonl"
	FileClosing        = "trial_balance_closing.jsonl"
	FileReconciliation = "reconciliation.json"
	CheckpointsDir     = "checkpoints"
)

// dataFiles are the files the manifest must list, in order.
var dataFiles = []string{FileCurrencies, FileChart, FileAnchors, FileEntries, FileEntriesCSV, FilePostingsCSV, FileReferenced, FileOpening, FileClosing, FileReconciliation}

// Manifest is manifest.json.
type Manifest struct {
	Format string `json:"format"`
	// From and To bound the bundle by recorded time: the entries recorded
	// in [From, To) (RFC 3339, UTC).
	From  string `json:"from"`
	To    string `json:"to"`
	Basis string `json:"basis"` // always "recorded"
	Files []File `json:"files"`
	// Checkpoints names the files of the optional checkpoints part
	// (under checkpoints/): signed checkpoints of the journal's Merkle log.
	// Empty in this version of the format; see doc.go.
	Checkpoints []File `json:"checkpoints"`
}

// File is one file's size and SHA-256 (lower-case hex).
type File struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Currency is one line of currencies.jsonl.
type Currency struct {
	ID        string `json:"id"`
	Precision int    `json:"precision"`
	Enabled   bool   `json:"enabled"`
}

// Code is one line of chart.jsonl: an account code of the chart.
type Code struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Normal    string `json:"normal"`
	PerHolder bool   `json:"per_holder"`
	Rule      string `json:"rule"`
}

// Anchor is one line of anchors.jsonl: a journal shard's chain at the
// start of the bundle (FromSeq, FromHash: its last entry recorded before
// From, or seq 0 and 32 zero bytes) and at its end (ToSeq, ToHash: its last
// entry recorded before To). The bundle holds the shard's entries
// FromSeq+1 … ToSeq.
type Anchor struct {
	Shard    int    `json:"shard"`
	FromSeq  int64  `json:"from_seq"`
	FromHash string `json:"from_hash"`
	ToSeq    int64  `json:"to_seq"`
	ToHash   string `json:"to_hash"`
}

// Entry is one line of entries.jsonl: an entry with every stored field,
// in the text its hash covers.
type Entry struct {
	Shard          int       `json:"shard"`
	Seq            int64     `json:"seq"`
	ID             string    `json:"id"`
	Kind           string    `json:"kind"`
	Description    string    `json:"description"`
	Phase          string    `json:"phase"`
	EffectiveAt    string    `json:"effective_at"`
	RecordedAt     string    `json:"recorded_at"`
	IdempotencyKey string    `json:"idempotency_key"`
	ContentHash    string    `json:"content_hash"`
	ParentID       string    `json:"parent_id"`
	Reverses       string    `json:"reverses"`
	Completes      string    `json:"completes"`
	ExpiresAt      *string   `json:"expires_at"`
	BatchID        string    `json:"batch_id"`
	Metadata       string    `json:"metadata"` // the stored JSON text, as a string
	PrevHash       string    `json:"prev_hash"`
	Hash           string    `json:"hash"`
	Postings       []Posting `json:"postings"`
}

// Posting is one posting of an Entry.
type Posting struct {
	Index        int    `json:"index"`
	Account      string `json:"account"`
	Side         string `json:"side"`
	Amount       string `json:"amount"`
	Pending      bool   `json:"pending"`
	BalanceAfter string `json:"balance_after"`
	DebitsAfter  string `json:"debits_after"`
	CreditsAfter string `json:"credits_after"`
}

// Balance is one line of a trial balance file: a balance row (an account
// in one journal shard) as of the start or the end of the bundle. An
// account's figure is the sum of its rows.
type Balance struct {
	Account string `json:"account"`
	Shard   int    `json:"shard"`
	Debits  string `json:"debits"`
	Credits string `json:"credits"`
	Balance string `json:"balance"`
}

// encodeLine is a JSON lines record: encoding/json's output and "\n".
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// encodeManifest is manifest.json: indented by two spaces, and "\n".
func encodeManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

// timeText is a time as the hash covers it: UTC, microseconds, RFC 3339.
func timeText(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano) }

// newEntry renders a stored entry.
func newEntry(e *ledger.Entry) Entry {
	out := Entry{Shard: e.Shard, Seq: e.Seq, ID: e.ID, Kind: e.Kind, Description: e.Description, Phase: string(e.Phase),
		EffectiveAt: timeText(e.EffectiveAt), RecordedAt: timeText(e.RecordedAt), IdempotencyKey: e.IdempotencyKey,
		ContentHash: hex.EncodeToString(e.ContentHash()), ParentID: e.ParentID, Reverses: e.Reverses, Completes: e.Completes,
		BatchID: e.BatchID, Metadata: string(e.Metadata), PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
		Postings: []Posting{}}
	if e.ExpiresAt != nil {
		s := timeText(*e.ExpiresAt)
		out.ExpiresAt = &s
	}
	for i := range e.Postings {
		p := &e.Postings[i]
		out.Postings = append(out.Postings, Posting{Index: p.Index, Account: p.Account.String(), Side: string(p.Side), Amount: ledger.Format(&p.Amount),
			Pending: p.Pending, BalanceAfter: ledger.Format(&p.BalanceAfter), DebitsAfter: ledger.Format(&p.DebitsAfter), CreditsAfter: ledger.Format(&p.CreditsAfter)})
	}
	return out
}

// CSV layouts: entries.csv has one row per entry, postings.csv one per
// posting, both with a header row, fields as in entries.jsonl (booleans
// "true"/"false", a null expires_at empty), "\n" line ends.
var (
	entriesCSVHeader  = []string{"shard", "seq", "id", "kind", "description", "phase", "effective_at", "recorded_at", "idempotency_key", "content_hash", "parent_id", "reverses", "completes", "expires_at", "batch_id", "metadata", "prev_hash", "hash"}
	postingsCSVHeader = []string{"shard", "seq", "entry_id", "index", "account", "side", "amount", "pending", "balance_after", "debits_after", "credits_after"}
)

func entryCSV(e *Entry) []string {
	exp := ""
	if e.ExpiresAt != nil {
		exp = *e.ExpiresAt
	}
	return []string{strconv.Itoa(e.Shard), strconv.FormatInt(e.Seq, 10), e.ID, e.Kind, e.Description, e.Phase, e.EffectiveAt, e.RecordedAt,
		e.IdempotencyKey, e.ContentHash, e.ParentID, e.Reverses, e.Completes, exp, e.BatchID, e.Metadata, e.PrevHash, e.Hash}
}

func postingCSV(e *Entry, p *Posting) []string {
	return []string{strconv.Itoa(e.Shard), strconv.FormatInt(e.Seq, 10), e.ID, strconv.Itoa(p.Index), p.Account, p.Side, p.Amount,
		strconv.FormatBool(p.Pending), p.BalanceAfter, p.DebitsAfter, p.CreditsAfter}
}

// exact is the context of the verifier's sums: anything inexact errors.
var exact = apd.Context{
	Precision:   80,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps | apd.Inexact | apd.Rounded,
	Rounding:    apd.RoundHalfEven,
}
