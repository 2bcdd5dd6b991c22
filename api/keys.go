package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// KeyInfo describes an API key; it never carries the secret or its hash.
type KeyInfo struct {
	ID, Role, Holder, Note string
	// Person labels who holds the key ("" when not given); PersonID is the
	// person the key counts as for four-eyes (see MintKey); CreatedBy is
	// the actor that created it (a key id, "bootstrap", "cli:…").
	Person, PersonID, CreatedBy string
	CreatedAt                   time.Time
	RevokedAt                   *time.Time
}

// NewKey is what MintKey creates.
type NewKey struct {
	Role   string // admin, poster, auditor or affiliate
	Holder string // required for affiliate keys, refused for others
	Note   string
	Person string // optional label for who holds the key
}

// maxKeyNote bounds a key's note; maxKeyPerson a key's person label, in
// characters.
const (
	maxKeyNote   = 200
	maxKeyPerson = 100
)

// keyEncoding renders a key's 32 random bytes: lower-case base32, no padding.
var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// CreateKey creates an API key without a person label; see MintKey.
func CreateKey(ctx context.Context, db *schema.DB, role, holder, note, actor string) (KeyInfo, string, error) {
	return MintKey(ctx, db, NewKey{Role: role, Holder: holder, Note: note}, actor)
}

// MintKey creates an API key for k.Role (admin, poster, auditor,
// affiliate); k.Holder is required for affiliate keys and refused for
// others. It returns the key and its secret, which is shown only here: only
// the secret's SHA-256 is stored. The creation is written to the audit log
// with actor.
//
// The key's person (four-eyes, docs/CONTRACT.md §10) follows from actor: when actor is a
// key id (a key minting a key over the API) the new key counts as that
// key's person, whatever its Person label says, so keys minted directly or
// transitively by one key are all its root's person; any other actor
// ("bootstrap", "cli:…") makes the new key a person of its own. The person
// is fixed at creation: revoking the minter changes nothing.
// Errors: invalid_request.
func MintKey(ctx context.Context, db *schema.DB, k NewKey, actor string) (KeyInfo, string, error) {
	return createKey(ctx, db, k, actor, time.Now().UTC().Truncate(time.Microsecond))
}

// validatePerson checks a key's person label: empty, or 1 to 100 printable
// characters (no control characters), not only spaces.
func validatePerson(person string) error {
	if person == "" {
		return nil
	}
	bad := !utf8.ValidString(person) || utf8.RuneCountInString(person) > maxKeyPerson || strings.TrimSpace(person) == ""
	for _, r := range person {
		bad = bad || !unicode.IsPrint(r)
	}
	if bad {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"person"},
			Message: fmt.Sprintf("person must be 1 to %d printable characters (no control characters), not only spaces", maxKeyPerson)}
	}
	return nil
}

func validateKey(role, holder, note string) error {
	switch {
	case !validRole(role):
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"role"}, Message: fmt.Sprintf("role %q must be one of admin, poster, auditor, affiliate", truncate(role, 32))}
	case role == RoleAffiliate && holder == "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"}, Message: "an affiliate key needs the holder (user id) whose data it may read"}
	case role != RoleAffiliate && holder != "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"}, Message: "only affiliate keys have a holder"}
	case holder != "" && !accounts.ValidHolder(holder):
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"}, Message: "holder must be 1 to 64 characters of A-Z a-z 0-9 . _ -"}
	case len(note) > maxKeyNote:
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"note"}, Message: fmt.Sprintf("note is at most %d bytes", maxKeyNote)}
	case folio.TextProblem(note, folio.Multiline) != "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"note"}, Message: "note " + folio.TextProblem(note, folio.Multiline)}
	}
	return nil
}

func createKey(ctx context.Context, db *schema.DB, nk NewKey, actor string, now time.Time) (KeyInfo, string, error) {
	if err := validateKey(nk.Role, nk.Holder, nk.Note); err != nil {
		return KeyInfo{}, "", err
	}
	if err := validatePerson(nk.Person); err != nil {
		return KeyInfo{}, "", err
	}
	if actor == "" {
		return KeyInfo{}, "", folio.Errorf(folio.EINVALID, "a key's creation needs an actor")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return KeyInfo{}, "", err
	}
	secret := keyPrefix + strings.ToLower(keyEncoding.EncodeToString(raw[:]))
	hash := sha256.Sum256([]byte(secret))
	k := KeyInfo{Role: nk.Role, Holder: nk.Holder, Note: nk.Note, Person: nk.Person, CreatedBy: actor, CreatedAt: now}
	err := db.Tx(ctx, func(tx pgx.Tx) error {
		// A key minted by a key belongs to the minter's person; any other
		// key is a person of its own.
		k.ID = uuid.NewString()
		k.PersonID = k.ID
		if ledger.ValidUUID(actor) {
			err := tx.QueryRow(ctx, `SELECT person_id::text FROM api_keys WHERE id = $1`, actor).Scan(&k.PersonID)
			if errors.Is(err, pgx.ErrNoRows) {
				return folio.Errorf(folio.EINVALID, "the creating key %s does not exist", actor)
			}
			if err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, key_hash, role, holder, note, person, person_id, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			k.ID, hash[:], nk.Role, nk.Holder, nk.Note, nk.Person, k.PersonID, now, actor); err != nil {
			return err
		}
		return accounts.WriteAudit(ctx, tx, accounts.AuditRecord{At: now, Actor: actor, Action: "key.create", Object: "key:" + k.ID, After: keyAuditJSON(k)})
	})
	if err != nil {
		return KeyInfo{}, "", err
	}
	return k, secret, nil
}

