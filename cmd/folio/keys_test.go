package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

func TestKeysCLI(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, _ := appDB(t)

	stdout, stderr, code := cli(t, ctx, "keys", "create", "--role", "poster", "--note", "exchange backend", "--database-url", db.URL)
	if code != 0 {
		t.Fatalf("keys create: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	id, secret := field(stdout, "id"), field(stdout, "key")
	if id == "" || secret == "" {
		t.Fatalf("keys create printed no id or key:\n%s", stdout)
	}
	if len(secret) < 43 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(secret) {
		t.Fatalf("key %q: want at least 43 URL-safe characters (256 bits)", secret)
	}
	if n := strings.Count(stdout+stderr, secret); n != 1 {
		t.Fatalf("the secret appears %d times in the output, want once", n)
	}

	stdout2, _, code := cli(t, ctx, "keys", "create", "--role", "auditor", "--database-url", db.URL)
	if code != 0 || field(stdout2, "key") == secret || field(stdout2, "key") == "" {
		t.Fatalf("second keys create: exit %d, key %q; want 0 and a different key", code, field(stdout2, "key"))
	}
	if _, _, code := cli(t, ctx, "keys", "create", "--role", "affiliate", "--database-url", db.URL); code != 2 {
		t.Fatalf("keys create --role affiliate without --holder: exit %d, want 2", code)
	}
	if _, _, code := cli(t, ctx, "keys", "create", "--role", "root", "--database-url", db.URL); code != 2 {
		t.Fatalf("keys create --role root: exit %d, want 2", code)
	}

	list, stderr, code := cli(t, ctx, "keys", "list", "--database-url", db.URL)
	if code != 0 {
		t.Fatalf("keys list: exit %d\nstderr: %s", code, stderr)
	}
	line := lineWith(list, id)
	if !strings.Contains(line, "poster") || !strings.Contains(line, "exchange backend") || !strings.Contains(line, " - ") {
		t.Fatalf("keys list line of %s = %q, want role poster, the note and no revocation", id, line)
	}
	if strings.Contains(list, secret) || strings.Contains(list, field(stdout2, "key")) {
		t.Fatalf("keys list shows a secret:\n%s", list)
	}

	out, stderr, code := cli(t, ctx, "keys", "revoke", id, "--database-url", db.URL)
	if code != 0 || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("keys revoke: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	list, _, _ = cli(t, ctx, "keys", "list", "--database-url", db.URL)
	if line := lineWith(list, id); !regexp.MustCompile(`\d{4}-\d\d-\d\dT[^ ]+Z\s+\d{4}-\d\d-\d\dT`).MatchString(line) {
		t.Fatalf("keys list line of the revoked key = %q, want a revocation time", line)
	}
	if _, _, code := cli(t, ctx, "keys", "revoke", "--database-url", db.URL, "00000000-0000-4000-8000-000000000000"); code != 2 {
		t.Fatalf("keys revoke of an unknown id: exit %d, want 2", code)
	}
}

// field returns the value of a "name  value" line.
func field(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestKeysCLIPerson: `keys create --person` labels who holds the key; a key
// the CLI creates is a person of its own (person id = its id). An
// affiliate key needs a registered holder.
func TestKeysCLIPerson(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	db, _ := appDB(t)

	stdout, stderr, code := cli(t, ctx, "keys", "create", "--role", "admin", "--person", "Ann Example", "--database-url", db.URL)
	if code != 0 {
		t.Fatalf("keys create --person: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	id := field(stdout, "id")
	if !strings.Contains(stdout, "Ann Example") {
		t.Errorf("keys create --person printed no person:\n%s", stdout)
	}
	list, _, code := cli(t, ctx, "keys", "list", "--database-url", db.URL)
	if line := lineWith(list, id); code != 0 || !strings.Contains(line, "Ann Example") || strings.Count(line, id) != 2 {
		t.Errorf("keys list line of %s = %q, want the person and its own id as person id", id, line)
	}
	for _, bad := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"--role", "admin", "--person", "Ann\x01"}, "person must be"},
		{[]string{"--role", "admin", "--person", strings.Repeat("a", 101)}, "person must be"},
		{[]string{"--role", "affiliate", "--holder", "nobody"}, "not a registered user"},
	} {
		args := append([]string{"keys", "create", "--database-url", db.URL}, bad.args...)
		err := run(ctx, args, io.Discard, io.Discard)
		if code := exitCode(err); code != 2 || !strings.Contains(fmt.Sprint(err), bad.want) {
			t.Errorf("keys create %q: exit %d, error %v; want 2 and %q", bad.args, code, err, bad.want)
		}
	}
}
