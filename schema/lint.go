package schema

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// LintProblem is one construct CockroachDB (or our storage rules, docs/CONTRACT.md §7) rejects.
type LintProblem struct {
	File   string
	Line   int // 1-based
	Rule   string
	Detail string
}

func (p LintProblem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Rule, p.Detail)
}

// stmt is the start of a statement: the text start or just after a ';'.
const stmt = `(?:\A|;)\s*`

// lintRule flags every match of re. When skip is set, a match whose
// submatches make skip return true is allowed.
type lintRule struct {
	name   string
	re     *regexp.Regexp
	detail string
	skip   func(sub []string) bool
}

func rule(name, pattern, detail string) lintRule {
	return lintRule{name: name, re: regexp.MustCompile(`(?i)` + pattern), detail: detail}
}

func (r lintRule) unless(skip func(sub []string) bool) lintRule {
	r.skip = skip
	return r
}

// lintRules are the checks of LintSQL; their names are the Rule values of
// the problems reported.
var lintRules = []lintRule{
	rule("serial", `\b(?:small|big)?serial[248]?\b`,
		"SERIAL types differ between PostgreSQL (sequence) and CockroachDB (unique_rowid); use UUID DEFAULT gen_random_uuid()"),
	rule("sequence", `\bcreate\s+(?:temp(?:orary)?\s+)?sequence\b|\b(?:nextval|setval|currval)\s*\(`,
		"sequences are a contention point on CockroachDB; use UUID DEFAULT gen_random_uuid()"),
	rule("trigger", `\bcreate\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger\b`,
		"triggers are not portable to CockroachDB; enforce rules in the application or with constraints"),
	rule("function", `\bcreate\s+(?:or\s+replace\s+)?(?:function|procedure)\b|\blanguage\s+'?plpgsql\b`,
		"stored functions and procedures are not portable to CockroachDB"),
	rule("do-block", stmt+`do\b`,
		"DO blocks (anonymous PL/pgSQL) are not portable to CockroachDB"),
	rule("advisory-lock", `\b\w*advisory\w*\s*\(`,
		"advisory locks do not exist on CockroachDB; rely on SERIALIZABLE transactions"),
	rule("listen-notify", stmt+`(?:listen|unlisten|notify)\b|\bpg_notify\s*\(`,
		"LISTEN/NOTIFY is not supported by CockroachDB"),
	rule("deferrable", `\b(not\s+)?deferrable\b|\binitially\s+deferred\b`,
		"deferred constraint checking is not supported by CockroachDB").
		unless(func(sub []string) bool { return sub[1] != "" }),
	rule("int-type", `\b(?:int|integer|int2|int4|smallint)\b`,
		"INT is 32-bit on PostgreSQL but 64-bit on CockroachDB; use BIGINT"),
	rule("float-type", `\b(?:float[48]?|real|double\s+precision)\b`,
		"floating point cannot hold money or exact quantities; use NUMERIC(38,18)"),
	rule("money-type", `\bmoney\b`,
		"the MONEY type is locale-dependent and unsupported by CockroachDB; use NUMERIC(38,18)"),
	rule("identity", `\bas\s+identity\b`,
		"identity columns are sequence-backed; use UUID DEFAULT gen_random_uuid()"),
	rule("copy", stmt+`copy\b`,
		"COPY is not a portable migration statement; use INSERT"),
	rule("idempotency", `\bcreate\s+(?:(?:global|local)\s+)?(?:temp\s+|temporary\s+|unlogged\s+)?table\s+(if\s+not\s+exists\b)?`,
		"CREATE TABLE must say IF NOT EXISTS so that the migration can be rerun").
		unless(func(sub []string) bool { return sub[1] != "" }),
	rule("idempotency", `\bcreate\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(if\s+not\s+exists\b)?`,
		"CREATE INDEX must say IF NOT EXISTS so that the migration can be rerun").
		unless(func(sub []string) bool { return sub[1] != "" }),
	rule("idempotency", `\badd\s+(column\s+)?(if\s+not\s+exists\b)?\s*(\w+|")`,
		"ALTER TABLE ... ADD COLUMN must say IF NOT EXISTS so that the migration can be rerun").
		unless(func(sub []string) bool {
			if sub[2] != "" {
				return true
			}
			switch strings.ToLower(sub[3]) {
			case "constraint", "primary", "unique", "foreign", "check", "exclude", "value", "partition":
				return sub[1] == ""
			}
			return false
		}),
}

// LintSQL checks one migration file's SQL text against the rules
// CockroachDB and docs/CONTRACT.md §7 impose on migrations, ignoring comments, string
// literals, dollar-quoted bodies and quoted identifiers. The problems are
// ordered by line. file only labels the problems.
func LintSQL(file, sql string) []LintProblem {
	code := blankNonCode(sql)
	var problems []LintProblem
	for _, r := range lintRules {
		for _, m := range r.re.FindAllStringSubmatchIndex(code, -1) {
			sub := make([]string, len(m)/2)
			for i := range sub {
				if m[2*i] >= 0 {
					sub[i] = code[m[2*i]:m[2*i+1]]
				}
			}
			if r.skip != nil && r.skip(sub) {
				continue
			}
			start := m[0] + len(sub[0]) - len(strings.TrimLeft(sub[0], "; \t\r\n\f\v"))
			problems = append(problems, LintProblem{
				File:   file,
				Line:   1 + strings.Count(code[:start], "\n"),
				Rule:   r.name,
				Detail: fmt.Sprintf("%s (found %q)", r.detail, strings.Join(strings.Fields(code[start:m[1]]), " ")),
			})
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return problems
}

// blankNonCode returns sql with comments and the contents of string
// literals, quoted identifiers and dollar-quoted bodies replaced by spaces,
// keeping quotes, dollar tags and newlines so that offsets and lines match.
func blankNonCode(sql string) string {
	b := []byte(sql)
	blank := func(from, to int) {
		for i := from; i < to && i < len(b); i++ {
			if b[i] != '\n' {
				b[i] = ' '
			}
		}
	}
	for i := 0; i < len(b); {
		switch {
		case strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				end = len(sql) - i
			}
			blank(i, i+end)
			i += end
		case strings.HasPrefix(sql[i:], "/*"):
			depth, j := 0, i
			for j < len(sql) {
				if strings.HasPrefix(sql[j:], "/*") {
					depth, j = depth+1, j+2
				} else if strings.HasPrefix(sql[j:], "*/") {
					depth, j = depth-1, j+2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			blank(i, j)
			i = j
		case sql[i] == '\'' || sql[i] == '"':
			q := sql[i]
			escapes := q == '\'' && i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i < 2 || !isWordByte(sql[i-2]))
			j := i + 1
			for j < len(sql) {
				if escapes && sql[j] == '\\' {
					j += 2
					continue
				}
				if sql[j] == q {
					if j+1 < len(sql) && sql[j+1] == q {
						j += 2
						continue
					}
					break
				}
				j++
			}
			blank(i+1, j)
			i = j + 1
		case sql[i] == '$':
			tag := dollarTag.FindString(sql[i:])
			if tag == "" || (i > 0 && isWordByte(sql[i-1])) {
				i++
				continue
			}
			end := strings.Index(sql[i+len(tag):], tag)
			if end < 0 {
				end = len(sql) - i - len(tag)
			}
			blank(i+len(tag), i+len(tag)+end)
			i += 2*len(tag) + end
		default:
			i++
		}
	}
	return string(b)
}

var dollarTag = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$`)

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