// ListKeys returns every key, revoked ones included, oldest first.
func ListKeys(ctx context.Context, db *schema.DB) ([]KeyInfo, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyInfo, error) {
		return scanKey(r)
	})
}

// keyColumns are the columns scanKey reads.
const keyColumns = `id::text, role, holder, note, person, person_id::text, created_by, created_at, revoked_at`

func scanKey(r pgx.Row) (KeyInfo, error) {
	var k KeyInfo
	err := r.Scan(&k.ID, &k.Role, &k.Holder, &k.Note, &k.Person, &k.PersonID, &k.CreatedBy, &k.CreatedAt, &k.RevokedAt)
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	return k, err
}

// RevokeKey revokes the key id: requests with it are refused (401) from the
// next request on. Revoking a revoked key changes nothing. The revocation is
// written to the audit log with actor. Errors: not_found.
func RevokeKey(ctx context.Context, db *schema.DB, id, actor string) error {
	return revokeKey(ctx, db, id, actor, time.Now().UTC().Truncate(time.Microsecond))
}

func revokeKey(ctx context.Context, db *schema.DB, id, actor string, now time.Time) error {
	id = strings.ToLower(id)
	if !ledger.ValidUUID(id) {
		return folio.Errorf(folio.ENOTFOUND, "API key %q not found", truncate(id, 64))
	}
	return db.Tx(ctx, func(tx pgx.Tx) error {
		k, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return folio.Errorf(folio.ENOTFOUND, "API key %s not found", id)
		}
		if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		before := keyAuditJSON(k)
		k.RevokedAt = &now
		return accounts.WriteAudit(ctx, tx, accounts.AuditRecord{At: now, Actor: actor, Action: "key.revoke", Object: "key:" + id, Before: before, After: keyAuditJSON(k)})
	})
}

// keyAuditJSON is a key as recorded in the audit log: never the secret.
func keyAuditJSON(k KeyInfo) json.RawMessage {
	m := map[string]any{"id": k.ID, "role": k.Role, "holder": k.Holder, "note": k.Note, "person": k.Person, "person_id": k.PersonID,
		"created_by": k.CreatedBy, "revoked_at": nil}
	if k.RevokedAt != nil {
		m["revoked_at"] = formatTime(*k.RevokedAt)
	}
	b, _ := json.Marshal(m)
	return b
}

// keyJSON is a key in responses; Key (the secret) only in the creation's.
type keyJSON struct {
	ID        string  `json:"id"`
	Key       string  `json:"key,omitempty"`
	Role      string  `json:"role"`
	Holder    string  `json:"holder,omitempty"`
	Note      string  `json:"note,omitempty"`
	Person    string  `json:"person"`
	PersonID  string  `json:"person_id"`
	CreatedBy string  `json:"created_by"`
	CreatedAt string  `json:"created_at"`
	RevokedAt *string `json:"revoked_at"`
}

func newKeyJSON(k KeyInfo) keyJSON {
	out := keyJSON{ID: k.ID, Role: k.Role, Holder: k.Holder, Note: k.Note, Person: k.Person, PersonID: k.PersonID, CreatedBy: k.CreatedBy,
		CreatedAt: formatTime(k.CreatedAt)}
	if k.RevokedAt != nil {
		out.RevokedAt = optString(formatTime(*k.RevokedAt))
	}
	return out
}

// keyRequest is the body of POST /v1/keys.
type keyRequest struct {
	Role   string `json:"role"`
	Holder string `json:"holder"`
	Note   string `json:"note"`
	Person string `json:"person"`
}

func (q keyRequest) validate() error {
	if err := validateKey(q.Role, q.Holder, q.Note); err != nil {
		return err
	}
	return validatePerson(q.Person)
}

// postKey: POST /v1/keys → 201 with the secret, shown once.
func (s *Server) postKey(w http.ResponseWriter, r *http.Request) error {
	var req keyRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if req.Holder != "" {
		if _, err := s.affiliate.GetUser(r.Context(), req.Holder); folio.ErrorCode(err) == folio.ENOTFOUND {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"},
				Message: fmt.Sprintf("holder %q is not a registered user; register it (POST /v1/users) before minting its key", req.Holder)}
		} else if err != nil {
			return err
		}
	}
	k, secret, err := createKey(r.Context(), s.db, NewKey{Role: req.Role, Holder: req.Holder, Note: req.Note, Person: req.Person},
		principalFrom(r.Context()).ID, s.clock())
	if err != nil {
		return err
	}
	out := newKeyJSON(k)
	out.Key = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// getKeys: GET /v1/keys, every key without secrets or hashes.
func (s *Server) getKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := ListKeys(r.Context(), s.db)
	if err != nil {
		return err
	}
	out := listJSON[keyJSON]{Data: []keyJSON{}}
	for _, k := range keys {
		out.Data = append(out.Data, newKeyJSON(k))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteKey: DELETE /v1/keys/{id} revokes a key → 204.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	id := strings.ToLower(chi.URLParam(r, "id"))
	if !ledger.ValidUUID(id) {
		return folio.Errorf(folio.EINVALID, "key id %q is not a UUID", truncate(id, 64))
	}
	if err := revokeKey(r.Context(), s.db, id, principalFrom(r.Context()).ID, s.clock()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
