package schema_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/folioledger/folio/schema"
	"github.com/folioledger/folio/schema/schematest"
)

// knownViolations are the reads across an owner's line that remain, each
// for a stated reason: a single statement joining two owners' tables where
// splitting it would ship every row of a period between the packages. Each
// entry lists the only foreign tables the file may name; anything else it
// names still fails, and an entry whose file no longer names one of its
// tables fails too, so the list can only shrink.
var knownViolations = map[string][]string{
	// Payouts select the payable accruals, the year-to-date paid total of
	// the fraud rules and the tax totals by joining affiliate's accrual rows
	// with payout_accruals/payout_lines in one statement.
	"payouts/batches.go": {"accruals_whole"},
	"payouts/tax.go":     {"accruals_whole"},
	// Verify's one-pass balance check joins the chart for normal sides.
	"ledger/verify.go": {"account_codes"},
	// Reconciliation's accruals check joins the journal's commission
	// credits with affiliate's accrual rows in one statement (see its doc
	// comment); split between the owners, the report would hold every entry
	// of the period in memory.
	"reconcile/accruals.go": {"entries", "accruals_whole"},
}

// TestAccrualsReadThroughView: since migration 042 a trade's accrual rows
// are compact (the columns their trade row carries are NULL), so a read
// of the accruals table would see NULL trader, currency, market... for
// every new trade accrual. Only the writer (affiliate/accruals.go) may name
// the table; every reader reads the view accruals_whole.
func TestAccrualsReadThroughView(t *testing.T) {
	t.Parallel()
	refs, err := scanModule("..")
	if err != nil {
		t.Fatal(err)
	}
	writer := false
	for _, r := range refs {
		if r.table != "accruals" {
			continue
		}
		if r.file == "affiliate/accruals.go" {
			writer = true
			continue
		}
		t.Errorf("%s:%d names the accruals table: read the view accruals_whole (compact trade accruals, migration 042)", r.file, r.line)
	}
	if !writer {
		t.Error("affiliate/accruals.go no longer names the accruals table: the scan is broken or the writer moved")
	}
}

// TestTableOwners checks schema.Owners against the migrated schema: every
// table and view of a freshly migrated database has an owner, and every
// listed one exists.
func TestTableOwners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := schematest.New(t, schema.Migrate)
	rows, err := db.Admin.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, table)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	owners := schema.Owners()
	for _, table := range tables {
		if owners[table] == "" {
			t.Errorf("table %s has no owner in schema.Owners: name the one package whose SQL may name it", table)
		}
	}
	for table := range owners {
		if !slices.Contains(tables, table) {
			t.Errorf("schema.Owners lists %s, which is not a table of the migrated schema", table)
		}
	}
}

// TestPackagesNameOnlyOwnedTables scans the string literals of every
// non-test Go file of the module for table names after FROM, JOIN, INTO,
// UPDATE, TABLE, LOCK, TRUNCATE and REFERENCES (see sqlTables), and fails,
// naming the file and line, when a package names a table that schema.Owners
// gives to another package. SQL built at run time (a table name in a
// variable) is out of its reach; review covers that.
func TestPackagesNameOnlyOwnedTables(t *testing.T) {
	t.Parallel()
	owners := schema.Owners()
	refs, err := scanModule("..")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) == 0 {
		t.Fatal("found no table names in the module's SQL: the scan is broken")
	}
	used := map[string]map[string]bool{} // allowlisted file → tables it named
	for _, r := range refs {
		owner, ok := owners[r.table]
		if !ok || owner == r.pkg {
			continue
		}
		if slices.Contains(knownViolations[r.file], r.table) {
			if used[r.file] == nil {
				used[r.file] = map[string]bool{}
			}
			used[r.file][r.table] = true
			continue
		}
		t.Errorf("%s:%d: package %s names table %s, which package %s owns; go through %s's functions",
			r.file, r.line, r.pkg, r.table, owner, owner)
	}
	for file, tables := range knownViolations {
		for _, table := range tables {
			if !used[file][table] {
				t.Errorf("knownViolations lists %s naming %s, which it no longer does: delete the entry", file, table)
			}
		}
	}
}

// tableRef is one table named in one package's SQL.
type tableRef struct {
	pkg   string // package path inside the module ("ledger", "cmd/folio")
	file  string // slash-separated path from the module root
	line  int
	table string
}

// scanModule returns the tables named by the string literals of the
// non-test Go files under root, skipping testdata and hidden directories.
func scanModule(root string) ([]tableRef, error) {
	var refs []tableRef
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, lit := range sqlLiterals(f) {
			for _, m := range sqlTables(lit.text) {
				refs = append(refs, tableRef{pkg: pkg, file: rel, line: lit.line(fset, m.offset), table: m.table})
			}
		}
		return nil
	})
	return refs, err
}

// literal is the text of a string literal, or of a chain of literals joined
// with +, with the positions of its pieces.
type literal struct {
	text   string
	pieces []piece
}

