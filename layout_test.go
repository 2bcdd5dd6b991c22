package folio_test

import (
	"os/exec"
	"strings"
	"testing"
)

// domainPackages are Folio's domain and storage packages: none of them may
// depend on an HTTP stack or on the api package (docs/ARCHITECTURE.md).
var domainPackages = []string{"./accounts", "./affiliate", "./audit", "./events", "./ingest", "./internal/...", "./keys", "./ledger", "./payouts", "./reconcile", "./schema", "./seal"}

// TestDomainImportsNoHTTP lists the dependencies of every domain package
// with `go list -deps` and fails on net/http, chi or the api and console
// packages among them.
func TestDomainImportsNoHTTP(t *testing.T) {
	for _, pkg := range domainPackages {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case dep == "net/http", strings.HasPrefix(dep, "github.com/go-chi/"),
				dep == "github.com/folioledger/folio/api", dep == "github.com/folioledger/folio/console":
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
