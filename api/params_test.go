package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
)

// TestEveryRouteRefusesUnknownQueryParameters walks the server's route
// table (issue 15, item 4): on every route, with a key the route admits and
// plausible path parameters, a parameter the route does not declare, a
// declared parameter given twice and a query string that does not parse
// are 400 invalid_request naming the parameter, before the handler runs:
// nothing is written (journal, configuration, affiliate and payout tables).
func TestEveryRouteRefusesUnknownQueryParameters(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("alice>")
	state := func() string {
		var payouts string
		err := e.db.Admin.QueryRow(context.Background(), `SELECT concat_ws(' ', (SELECT count(*) FROM payout_batches)::text,
			(SELECT count(*) FROM payout_lines)::text, (SELECT count(*) FROM payout_outbox)::text)`).Scan(&payouts)
		if err != nil {
			t.Fatalf("payout snapshot: %v", err)
		}
		return e.snapshot() + "\n" + e.affiliateSnapshot() + "\n" + payouts
	}
	before := state()
	if len(e.srv.routes) < 50 {
		t.Fatalf("the route table has %d routes", len(e.srv.routes))
	}
	for _, rt := range e.srv.routes {
		path := fillPath(rt.Pattern, rt.Access, "alice")
		type qcase struct{ query, field, detail string }
		cases := []qcase{
			{"bogus=1", "bogus", "unknown query parameter bogus; this route takes: "},
			{"bogus=", "bogus", "unknown query parameter bogus"},
			{"bogus", "bogus", "unknown query parameter bogus"},
			{"a=%zz", "", "does not parse"},
		}
		if len(rt.Params) > 0 {
			p := rt.Params[0]
			cases = append(cases, qcase{p + "=1&" + p + "=2", p, "given 2 times"},
				qcase{p + "=1&colour=1", "colour", "this route takes: " + strings.Join(rt.Params, ", ")})
		} else {
			cases = append(cases, qcase{"colour=1", "colour", "this route takes: none"})
		}
		for _, c := range cases {
			res := e.do(req{Method: rt.Method, Path: path + "?" + c.query, Key: bootstrapKey})
			var p problem
			if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusBadRequest || p.Code != folio.EINVALID ||
				(c.field != "" && !slices.Equal(p.Fields, []string{c.field})) || !strings.Contains(p.Detail, c.detail) {
				t.Errorf("%s %s?%s = %d %s, want 400 invalid_request naming %q with %q", rt.Method, path, c.query, res.Status, res.Body, c.field, c.detail)
			}
		}
	}
	if after := state(); after != before {
		t.Errorf("a refused request wrote:\nbefore %s\nafter  %s", before, after)
	}
}

