package api

import (
	"context"
	"testing"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
)

// TestIdentify: a stored key, the bootstrap key, a revoked key and an
// unknown one, as the console's sign-in sees them.
func TestIdentify(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	info, secret, err := keys.Create(ctx, e.app, keys.RoleAffiliate, "carol", "carol's key", "test")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.srv.Identify(ctx, secret)
	if err != nil || got.ID != info.ID || got.Role != keys.RoleAffiliate || got.Holder != "carol" || got.Note != "carol's key" {
		t.Errorf("Identify(affiliate key) = %+v, %v; want id %s, affiliate, carol, note", got, err, info.ID)
	}
	ann, annSecret, err := keys.Mint(ctx, e.app, keys.NewKey{Role: keys.RoleAdmin, Person: "Ann"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.srv.Identify(ctx, annSecret); err != nil || got.Person != "Ann" || got.PersonID != ann.PersonID || got.PersonID == "" {
		t.Errorf("Identify(Ann's key) = %+v, %v; want person Ann, person id %s", got, err, ann.PersonID)
	}
	if got, err := e.srv.Identify(ctx, bootstrapKey); err != nil || got.ID != "bootstrap" || got.Role != keys.RoleAdmin || got.PersonID != "bootstrap" {
		t.Errorf("Identify(bootstrap) = %+v, %v", got, err)
	}
	if err := keys.Revoke(ctx, e.app, info.ID, "test"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{secret, "folio_unknown", "", "not-a-key"} {
		if _, err := e.srv.Identify(ctx, k); err == nil || folio.ErrorCode(err) != folio.EUNAUTHORIZED {
			t.Errorf("Identify(%q) error = %v, want unauthorized", k, err)
		}
	}
}
