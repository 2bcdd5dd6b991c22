package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
)

// Roles of API keys (docs/CONTRACT.md §5).
const (
	RoleAdmin     = "admin"
	RolePoster    = "poster"
	RoleAuditor   = "auditor"
	RoleAffiliate = "affiliate"
)

// ValidRole reports whether r is one of the four roles.
func ValidRole(r string) bool {
	switch r {
	case RoleAdmin, RolePoster, RoleAuditor, RoleAffiliate:
		return true
	}
	return false
}

// Prefix starts every generated key's secret; Lookup refuses other tokens
// without a database query.
const Prefix = "folio_"

// Key describes an API key; it never carries the secret or its hash.
type Key struct {
	ID, Role, Holder, Note string
	// Person labels who holds the key ("" when not given); PersonID is the
	// person the key counts as for four-eyes (see Mint); CreatedBy is
	// the actor that created it (a key id, "bootstrap", "cli:…").
	Person, PersonID, CreatedBy string
	CreatedAt                   time.Time
	RevokedAt                   *time.Time
}

// NewKey is what Mint creates.
type NewKey struct {
	Role   string // admin, poster, auditor or affiliate
	Holder string // required for affiliate keys, refused for others
	Note   string
	Person string // optional label for who holds the key
}

// maxNote bounds a key's note; maxPerson a key's person label, in
// characters.
const (
	maxNote   = 200
	maxPerson = 100
)

// encoding renders a key's 32 random bytes: lower-case base32, no padding.
var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Create creates an API key without a person label; see Mint.
func Create(ctx context.Context, db *schema.DB, role, holder, note, actor string) (Key, string, error) {
	return Mint(ctx, db, NewKey{Role: role, Holder: holder, Note: note}, actor)
}

// Mint creates an API key for k.Role (admin, poster, auditor, affiliate);
// k.Holder is required for affiliate keys and refused for others (Mint does
// not check that the holder is a registered user: its callers do). It
// returns the key and its secret, which is shown only here: only the
// secret's SHA-256 is stored. The creation is written to the audit log with
// actor.
//
// The key's person (four-eyes, docs/CONTRACT.md §10) follows from actor: when actor is a
// key id (a key minting a key over the API) the new key counts as that
// key's person, whatever its Person label says, so keys minted directly or
// transitively by one key are all its root's person; any other actor
// ("bootstrap", "cli:…") makes the new key a person of its own. The person
// is fixed at creation: revoking the minter changes nothing.
// Errors: invalid_request.
func Mint(ctx context.Context, db *schema.DB, k NewKey, actor string) (Key, string, error) {
	return MintAt(ctx, db, k, actor, time.Now())
}

// MintAt is Mint with the creation time now (truncated to microseconds, as
// stored) instead of the wall clock.
func MintAt(ctx context.Context, db *schema.DB, nk NewKey, actor string, now time.Time) (Key, string, error) {
	now = now.UTC().Truncate(time.Microsecond)
	if err := Validate(nk); err != nil {
		return Key{}, "", err
	}
	if actor == "" {
		return Key{}, "", folio.Errorf(folio.EINVALID, "a key's creation needs an actor")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Key{}, "", err
	}
	secret := Prefix + strings.ToLower(encoding.EncodeToString(raw[:]))
	hash := sha256.Sum256([]byte(secret))
	k := Key{Role: nk.Role, Holder: nk.Holder, Note: nk.Note, Person: nk.Person, CreatedBy: actor, CreatedAt: now}
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
			if _, ok := schema.UniqueViolation(err); ok {
				// A random id or secret collided: astronomically unlikely.
				return folio.Errorf(folio.ECONFLICT, "the new key collided with an existing one; send the request again")
			}
			return err
		}
		return audit.Write(ctx, tx, audit.Record{At: now, Actor: actor, Action: "key.create", Object: "key:" + k.ID, After: auditJSON(k)})
	})
	if err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

// Validate checks what Mint would create, without the database: the role,
// the holder (affiliate keys only), the note and the person label.
// Errors: invalid_request, naming the field.
func Validate(k NewKey) error {
	if err := validateKey(k.Role, k.Holder, k.Note); err != nil {
		return err
	}
	return validatePerson(k.Person)
}

// validatePerson checks a key's person label: empty, or 1 to 100 printable
// characters (no control characters), not only spaces.
func validatePerson(person string) error {
	if person == "" {
		return nil
	}
	bad := !utf8.ValidString(person) || utf8.RuneCountInString(person) > maxPerson || strings.TrimSpace(person) == ""
	for _, r := range person {
		bad = bad || !unicode.IsPrint(r)
	}
	if bad {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"person"},
			Message: fmt.Sprintf("person must be 1 to %d printable characters (no control characters), not only spaces", maxPerson)}
	}
	return nil
}