// TestDeclaredQueryParametersAreRead checks the declarations themselves:
// each route's parameters are sorted, distinct and none is a path
// parameter, and every declared parameter of a GET route is read by its
// handler, shown by an invalid value the handler refuses naming it.
func TestDeclaredQueryParametersAreRead(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	e.putProgram("broker", map[string]any{"kind": "levels", "levels": []string{"0.25"}, "default": true})
	e.tree("alice>")
	invalid := map[string]string{
		"account":         "nonsense",
		"action":          strings.Repeat("a", 201),
		"after":           "not-a-cursor",
		"as_of":           "tomorrow",
		"as_of_effective": "tomorrow",
		"as_of_seq":       "x",
		"basis":           "sideways",
		"batch_id":        strings.Repeat("b", ledger.MaxBatchIDLength+1),
		"code":            "AB'C",
		"country":         "Germany",
		"level":           "16",
		"milestone":       "signup",
		"milestone_from":  "March",
		"milestone_to":    "March",
		"order":           "fees",
		"product":         "Spot Trading",
		"vip_level":       "-1",
		"q":               strings.Repeat("q", 65),
		"registered_from": "March",
		"registered_to":   "March",
		"currency":        "usd!",
		"entry":           "not-a-uuid",
		"cursor":          "bad",
		"format":          "xml",
		"from":            "March",
		"from_seq":        "0",
		"group_by":        "password",
		"interval":        "fortnight",
		"kind":            strings.Repeat("k", 33),
		"limit":           "0",
		"object":          strings.Repeat("o", 201),
		"period":          "2026-13",
		"over_threshold":  "maybe",
		"size":            "-1",
		"source":          "x",
		"to":              "March",
		"to_seq":          "0",
		"trade_id":        strings.Repeat("t", 129),
		"types":           "unknown",
		"year":            "1066",
	}
	pathParam := regexp.MustCompile(`\{([a-z_]+)\}`)
	declared := 0
	for _, rt := range e.srv.routes {
		if !slices.IsSorted(rt.Params) || len(slices.Compact(slices.Clone(rt.Params))) != len(rt.Params) {
			t.Errorf("%s %s: query parameters %v are not sorted and distinct", rt.Method, rt.Pattern, rt.Params)
		}
		for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
			if slices.Contains(rt.Params, m[1]) {
				t.Errorf("%s %s declares its path parameter %s as a query parameter", rt.Method, rt.Pattern, m[1])
			}
		}
		if len(rt.Params) > 0 && rt.Method != http.MethodGet {
			t.Errorf("%s %s declares query parameters %v: only GET routes read any", rt.Method, rt.Pattern, rt.Params)
		}
		path := strings.Replace(fillPath(rt.Pattern, rt.Access, "alice"), "/payouts/batches/00000000-0000-4000-8000-000000000000",
			"/payouts/batches/pb_"+strings.Repeat("0", 32), 1)
		for _, name := range rt.Params {
			declared++
			v, ok := invalid[name]
			if !ok {
				t.Errorf("%s %s declares %s: give it an invalid value in this test", rt.Method, rt.Pattern, name)
				continue
			}
			q := url.Values{name: {v}}
			res := e.do(req{Method: rt.Method, Path: path + "?" + q.Encode(), Key: bootstrapKey})
			var p problem
			if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != http.StatusBadRequest || p.Code != folio.EINVALID ||
				!slices.Contains(p.Fields, name) && !strings.Contains(p.Detail, name) {
				t.Errorf("%s %s?%s=%s = %d %s, want 400 invalid_request naming %s: is it read?", rt.Method, rt.Pattern, name, truncate(v, 20), res.Status, truncate(string(res.Body), 300), name)
			}
		}
	}
	if declared < 40 {
		t.Errorf("%d declared query parameters, want at least 40", declared)
	}
}

// TestOpenAPIQueryParametersMatchRoutes keeps openapi.yaml's query
// parameters (inline or $ref'd from components) equal to each route's
// declaration.
func TestOpenAPIQueryParametersMatchRoutes(t *testing.T) {
	e := newEnv(t)
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPISpec, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	query := func(node yaml.Node) []string {
		var ps []param
		if node.Kind == yaml.SequenceNode { // the path's own parameters
			if err := node.Decode(&ps); err != nil {
				t.Fatalf("openapi.yaml parameters: %v", err)
			}
		} else if node.Kind == yaml.MappingNode {
			var op struct {
				Parameters []param `yaml:"parameters"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("openapi.yaml parameters: %v", err)
			}
			ps = op.Parameters
		}
		var out []string
		for _, p := range ps {
			if p.Ref != "" {
				p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			}
			if p.In == "query" {
				out = append(out, p.Name)
			}
		}
		return out
	}
	for _, rt := range e.srv.routes {
		item := doc.Paths[rt.Pattern]
		got := append(query(item["parameters"]), query(item[strings.ToLower(rt.Method)])...)
		slices.Sort(got)
		if !slices.Equal(got, rt.Params) && (len(got) > 0 || len(rt.Params) > 0) {
			t.Errorf("%s %s: openapi.yaml documents query parameters %v, the route takes %v", rt.Method, rt.Pattern, got, rt.Params)
		}
	}
}
