package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }

// newApp returns a fresh migrated database, connected as the server's
// restricted role.
func newApp(t *testing.T) *schema.DB {
	t.Helper()
	db := schematest.New(t, schema.Migrate)
	app, err := schema.Open(context.Background(), db.URL, schema.OpenOptions{Role: schema.AppRole})
	if err != nil {
		t.Fatalf("open app pool: %v", err)
	}
	t.Cleanup(app.Close)
	return app
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		k     keys.NewKey
		field string // "" when valid
	}{
		{keys.NewKey{Role: keys.RoleAdmin}, ""},
		{keys.NewKey{Role: keys.RoleAffiliate, Holder: "u-1.x_y"}, ""},
		{keys.NewKey{Role: keys.RolePoster, Note: "line one\r\nline two\tend", Person: "Ana Pérez"}, ""},
		{keys.NewKey{Role: "root"}, "role"},
		{keys.NewKey{Role: keys.RoleAffiliate}, "holder"},
		{keys.NewKey{Role: keys.RoleAuditor, Holder: "u1"}, "holder"},
		{keys.NewKey{Role: keys.RoleAffiliate, Holder: "u 1"}, "holder"},
		{keys.NewKey{Role: keys.RoleAdmin, Note: strings.Repeat("n", 201)}, "note"},
		{keys.NewKey{Role: keys.RoleAdmin, Note: "bell\a"}, "note"},
		{keys.NewKey{Role: keys.RoleAdmin, Person: "   "}, "person"},
		{keys.NewKey{Role: keys.RoleAdmin, Person: "tab\there"}, "person"},
		{keys.NewKey{Role: keys.RoleAdmin, Person: strings.Repeat("é", 101)}, "person"},
	} {
		err := keys.Validate(c.k)
		var got string
		if err != nil {
			if folio.ErrorCode(err) != folio.EINVALID {
				t.Errorf("Validate(%+v) = %v, want invalid_request", c.k, err)
				continue
			}
			var fe *folio.Error
			if errors.As(err, &fe) {
				got = strings.Join(fe.Fields, ",")
			}
		}
		if got != c.field || (err == nil) != (c.field == "") {
			t.Errorf("Validate(%+v) = %v (fields %q), want field %q", c.k, err, got, c.field)
		}
	}
}

// A key minted by a key is its minter's person, transitively, whatever its
// label; a key minted by any other actor is a person of its own; revoking
// the root changes no one's person; the secret authenticates until the key
// is revoked; creation and revocation are audited without the secret.
func TestMintLineageLookupRevoke(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	root, rootSecret, err := keys.MintAt(ctx, app, keys.NewKey{Role: keys.RoleAdmin, Person: "Ana"}, "cli:ana", t0)
	if err != nil {
		t.Fatalf("MintAt(root): %v", err)
	}
	if root.PersonID != root.ID || root.CreatedBy != "cli:ana" || !root.CreatedAt.Equal(t0) {
		t.Errorf("root = %+v, want its own person, created by cli:ana at %v", root, t0)
	}
	if !strings.HasPrefix(rootSecret, keys.Prefix) || len(rootSecret) != len(keys.Prefix)+52 {
		t.Errorf("secret %q, want %q and 52 base32 characters", rootSecret, keys.Prefix)
	}
	child, _, err := keys.MintAt(ctx, app, keys.NewKey{Role: keys.RoleAdmin, Person: "Bob"}, root.ID, t0.Add(time.Second))
	if err != nil {
		t.Fatalf("MintAt(child): %v", err)
	}
	grandchild, gcSecret, err := keys.MintAt(ctx, app, keys.NewKey{Role: keys.RoleAuditor}, child.ID, t0.Add(2*time.Second))
	if err != nil {
		t.Fatalf("MintAt(grandchild): %v", err)
	}
	other, _, err := keys.Create(ctx, app, keys.RoleAdmin, "", "", "bootstrap")
	if err != nil {
		t.Fatalf("Create(other): %v", err)
	}
	if child.PersonID != root.ID || grandchild.PersonID != root.ID || other.PersonID != other.ID {
		t.Errorf("persons: child %s, grandchild %s, other %s; want %s, %s, %s", child.PersonID, grandchild.PersonID, other.PersonID, root.ID, root.ID, other.ID)
	}
	if _, _, err := keys.Mint(ctx, app, keys.NewKey{Role: keys.RoleAdmin}, "00000000-0000-0000-0000-000000000000"); folio.ErrorCode(err) != folio.EINVALID {
		t.Errorf("Mint by an unknown key = %v, want invalid_request", err)
	}

	got, err := keys.Lookup(ctx, app.Pool, gcSecret)
	if err != nil || got.ID != grandchild.ID || got.Role != keys.RoleAuditor || got.PersonID != root.ID {
		t.Fatalf("Lookup(grandchild) = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "folio_", "nope", rootSecret + "x"} {
		if _, err := keys.Lookup(ctx, app.Pool, bad); folio.ErrorCode(err) != folio.EUNAUTHORIZED {
			t.Errorf("Lookup(%q) = %v, want unauthorized", bad, err)
		}
	}

	if err := keys.RevokeAt(ctx, app, strings.ToUpper(root.ID), "cli:ana", t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeAt(root): %v", err)
	}
	if err := keys.Revoke(ctx, app, root.ID, "cli:ana"); err != nil {
		t.Fatalf("Revoke(root) again: %v", err)
	}
	if err := keys.Revoke(ctx, app, "00000000-0000-0000-0000-000000000000", "cli:ana"); folio.ErrorCode(err) != folio.ENOTFOUND {
		t.Errorf("Revoke(unknown) = %v, want not_found", err)
	}
	if _, err := keys.Lookup(ctx, app.Pool, rootSecret); folio.ErrorCode(err) != folio.EUNAUTHORIZED {
		t.Errorf("Lookup(revoked root) = %v, want unauthorized", err)
	}
	list, err := keys.List(ctx, app)
	if err != nil || len(list) != 4 {
		t.Fatalf("List = %+v, %v; want 4 keys", list, err)
	}
	if list[0].ID != root.ID || list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("List()[0] = %+v, want the root revoked at %v", list[0], t0.Add(time.Hour))
	}
	if list[1].PersonID != root.ID || list[1].Person != "Bob" {
		t.Errorf("List()[1] = %+v, want Bob, still the root's person", list[1])
	}

	recs, err := audit.List(ctx, app.Pool, audit.Filter{Object: "key:" + root.ID})
	if err != nil || len(recs) != 2 || recs[0].Action != "key.create" || recs[1].Action != "key.revoke" {
		t.Fatalf("audit of the root = %+v, %v; want key.create then one key.revoke", recs, err)
	}
	for _, r := range recs {
		if strings.Contains(string(r.After), rootSecret) || strings.Contains(string(r.After), "hash") {
			t.Errorf("audit record %s carries the secret or its hash: %s", r.Action, r.After)
		}
	}
	var after map[string]any
	if err := json.Unmarshal(recs[1].After, &after); err != nil || after["revoked_at"] == nil || after["person_id"] != root.ID {
		t.Errorf("key.revoke after = %s (%v), want revoked_at and person_id %s", recs[1].After, err, root.ID)
	}
}
