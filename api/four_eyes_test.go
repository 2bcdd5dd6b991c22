package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// Four-eyes separates people, not keys (docs/CONTRACT.md §10, POST /v1/keys): a key
// minted by a key counts as its minter's person, directly or through keys it
// minted; keys minted by the bootstrap key (or the CLI) are distinct
// people. These tests go through the real router; the fixture's admin1 and
// admin2 are keys created by the CLI's path (actor "test"), so two people.

// mintKey mints a key over POST /v1/keys with the key by and returns it.
func (f *payoutFixture) mintKey(by string, body map[string]any) apiKey {
	f.t.Helper()
	var k struct{ ID, Key string }
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/keys", Key: by, Body: body}).Decode(f.t, &k)
	if k.ID == "" || k.Key == "" {
		f.t.Fatalf("POST /v1/keys %v gave no id or key", body)
	}
	return apiKey{k.ID, k.Key}
}

// keysByID returns GET /v1/keys as generic objects by id.
func (f *payoutFixture) keysByID() map[string]map[string]any {
	f.t.Helper()
	var list listJSON[map[string]any]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/keys"}).Decode(f.t, &list)
	out := map[string]map[string]any{}
	for _, k := range list.Data {
		id, _ := k["id"].(string)
		out[id] = k
	}
	return out
}

// wantFourEyesRefusal approves batch id with key and wants 403 forbidden
// naming the four-eyes rule.
func (f *payoutFixture) wantFourEyesRefusal(key apiKey, id, who string) {
	f.t.Helper()
	res := f.do(req{Method: "POST", Path: "/v1/payouts/batches/" + id + "/approve", Key: key.secret})
	if res.Status != http.StatusForbidden {
		f.t.Fatalf("approve with %s = %d %s, want 403: it is the builder's person", who, res.Status, res.Body)
	}
	var p problem
	res.Decode(f.t, &p)
	if p.Code != folio.EFORBIDDEN || !strings.Contains(p.Detail, "four-eyes") || !strings.Contains(p.Detail, "another person") {
		f.t.Errorf("approve with %s: problem %s %q, want forbidden naming four-eyes and another person", who, p.Code, p.Detail)
	}
}

// TestFourEyesMintedKeysAreTheBuilder: the builder cannot approve with a key
// it minted, nor with a key minted by one of those, not even once its own
// key is revoked; another person can.
func TestFourEyesMintedKeysAreTheBuilder(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")
	a := f.admin1
	b := f.build(http.StatusCreated)

	// The reported sequence: A builds, mints B (admin), approves with B.
	keyB := f.mintKey(a.secret, map[string]any{"role": "admin"})
	f.wantFourEyesRefusal(keyB, b.ID, "B, minted by the builder")

	// Through a chain: A mints C, C mints D; a label claiming another
	// person changes nothing.
	keyC := f.mintKey(a.secret, map[string]any{"role": "admin"})
	keyD := f.mintKey(keyC.secret, map[string]any{"role": "admin", "person": "Dora"})
	f.wantFourEyesRefusal(keyD, b.ID, "D, minted by C, minted by the builder")

	keys := f.keysByID()
	for _, k := range []apiKey{keyB, keyC, keyD} {
		if got := keys[k.id]["person_id"]; got != a.id {
			t.Errorf("GET /v1/keys: person_id of %s = %v, want the builder's key %s", k.id, got, a.id)
		}
	}
	if got := keys[keyD.id]["created_by"]; got != keyC.id {
		t.Errorf("GET /v1/keys: created_by of D = %v, want C %s", got, keyC.id)
	}

	// Revoking the root key does not make its minted keys another person.
	f.call(http.StatusNoContent, req{Method: "DELETE", Path: "/v1/keys/" + a.id})
	f.wantFourEyesRefusal(keyD, b.ID, "D after the builder's key was revoked")
	keyE := f.mintKey(keyD.secret, map[string]any{"role": "admin"})
	f.wantFourEyesRefusal(keyE, b.ID, "E, minted by D after the root's revocation")

	// Another person approves and executes.
	approved := f.act(http.StatusOK, f.admin2, b.ID, "approve", nil)
	if approved.Status != "approved" {
		t.Fatalf("approved batch = %+v", approved)
	}
	f.act(http.StatusCreated, f.admin2, b.ID, "execute", nil)
}

