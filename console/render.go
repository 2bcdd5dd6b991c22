package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// page is what every template receives.
type page struct {
	Title string
	Who   *Identity
	CSRF  string
	Path  string
	Query url.Values
	Nav   []navItem
	Data  any
}

type navItem struct {
	Label, Href, Key string // Key: the access key (Alt+Key in most browsers)
}

// nav lists the sections the role may open; the API refuses the rest.
func nav(who *Identity) []navItem {
	if who == nil {
		return nil
	}
	switch who.Role {
	case "admin", "auditor":
		return []navItem{{"Journal", "/journal", "j"}, {"Verify", "/verify", "v"}, {"Accounts", "/accounts", "a"},
			{"Trial balance", "/trial-balance", "t"}, {"Reconciliation", "/reconciliation", "r"},
			{"Payouts", "/payouts", "p"}, {"Affiliates", "/affiliates", "f"}, {"Programs", "/programs", "g"}}
	case "affiliate":
		h := url.PathEscape(who.Holder)
		return []navItem{{"My network", "/affiliates/" + h, "n"}, {"Dashboard", "/affiliates/" + h + "/dashboard", "d"}}
	}
	return nil
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// render writes the page name with data inside the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := page{Title: title, Path: r.URL.Path, Query: r.URL.Query(), Data: data}
	if s := sessionFrom(r); s != nil {
		who := s.who
		p.Who, p.CSRF, p.Nav = &who, s.csrf, nav(&who)
	} else if s := c.lookup(r); s != nil && name == "error" {
		who := s.who
		p.Who, p.CSRF, p.Nav = &who, s.csrf, nav(&who)
	}
	var b bytes.Buffer
	t, ok := c.pages[name]
	if !ok {
		c.log.Error("console: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.Execute(&b, p); err != nil {
		c.log.Error("console: render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

var funcs = template.FuncMap{
	// str renders a JSON value as the API gave it ("" for null).
	"str": str,
	// short abbreviates ids and hashes.
	"short": func(v any) string {
		s := str(v)
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	// when renders an RFC 3339 time for reading: date and time, UTC.
	"when": func(v any) string {
		s := str(v)
		s = strings.Replace(s, "T", " ", 1)
		if i := strings.IndexByte(s, '.'); i > 0 && strings.HasSuffix(s, "Z") {
			s = s[:i] + "Z"
		}
		return strings.TrimSuffix(s, "Z")
	},
	// day is the date part of a time, for date inputs.
	"day": func(v any) string {
		s := str(v)
		if len(s) >= 10 {
			return s[:10]
		}
		return s
	},
	"pathesc": func(v any) string { return url.PathEscape(str(v)) },
	"pretty": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return str(v)
		}
		return string(b)
	},
	// link returns the current path with the query q changed by pairs of
	// name, value ("" drops the name): links that keep the page's filters.
	"link": func(p string, q url.Values, kv ...string) string {
		out := url.Values{}
		for k, v := range q {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				out.Del(kv[i])
			} else {
				out.Set(kv[i], kv[i+1])
			}
		}
		if len(out) == 0 {
			return p
		}
		return p + "?" + out.Encode()
	},
	"list": func(v any) []any {
		l, _ := v.([]any)
		return l
	},
	"obj": func(v any) map[string]any {
		m, _ := v.(map[string]any)
		return m
	},
	"neg": func(v any) bool { return strings.HasPrefix(str(v), "-") },
	"zero": func(v any) bool {
		s := strings.TrimLeft(str(v), "-0.")
		return s == ""
	},
	// cur is the currency of an account key (code:CURRENCY[:holder]).
	"cur": func(v any) string {
		parts := strings.SplitN(str(v), ":", 3)
		if len(parts) < 2 {
			return ""
		}
		return parts[1]
	},
	"barsWidth": func(n int) int { return 16 + n*44 },
	// fieldOf pairs a form with one of its fields for the field templates.
	"fieldOf": func(f programForm, name, label string) map[string]any {
		return map[string]any{"Form": f, "Name": name, "Label": label}
	},
	"contains": func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	},
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}
