package console

import (
	"fmt"
	"testing"
)

func TestOwns(t *testing.T) {
	c := &Console{}
	for path, want := range map[string]bool{
		"/": true, "/journal": true, "/journal/abc": true, "/trial-balance.csv": true, "/static/console.css": true,
		"/accounts/201:USDT:alice/statement.csv": true, "/v1/chart": false, "/healthz": false, "/metrics": false,
		"/openapi.yaml": false, "/journalx": false, "/v1": false,
	} {
		if got := c.owns(path); got != want {
			t.Errorf("owns(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/journal?kind=manual": "/journal?kind=manual", "": "/", "//evil.example/": "/", "https://evil.example/": "/",
		"/\\evil.example": "/", "journal": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBars: heights are proportional to the decimal amounts, computed
// without floats (0.1 + 0.2 style amounts scale exactly).
func TestBars(t *testing.T) {
	pts := []any{
		map[string]any{"start": "2026-01-02T00:00:00Z", "commission": "0.3"},
		map[string]any{"start": "2026-01-03T00:00:00Z", "commission": "0.15"},
		map[string]any{"start": "2026-01-04T00:00:00Z", "commission": "0"},
		map[string]any{"start": "2026-01-05T00:00:00Z", "commission": "-1"},
	}
	got := bars(pts, "start", "day")
	var hs []string
	for _, b := range got {
		hs = append(hs, fmt.Sprintf("%s:%s:%d", b.Label, b.Value, b.H))
	}
	if want := "[01-02:0.3:160 01-03:0.15:80 01-04:0:0 01-05:-1:0]"; fmt.Sprint(hs) != want {
		t.Errorf("bars = %v, want %s", hs, want)
	}
	if got := bars(pts[:1], "start", "month"); got[0].Label != "2026-01" {
		t.Errorf("month label = %q, want 2026-01", got[0].Label)
	}
}

func TestFormField(t *testing.T) {
	for _, c := range []struct {
		p    problem
		want string
	}{
		{problem{Detail: "levels[1]: levels: rate 1.5 is not between 0 and 1"}, "levels"},
		{problem{Fields: []string{"rate"}, Detail: "rate: bad"}, "rate"},
		{problem{Detail: "tiers[0].rate: bad"}, "extra"},
		{problem{Detail: "something else entirely"}, "extra"},
	} {
		if got := formField(&c.p); got != c.want {
			t.Errorf("formField(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}

// TestProgramSpec: the form's fields become the API's body; a malformed
// JSON of other settings or max levels is refused naming its field.
func TestProgramSpec(t *testing.T) {
	f := programForm{Kind: "levels", Levels: " 0.25, 0.10 ,", Default: true, MaxLevels: "3", Extra: `{"payout": {"schedule": "monthly"}}`}
	spec, field, msg := f.spec()
	if msg != "" || fmt.Sprint(spec) != "map[default:true kind:levels levels:[0.25 0.10] max_levels:3 payout:map[schedule:monthly]]" {
		t.Errorf("spec = %v, %q %q", spec, field, msg)
	}
	for _, bad := range []programForm{{Kind: "levels", Extra: "{"}, {Kind: "levels", MaxLevels: "x"}} {
		if _, field, msg := bad.spec(); msg == "" || field == "" {
			t.Errorf("spec of %+v accepted", bad)
		}
	}
}