// TestFourEyesBootstrapMintsPeople: keys minted by the bootstrap key for two
// people are two people; the batch, its CSV and the audit log show them.
func TestFourEyesBootstrapMintsPeople(t *testing.T) {
	f := newPayoutFixture(t)
	f.brokerTree(nil)
	f.trade("D", "100")
	erin := f.mintKey(bootstrapKey, map[string]any{"role": "admin", "person": "Erin Example"})
	frank := f.mintKey(bootstrapKey, map[string]any{"role": "admin", "person": "Frank Example"})

	keys := f.keysByID()
	for _, c := range []struct {
		k      apiKey
		person string
	}{{erin, "Erin Example"}, {frank, "Frank Example"}} {
		got := keys[c.k.id]
		if got["person"] != c.person || got["person_id"] != c.k.id || got["created_by"] != "bootstrap" {
			t.Errorf("GET /v1/keys: key %s = %v, want person %q, person_id its own id, created_by bootstrap", c.k.id, got, c.person)
		}
	}
	var keyLog listJSON[map[string]any]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=key:" + erin.id}).Decode(t, &keyLog)
	if len(keyLog.Data) != 1 || !strings.Contains(string(mustJSON(t, keyLog.Data[0]["after"])), `"person":"Erin Example"`) {
		t.Errorf("audit of the key's creation = %v, want its person", keyLog.Data)
	}

	var built map[string]any
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/payouts/batches", Key: erin.secret}).Decode(t, &built)
	id, _ := built["id"].(string)
	f.act(http.StatusOK, frank, id, "approve", nil)
	var executed map[string]any
	f.call(http.StatusCreated, req{Method: "POST", Path: "/v1/payouts/batches/" + id + "/execute", Key: erin.secret}).Decode(t, &executed)

	want := map[string]any{
		"created_by": erin.id, "created_by_person": erin.id, "created_by_person_label": "Erin Example",
		"approved_by": frank.id, "approved_by_person": frank.id, "approved_by_person_label": "Frank Example",
		"executed_by": erin.id, "executed_by_person": erin.id, "executed_by_person_label": "Erin Example",
	}
	var got map[string]any
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches/" + id, Key: f.auditor.secret}).Decode(t, &got)
	for _, name := range sortedKeys(want) {
		if got[name] != want[name] || executed[name] != want[name] {
			t.Errorf("batch %s = %v (execute answered %v), want %v", name, got[name], executed[name], want[name])
		}
	}
	if built["created_by_person"] != erin.id || built["created_by_person_label"] != "Erin Example" {
		t.Errorf("built batch names person %v %v, want %s Erin Example", built["created_by_person"], built["created_by_person_label"], erin.id)
	}

	rows := parseCSV(t, f.call(http.StatusOK, req{Method: "GET", Path: "/v1/payouts/batches/" + id + "?format=csv", Key: f.auditor.secret}))
	if len(rows) < 2 {
		t.Fatalf("CSV has %d rows, want a header and lines", len(rows))
	}
	for _, row := range rows[1:] {
		rec := csvRecord(rows[0], row)
		for _, name := range sortedKeys(want) {
			if rec[name] != want[name] {
				t.Errorf("CSV %s = %q, want %v", name, rec[name], want[name])
			}
		}
	}

	var log listJSON[map[string]any]
	f.call(http.StatusOK, req{Method: "GET", Path: "/v1/audit/log?object=payout_batch:" + id}).Decode(t, &log)
	wantAfter := map[string][]string{
		"payout.build":   {`"created_by_person":"` + erin.id + `"`, `"created_by_person_label":"Erin Example"`},
		"payout.approve": {`"created_by_person":"` + erin.id + `"`, `"approved_by_person":"` + frank.id + `"`, `"approved_by_person_label":"Frank Example"`},
		"payout.execute": {`"approved_by_person":"` + frank.id + `"`, `"executed_by_person":"` + erin.id + `"`, `"executed_by_person_label":"Erin Example"`},
	}
	var actions []string
	for _, rec := range log.Data {
		action, _ := rec["action"].(string)
		actions = append(actions, action)
		after := string(mustJSON(t, rec["after"]))
		for _, w := range wantAfter[action] {
			if !strings.Contains(after, w) {
				t.Errorf("audit %s after = %s, want %s", action, after, w)
			}
		}
	}
	slices.Sort(actions)
	if want := []string{"payout.approve", "payout.build", "payout.execute"}; !slices.Equal(actions, want) {
		t.Errorf("audit actions = %v, want %v", actions, want)
	}
}

// TestFourEyesKeyPerson: the person label is optional, 1 to 100 printable
// characters; keys minted by another key keep its person whatever their
// label.
func TestFourEyesKeyPerson(t *testing.T) {
	f := newPayoutFixture(t)
	for _, c := range []struct {
		name   string
		person any
		want   int
	}{
		{"no label", nil, http.StatusCreated},
		{"a name", "Ana María O'Neil", http.StatusCreated},
		{"100 characters", strings.Repeat("é", 100), http.StatusCreated},
		{"101 characters", strings.Repeat("a", 101), http.StatusBadRequest},
		{"NUL", "Ana\x00", http.StatusBadRequest},
		{"newline", "Ana\nBob", http.StatusBadRequest},
		{"DEL", "Ana\x7f", http.StatusBadRequest},
		{"only spaces", "   ", http.StatusBadRequest},
		{"not a string", 7, http.StatusBadRequest},
	} {
		body := map[string]any{"role": "admin"}
		if c.person != nil {
			body["person"] = c.person
		}
		res := f.do(req{Method: "POST", Path: "/v1/keys", Key: bootstrapKey, Body: body})
		if res.Status != c.want {
			t.Errorf("%s: POST /v1/keys = %d %s, want %d", c.name, res.Status, res.Body, c.want)
			continue
		}
		if c.want == http.StatusBadRequest {
			var p problem
			res.Decode(t, &p)
			if p.Code != folio.EINVALID || !slices.Equal(p.Fields, []string{"person"}) {
				t.Errorf("%s: problem %s fields %v, want invalid_request naming person", c.name, p.Code, p.Fields)
			}
		}
	}
}