func validateKey(role, holder, note string) error {
	switch {
	case !ValidRole(role):
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"role"}, Message: fmt.Sprintf("role %q must be one of admin, poster, auditor, affiliate", truncate(role, 32))}
	case role == RoleAffiliate && holder == "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"}, Message: "an affiliate key needs the holder (user id) whose data it may read"}
	case role != RoleAffiliate && holder != "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"}, Message: "only affiliate keys have a holder"}
	case holder != "" && !accounts.ValidHolder(holder):
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"}, Message: "holder must be 1 to 64 characters of A-Z a-z 0-9 . _ -"}
	case len(note) > maxNote:
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"note"}, Message: fmt.Sprintf("note is at most %d bytes", maxNote)}
	case text.TextProblem(note, text.Multiline) != "":
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"note"}, Message: "note " + text.TextProblem(note, text.Multiline)}
	}
	return nil
}

// List returns every key, revoked ones included, oldest first.
func List(ctx context.Context, db *schema.DB) ([]Key, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+columns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		return scan(r)
	})
}

// Get returns the key id, revoked or not. Errors: not_found.
func Get(ctx context.Context, q schema.Querier, id string) (Key, error) {
	k, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, folio.Errorf(folio.ENOTFOUND, "API key %s not found", truncate(id, 64))
	}
	return k, err
}

// columns are the columns scan reads.
const columns = `id::text, role, holder, note, person, person_id::text, created_by, created_at, revoked_at`

func scan(r pgx.Row) (Key, error) {
	var k Key
	err := r.Scan(&k.ID, &k.Role, &k.Holder, &k.Note, &k.Person, &k.PersonID, &k.CreatedBy, &k.CreatedAt, &k.RevokedAt)
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	return k, err
}

// Revoke revokes the key id: requests with it are refused (401) from the
// next request on. Revoking a revoked key changes nothing. The revocation is
// written to the audit log with actor. Errors: not_found.
func Revoke(ctx context.Context, db *schema.DB, id, actor string) error {
	return RevokeAt(ctx, db, id, actor, time.Now())
}

// RevokeAt is Revoke with the revocation time now (truncated to
// microseconds, as stored) instead of the wall clock.
func RevokeAt(ctx context.Context, db *schema.DB, id, actor string, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	id = strings.ToLower(id)
	if !ledger.ValidUUID(id) {
		return folio.Errorf(folio.ENOTFOUND, "API key %q not found", truncate(id, 64))
	}
	return db.Tx(ctx, func(tx pgx.Tx) error {
		k, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM api_keys WHERE id = $1 FOR UPDATE`, id))
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
		before := auditJSON(k)
		k.RevokedAt = &now
		return audit.Write(ctx, tx, audit.Record{At: now, Actor: actor, Action: "key.revoke", Object: "key:" + id, Before: before, After: auditJSON(k)})
	})
}

// Lookup finds the unrevoked key whose secret is secret. The key it returns
// has ID, Role, Holder, Person and PersonID set. Errors: unauthorized (no
// such key, or revoked).
func Lookup(ctx context.Context, q schema.Querier, secret string) (Key, error) {
	if !strings.HasPrefix(secret, Prefix) {
		return Key{}, folio.Errorf(folio.EUNAUTHORIZED, "the API key is not valid")
	}
	sum := sha256.Sum256([]byte(secret))
	var k Key
	var revoked bool
	err := q.QueryRow(ctx, `SELECT id::text, role, holder, person_id::text, person, revoked_at IS NOT NULL FROM api_keys WHERE key_hash = $1`, sum[:]).
		Scan(&k.ID, &k.Role, &k.Holder, &k.PersonID, &k.Person, &revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Key{}, folio.Errorf(folio.EUNAUTHORIZED, "the API key is not valid")
	case err != nil:
		return Key{}, err
	case revoked:
		return Key{}, folio.Errorf(folio.EUNAUTHORIZED, "the API key has been revoked")
	}
	return k, nil
}

// auditJSON is a key as recorded in the audit log: never the secret.
func auditJSON(k Key) json.RawMessage {
	m := map[string]any{"id": k.ID, "role": k.Role, "holder": k.Holder, "note": k.Note, "person": k.Person, "person_id": k.PersonID,
		"created_by": k.CreatedBy, "revoked_at": nil}
	if k.RevokedAt != nil {
		m["revoked_at"] = k.RevokedAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(m)
	return b
}

// truncate shortens s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
