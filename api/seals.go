package api

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/periods"
	"github.com/folioledger/folio/seal"
)

// sealJSON is a seal on the wire: hashes in hex (as entries' hashes), the
// Merkle root in base64 (as in its checkpoint).
type sealJSON struct {
	N          int64          `json:"n"`
	SealedAt   time.Time      `json:"sealed_at"`
	PrevHash   string         `json:"prev_hash"`
	Hash       string         `json:"hash"`
	TreeSize   int64          `json:"tree_size"`
	Root       string         `json:"root"`
	Heads      []sealHeadJSON `json:"heads"`
	Checkpoint string         `json:"checkpoint"`
}

type sealHeadJSON struct {
	Shard int    `json:"shard"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
}

func toSealJSON(s *seal.Seal) sealJSON {
	out := sealJSON{N: s.N, SealedAt: s.SealedAt, PrevHash: hex.EncodeToString(s.PrevHash), Hash: hex.EncodeToString(s.Hash),
		TreeSize: s.TreeSize, Root: base64.StdEncoding.EncodeToString(s.Root), Heads: []sealHeadJSON{}, Checkpoint: s.Checkpoint}
	for _, h := range s.Heads {
		out.Heads = append(out.Heads, sealHeadJSON{Shard: h.Shard, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash)})
	}
	return out
}

// sealsCSVHeader is the header of GET /v1/audit/seals in CSV; heads are
// "shard:seq:hash" joined by spaces.
var sealsCSVHeader = []string{"n", "sealed_at", "prev_hash", "hash", "tree_size", "root", "heads"}

// getSeals: GET /v1/audit/seals?cursor=&limit=&format=, the seal chain in
// order.
func (s *Server) getSeals(w http.ResponseWriter, r *http.Request) error {
	q, asCSV, limit, err := listRequest(r)
	if err != nil {
		return err
	}
	var after int64
	if c := q.Get("cursor"); c != "" {
		pos, err := decodeCursor("seals", c)
		if err != nil {
			return err
		}
		if after, err = strconv.ParseInt(pos, 10, 64); err != nil || after < 0 {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"cursor"}, Message: "bad cursor: pass back a next_cursor value unchanged"}
		}
	}
	list, err := s.seals.List(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := pageOf(list, limit, toSealJSON, func(last *seal.Seal) string { return encodeCursor("seals", strconv.FormatInt(last.N, 10)) })
	if asCSV {
		rows := make([][]string, len(out.Data))
		for i, x := range out.Data {
			heads := make([]string, len(x.Heads))
			for j, h := range x.Heads {
				heads[j] = fmt.Sprintf("%d:%d:%s", h.Shard, h.Seq, h.Hash)
			}
			rows[i] = []string{strconv.FormatInt(x.N, 10), x.SealedAt.Format(time.RFC3339Nano), x.PrevHash, x.Hash,
				strconv.FormatInt(x.TreeSize, 10), x.Root, strings.Join(heads, " ")}
		}
		writeListCSV(w, r, "seals.csv", sealsCSVHeader, rows, out.NextCursor)
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// postSeal: POST /v1/audit/seals seals now: 201 and the new seal when a
// shard moved since the last one, 200 and the last seal when none did,
// 409 when the journal has no entry to seal.
func (s *Server) postSeal(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeJSON(w, r, &struct{}{}, true); err != nil {
		return err
	}
	out, created, err := s.seals.Seal(r.Context())
	if err != nil {
		return err
	}
	if out == nil {
		return folio.Errorf(folio.ECONFLICT, "nothing to seal: the journal has no entry")
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, toSealJSON(out))
	return nil
}

// getCheckpoint: GET /v1/audit/checkpoint?size=N, the signed checkpoint
// (a C2SP signed note, text/plain) of the last seal or of the seal whose
// tree has N leaves.
func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) error {
	var size int64
	if v := r.URL.Query().Get("size"); v != "" {
		n, err := parseTreeSize("size", v)
		if err != nil {
			return err
		}
		size = n
	}
	cp, err := s.seals.Checkpoint(r.Context(), size)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(cp)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(cp))
	return nil
}

// getCheckpointKey: GET /v1/audit/checkpoint-key, the note verifier key
// that checks the checkpoints, and their origin.
func (s *Server) getCheckpointKey(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"origin": s.seals.Origin(), "verifier_key": s.seals.VerifierKey})
	return nil
}

type inclusionJSON struct {
	Index  int64    `json:"index"`
	Size   int64    `json:"size"`
	Leaf   string   `json:"leaf"`
	Hashes []string `json:"hashes"`
}

type consistencyJSON struct {
	From   int64    `json:"from"`
	To     int64    `json:"to"`
	Hashes []string `json:"hashes"`
}

// getInclusionProof: GET /v1/audit/proofs/inclusion?entry=ID&size=N: 400
// for an entry that is not a UUID, 404 for one that names no entry. An
// affiliate key gets proofs only of entries that post to an account of
// its holder; for any other entry it gets the same not_found as for an
// entry that does not exist, so that it learns nothing about it.
func (s *Server) getInclusionProof(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var size int64
	if v := q.Get("size"); v != "" {
		n, err := parseTreeSize("size", v)
		if err != nil {
			return err
		}
		size = n
	}
	id := q.Get("entry")
	if !ledger.ValidUUID(id) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"entry"},
			Message: fmt.Sprintf("entry %q must be the id of a journal entry (a UUID)", truncate(id, 64))}
	}
	if p := principalFrom(r.Context()); p.Role == keys.RoleAffiliate {
		e, _, err := s.ledger.GetEntry(r.Context(), id)
		if err != nil {
			return err
		}
		own := false
		for _, po := range e.Postings {
			own = own || (p.Holder != "" && po.Account.Holder == p.Holder)
		}
		if !own {
			return folio.Errorf(folio.ENOTFOUND, "entry %s not found", truncate(id, 64))
		}
	}
	pr, err := s.seals.ProveInclusion(r.Context(), id, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inclusionJSON{Index: pr.Index, Size: pr.Size, Leaf: base64.StdEncoding.EncodeToString(pr.Leaf), Hashes: hashesJSON(pr.Hashes)})
	return nil
}

// getConsistencyProof: GET /v1/audit/proofs/consistency?from=M&to=N.
func (s *Server) getConsistencyProof(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var from, to int64
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(f.name); v != "" {
			n, err := parseTreeSize(f.name, v)
			if err != nil {
				return err
			}
			*f.dst = n
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"from", from}, {"to", to}} {
		if f.v == 0 {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{f.name}, Message: "from and to are required: tree sizes (GET /v1/audit/seals lists them)"}
		}
	}
	hs, err := s.seals.ProveConsistency(r.Context(), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, consistencyJSON{From: from, To: to, Hashes: hashesJSON(hs)})
	return nil
}

// parseTreeSize parses a tree size: a decimal integer of at least 1.
func parseTreeSize(field, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, &folio.Error{Code: folio.EINVALID, Fields: []string{field},
			Message: fmt.Sprintf("%s %q must be a tree size: an integer of at least 1", field, truncate(v, 32))}
	}
	return n, nil
}

func hashesJSON[H ~[32]byte](hs []H) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

type balanceProofJSON struct {
	Period            string   `json:"period"`
	Index             int64    `json:"index"`
	Size              int64    `json:"size"`
	Leaf              string   `json:"leaf"`
	Hashes            []string `json:"hashes"`
	Checkpoint        string   `json:"checkpoint"`
	JournalCheckpoint string   `json:"journal_checkpoint"`
}

// getBalanceProof: GET /v1/audit/proofs/balance?account=KEY&period=YYYY-MM,
// the proof of the account's closing balance in the closed period's
// balance tree, with the period's signed checkpoint (package periods). An
// affiliate key gets proofs only of accounts of its own holder; any other
// account gets the same not_found as an account without a balance.
func (s *Server) getBalanceProof(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	account, period := q.Get("account"), q.Get("period")
	k, err := accounts.ParseKey(account)
	if account != "" && (err != nil || k.String() != account) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"account"},
			Message: fmt.Sprintf("account %q must be an account key CODE:CURRENCY[:HOLDER]", truncate(account, 64))}
	}
	m, perr := periods.ParseMonth(period)
	if period != "" && perr != nil {
		return perr
	}
	if account == "" || period == "" {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"account", "period"},
			Message: "account and period are required: an account key (CODE:CURRENCY[:HOLDER]) and a closed period (YYYY-MM)"}
	}
	if p := principalFrom(r.Context()); p.Role == keys.RoleAffiliate && (p.Holder == "" || k.Holder != p.Holder) {
		return folio.Errorf(folio.ENOTFOUND, "account %s has no closing balance in period %s", truncate(account, 64), m)
	}
	pr, err := s.periods.ProveBalance(r.Context(), m, account)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, balanceProofJSON{Period: m.String(), Index: pr.Proof.Index, Size: pr.Proof.Size,
		Leaf: base64.StdEncoding.EncodeToString(pr.Proof.Leaf), Hashes: hashesJSON(pr.Proof.Hashes),
		Checkpoint: pr.Checkpoint, JournalCheckpoint: pr.JournalCheckpoint})
	return nil
}