// TestAffiliateKeyUnknownHolder: an affiliate key needs a registered holder.
func TestAffiliateKeyUnknownHolder(t *testing.T) {
	f := newPayoutFixture(t)
	res := f.do(req{Method: "POST", Path: "/v1/keys", Key: bootstrapKey, Body: map[string]any{"role": "affiliate", "holder": "nobody"}})
	if res.Status != http.StatusBadRequest {
		t.Fatalf("affiliate key for an unknown holder = %d %s, want 400", res.Status, res.Body)
	}
	var p problem
	res.Decode(t, &p)
	if p.Code != folio.EINVALID || !slices.Equal(p.Fields, []string{"holder"}) || !strings.Contains(p.Detail, "nobody") {
		t.Errorf("problem %s fields %v %q, want invalid_request naming holder nobody", p.Code, p.Fields, p.Detail)
	}
	f.brokerTree(nil)
	f.mintKey(bootstrapKey, map[string]any{"role": "affiliate", "holder": "A"})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return b
}

// TestKeyPeopleMigration: migration 010 gives keys created before it the
// person of their lineage's root, and batches built and approved before it
// the people of their keys. The test takes a migrated database back to
// before 010 (dropping its columns and its record), writes old-style rows
// and migrates again.
func TestKeyPeopleMigration(t *testing.T) {
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Admin.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`DELETE FROM schema_migrations WHERE version = 10`)
	exec(`ALTER TABLE api_keys DROP COLUMN person, DROP COLUMN person_id`)
	exec(`ALTER TABLE payout_batches DROP COLUMN created_by_person, DROP COLUMN created_by_label, DROP COLUMN approved_by_person,
		DROP COLUMN approved_by_label, DROP COLUMN executed_by, DROP COLUMN executed_by_person, DROP COLUMN executed_by_label`)

	// root (bootstrap) → child → grandchild; cli is the CLI's, other the
	// bootstrap's second person.
	ids := map[string]string{}
	for _, name := range []string{"root", "child", "grandchild", "cli", "other"} {
		ids[name] = uuid.NewString()
	}
	creators := map[string]string{"root": "bootstrap", "child": ids["root"], "grandchild": ids["child"], "cli": "cli:ops", "other": "bootstrap"}
	for _, name := range []string{"root", "child", "grandchild", "cli", "other"} {
		exec(`INSERT INTO api_keys (id, key_hash, role, created_by) VALUES ($1, $2, 'admin', $3)`, ids[name], []byte(name), creators[name])
	}
	exec(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, ids["root"])
	exec(`INSERT INTO payout_batches (id, status, created_by, cutoff, created_at, approved_by, approved_at)
		VALUES ('pb_old', 'approved', $1, now(), now(), $2, now()), ('pb_sched', 'draft', 'scheduler', now(), now(), NULL, NULL)`,
		ids["grandchild"], ids["other"])

	if err := schema.Migrate(ctx, db.URL); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	want := map[string]string{"root": ids["root"], "child": ids["root"], "grandchild": ids["root"], "cli": ids["cli"], "other": ids["other"]}
	for name, id := range ids {
		var person, label string
		if err := db.Admin.QueryRow(ctx, `SELECT person_id::text, person FROM api_keys WHERE id = $1`, id).Scan(&person, &label); err != nil {
			t.Fatal(err)
		}
		if person != want[name] || label != "" {
			t.Errorf("key %s: person_id %s label %q, want %s and no label", name, person, label, want[name])
		}
	}
	for _, c := range []struct{ id, created, approved string }{{"pb_old", ids["root"], ids["other"]}, {"pb_sched", "scheduler", ""}} {
		var created, approved string
		if err := db.Admin.QueryRow(ctx, `SELECT created_by_person, coalesce(approved_by_person, '') FROM payout_batches WHERE id = $1`, c.id).
			Scan(&created, &approved); err != nil {
			t.Fatal(err)
		}
		if created != c.created || approved != c.approved {
			t.Errorf("batch %s: people %s, %s; want %s, %s", c.id, created, approved, c.created, c.approved)
		}
	}
}