// piece is one string literal of a literal: it starts at offset in the
// joined text.
type piece struct {
	offset int
	pos    token.Pos
	raw    bool // a `raw` literal: its newlines are lines of the file
	text   string
}

// line is the file line of the byte at offset in l.text.
func (l literal) line(fset *token.FileSet, offset int) int {
	p := l.pieces[0]
	for _, q := range l.pieces {
		if q.offset <= offset {
			p = q
		}
	}
	line := fset.Position(p.pos).Line
	if p.raw {
		line += strings.Count(p.text[:min(offset-p.offset, len(p.text))], "\n")
	}
	return line
}

// sqlLiterals returns the string literals of f. A chain a + b + c is one
// literal: its string literals joined, with " ? " in place of any other
// operand, so that "FROM " + t reads as a FROM without a table name.
func sqlLiterals(f *ast.File) []literal {
	var out []literal
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op != token.ADD || !hasString(n) {
				return true
			}
			var l literal
			var add func(e ast.Expr)
			add = func(e ast.Expr) {
				switch e := ast.Unparen(e).(type) {
				case *ast.BinaryExpr:
					if e.Op == token.ADD {
						add(e.X)
						add(e.Y)
						return
					}
				case *ast.BasicLit:
					if e.Kind == token.STRING {
						s, err := strconv.Unquote(e.Value)
						if err != nil {
							return
						}
						l.pieces = append(l.pieces, piece{offset: len(l.text), pos: e.Pos(), raw: e.Value[0] == '`', text: s})
						l.text += s
						return
					}
				}
				l.text += " ? "
				ast.Inspect(e, func(n ast.Node) bool { // literals inside other operands, e.g. calls
					if n != e {
						if sub, ok := n.(ast.Expr); ok && (isStringLit(sub) || isConcat(sub)) {
							out = append(out, sqlLiteralsOf(sub)...)
							return false
						}
					}
					return true
				})
			}
			add(n)
			if len(l.pieces) > 0 {
				out = append(out, l)
			}
			return false
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				if s, err := strconv.Unquote(n.Value); err == nil {
					out = append(out, literal{text: s, pieces: []piece{{pos: n.Pos(), raw: n.Value[0] == '`', text: s}}})
				}
			}
		}
		return true
	})
	return out
}

// sqlLiteralsOf is sqlLiterals for one expression.
func sqlLiteralsOf(e ast.Expr) []literal {
	return sqlLiterals(&ast.File{Name: ast.NewIdent("x"), Decls: []ast.Decl{&ast.GenDecl{Tok: token.VAR,
		Specs: []ast.Spec{&ast.ValueSpec{Names: []*ast.Ident{ast.NewIdent("_")}, Values: []ast.Expr{e}}}}}})
}

func isStringLit(e ast.Expr) bool {
	l, ok := ast.Unparen(e).(*ast.BasicLit)
	return ok && l.Kind == token.STRING
}

func isConcat(e ast.Expr) bool {
	b, ok := ast.Unparen(e).(*ast.BinaryExpr)
	return ok && b.Op == token.ADD && hasString(b)
}

// hasString reports whether a + chain has a string literal operand.
func hasString(b *ast.BinaryExpr) bool {
	for _, e := range []ast.Expr{b.X, b.Y} {
		if isStringLit(e) || isConcat(e) {
			return true
		}
	}
	return false
}

// tableMatch is a table name at a byte offset of SQL text.
type tableMatch struct {
	offset int
	table  string
}

// tableKeywords are the words after which SQL names a table. TABLE covers
// CREATE/ALTER/DROP/LOCK/TRUNCATE TABLE; LOCK and TRUNCATE also stand alone.
var tableKeywords = map[string]bool{"FROM": true, "JOIN": true, "INTO": true, "UPDATE": true, "TABLE": true,
	"LOCK": true, "TRUNCATE": true, "REFERENCES": true}

// skipWords may stand between a keyword and its table name (or, for
// LATERAL, the subquery or function in its place).
var skipWords = map[string]bool{"ONLY": true, "IF": true, "NOT": true, "EXISTS": true, "LATERAL": true}

// sqlTables returns the names that s, read as SQL, gives to tables: the
// identifier after each of tableKeywords (keywords compared without case),
// past ONLY and IF [NOT] EXISTS, without a schema qualifier and unquoted;
// after FROM, every item of a comma-separated list. It skips quoted strings
// and comments. Names that are no table (a CTE, a function such as unnest)
// come back too; the caller keeps the ones it knows.
func sqlTables(s string) []tableMatch {
	toks := sqlTokens(s)
	var out []tableMatch
	for i := 0; i < len(toks); i++ {
		kw := strings.ToUpper(toks[i].text)
		if !toks[i].ident || !tableKeywords[kw] {
			continue
		}
		if (kw == "LOCK" || kw == "TRUNCATE") && i+1 < len(toks) && strings.EqualFold(toks[i+1].text, "TABLE") {
			continue // TABLE comes next and names it
		}
		j := i + 1
		for j < len(toks) && toks[j].ident && skipWords[strings.ToUpper(toks[j].text)] {
			j++
		}
		for j < len(toks) && toks[j].ident {
			out = append(out, tableMatch{offset: toks[j].offset, table: toks[j].name()})
			if kw != "FROM" {
				break
			}
			// FROM a [AS] [x], b [AS] [y], …
			j++
			if j < len(toks) && toks[j].ident && strings.EqualFold(toks[j].text, "AS") {
				j++
			}
			if j < len(toks) && toks[j].ident && !tableKeywords[strings.ToUpper(toks[j].text)] {
				j++
			}
			if j >= len(toks) || toks[j].text != "," {
				break
			}
			j++
		}
	}
	return out
}

// sqlToken is an identifier (possibly qualified, possibly quoted) or one
// character of punctuation.
type sqlToken struct {
	offset int
	text   string
	ident  bool
}

// name is the token's unqualified, unquoted name.
func (t sqlToken) name() string {
	s := t.text
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Trim(s, `"`)
}

func sqlTokens(s string) []sqlToken {
	var toks []sqlToken
	isWord := func(r byte) bool {
		return r == '_' || r == '$' || r < 0x80 && (unicode.IsLetter(rune(r)) || unicode.IsDigit(rune(r)))
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(s) && (s[j] != '\'' || j+1 < len(s) && s[j+1] == '\'') {
				if s[j] == '\'' {
					j++
				}
				j++
			}
			i = j + 1
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return toks
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return toks
			}
			i += j + 4
		case c == '"' || isWord(c) && !(c >= '0' && c <= '9'):
			j := i
			for j < len(s) {
				if s[j] == '"' {
					k := strings.IndexByte(s[j+1:], '"')
					if k < 0 {
						j = len(s)
						break
					}
					j += k + 2
				} else if isWord(s[j]) {
					j++
				} else {
					break
				}
				if j < len(s) && s[j] == '.' && j+1 < len(s) && (s[j+1] == '"' || isWord(s[j+1])) {
					j++
				}
			}
			toks = append(toks, sqlToken{offset: i, text: s[i:j], ident: true})
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			toks = append(toks, sqlToken{offset: i, text: s[i : i+1]})
			i++
		}
	}
	return toks
}

func TestSQLTables(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want []string
	}{
		{`SELECT seq FROM journal_head WHERE id = 1 FOR UPDATE`, []string{"journal_head"}},
		{`SELECT (SELECT count(*) FROM entries), (SELECT count(*) FROM postings)`, []string{"entries", "postings"}},
		{`SELECT p.x FROM postings p JOIN entries e ON e.seq = p.seq LEFT JOIN entries t ON t.id = e.completes`, []string{"postings", "entries", "entries"}},
		{`SELECT 1 FROM balances AS b, public.postings p, "entries"`, []string{"balances", "postings", "entries"}},
		{`INSERT INTO users (id) SELECT id FROM unnest($1::text[]) AS u(id)`, []string{"users", "unnest"}},
		{`UPDATE ONLY accruals SET x = 1`, []string{"accruals"}},
		{`LOCK TABLE journal_head IN SHARE ROW EXCLUSIVE MODE`, []string{"journal_head"}},
		{`LOCK journal_head`, []string{"journal_head"}},
		{`TRUNCATE trades`, []string{"trades"}},
		{`CREATE TABLE IF NOT EXISTS runner_log (attempt BIGINT REFERENCES runner_counter (id))`, []string{"runner_log", "runner_counter"}},
		{`delete from payout_lines where false`, []string{"payout_lines"}},
		{`SELECT 'FROM users' -- FROM trades` + "\n" + `/* JOIN accruals */ FROM x`, []string{"x"}},
		{`LOCK TABLE ? IN SHARE ROW EXCLUSIVE MODE`, nil},
		{`SELECT version()`, nil},
	} {
		var got []string
		for _, m := range sqlTables(c.sql) {
			got = append(got, m.table)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("sqlTables(%q) = %q, want %q", c.sql, got, c.want)
		}
	}
}

// The scan finds tables in raw and interpreted literals and in chains of
// literals, at the right lines.
func TestScanModuleLines(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\nvar a = `SELECT 1\n\tFROM entries`\nvar b = \"UPDATE users\" +\n\t\" SET x = 1\"\nvar c = \"LOCK TABLE \" + name + \" IN SHARE MODE\"\nvar d = f(\"FROM trades\" + g(\"INTO accruals\"))\n"
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "p_test.go"), []byte("package p\n\nvar t = `SELECT 1 FROM balances`\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refs, err := scanModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, fmt.Sprintf("%s %s:%d %s", r.pkg, r.file, r.line, r.table))
	}
	slices.Sort(got)
	want := []string{"p p/p.go:4 entries", "p p/p.go:5 users", "p p/p.go:8 accruals", "p p/p.go:8 trades"}
	if !slices.Equal(got, want) {
		t.Errorf("scanModule = %q, want %q", got, want)
	}
}
