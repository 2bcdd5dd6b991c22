package affiliate_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/affiliate"
)

// Every configuration change — programs, differential rates with their
// clamps, kickback overrides, referrers, codes, revenue shares, program
// assignments, FX rates and fee schedules — is in the audit log with
// actor, time, before and after (docs/CONTRACT.md §2.1, §2.2).
func TestConfigurationAudit(t *testing.T) {
	f := newFixture(t)
	base := f.now
	f.user(t, "R", "")
	f.user(t, "X", "")

	// record is one audit record a step must write; a nil before/after map
	// means the document is null, a field "null" a JSON null.
	type record struct {
		action, object string
		before, after  map[string]string
	}
	steps := []struct {
		name string
		do   func(actor string) error
		want []record
	}{
		{"create a program", func(a string) error {
			_, err := f.svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.25"}, Default: true}, a)
			return err
		}, []record{{"program.put", "program:broker", nil, map[string]string{"kind": "levels", "levels": `["0.25"]`, "default": "true"}}}},
		{"change a program", func(a string) error {
			_, err := f.svc.PutProgram(ctx, "broker", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.30"}, Default: true}, a)
			return err
		}, []record{{"program.put", "program:broker", map[string]string{"levels": `["0.25"]`}, map[string]string{"levels": `["0.30"]`}}}},
		{"move the default", func(a string) error {
			_, err := f.svc.PutProgram(ctx, "orderly", affiliate.ProgramSpec{Kind: "differential", MinPassDown: "0.10", Default: true}, a)
			return err
		}, []record{
			{"program.default", "program:broker", map[string]string{"default": "true"}, map[string]string{"default": "false"}},
			{"program.put", "program:orderly", nil, map[string]string{"kind": "differential", "min_pass_down": "0.10"}},
		}},
		{"set a root rate", func(a string) error { return f.svc.SetRate(ctx, "R", d("0.50"), a) },
			[]record{{"user.rate", "user:R", map[string]string{"rate": "null"}, map[string]string{"rate": "0.5"}}}},
		{"create a code", func(a string) error {
			_, err := f.svc.CreateCode(ctx, "R", affiliate.NewCode{Code: "RRRRRR", Rate: dp("0.40"), Note: "blog"}, a)
			return err
		}, []record{{"code.create", "code:RRRRRR", nil, map[string]string{"owner": "R", "rate": "0.4", "note": "blog"}}}},
		{"a referee joins", func(string) error {
			_, _, err := f.svc.CreateUser(ctx, affiliate.NewUser{ID: "A", ReferralCode: "RRRRRR"})
			return err
		}, nil},
		{"decrease with clamps", func(a string) error { return f.svc.SetRate(ctx, "R", d("0.30"), a) }, []record{
			{"user.rate", "user:R", map[string]string{"rate": "0.5"}, map[string]string{"rate": "0.3"}},
			{"code.rate.clamp", "code:RRRRRR", map[string]string{"rate": "0.4"}, map[string]string{"rate": "0.3"}},
			{"user.rate.clamp", "user:A", map[string]string{"rate": "0.4"}, map[string]string{"rate": "0.3"}},
		}},
		{"kickback override", func(a string) error { return f.svc.SetKickbackRate(ctx, "A", dp("0.2"), a) },
			[]record{{"user.kickback_rate", "user:A", map[string]string{"rate": "null"}, map[string]string{"rate": "0.2"}}}},
		{"clear the override", func(a string) error { return f.svc.SetKickbackRate(ctx, "A", nil, a) },
			[]record{{"user.kickback_rate", "user:A", map[string]string{"rate": "0.2"}, map[string]string{"rate": "null"}}}},
		{"re-parent", func(a string) error { return f.svc.SetReferrer(ctx, "A", "X", a) },
			[]record{{"user.referrer", "user:A", map[string]string{"referrer": "R"}, map[string]string{"referrer": "X"}}}},
		{"assign a program", func(a string) error { return f.svc.AssignProgram(ctx, "A", "broker", a) },
			[]record{{"user.program", "user:A", map[string]string{"program": ""}, map[string]string{"program": "broker"}}}},
		{"put an FX rate", func(a string) error { return f.svc.PutRate(ctx, "USDT", "USD", "oracle", d("0.999"), base, a) },
			[]record{{"fx.put", "fx:USDT/USD", nil, map[string]string{"source": "oracle", "rate": "0.999"}}}},
		{"correct an FX rate", func(a string) error { return f.svc.PutRate(ctx, "USDT", "USD", "oracle", d("0.998"), base, a) },
			[]record{{"fx.put", "fx:USDT/USD", map[string]string{"rate": "0.999"}, map[string]string{"rate": "0.998"}}}},
		{"put a fee rate", func(a string) error {
			return f.svc.PutFeeRate(ctx, affiliate.FeeRate{Market: "BTCUSDT", Maker: d("0.001"), Taker: d("0.002")}, a)
		}, []record{{"fees.put", "fees:/BTCUSDT", nil, map[string]string{"maker": "0.001", "taker": "0.002"}}}},
		{"change a fee rate", func(a string) error {
			return f.svc.PutFeeRate(ctx, affiliate.FeeRate{Market: "BTCUSDT", Maker: d("0.0005"), Taker: d("0.002")}, a)
		}, []record{{"fees.put", "fees:/BTCUSDT", map[string]string{"maker": "0.001"}, map[string]string{"maker": "0.0005"}}}},
	}
	for i, s := range steps {
		at := base.Add(time.Duration(i+1) * time.Minute)
		f.now = at
		actor := fmt.Sprintf("op-%d", i)
		if err := s.do(actor); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for _, w := range s.want {
			recs, err := accounts.ListAudit(ctx, f.db.Admin, accounts.AuditFilter{Object: w.object, Action: w.action, AfterAt: at.Add(-time.Microsecond), Limit: 10})
			must(t, "ListAudit", err)
			if len(recs) != 1 {
				t.Errorf("%s: %d %s records of %s at %v, want 1", s.name, len(recs), w.action, w.object, at)
				continue
			}
			r := recs[0]
			if r.Actor != actor || !r.At.Equal(at) {
				t.Errorf("%s: %s by %q at %v, want by %q at %v", s.name, w.action, r.Actor, r.At, actor, at)
			}
			checkDoc(t, s.name+" "+w.action+" before", r.Before, w.before)
			checkDoc(t, s.name+" "+w.action+" after", r.After, w.after)
		}
	}

	// Revenue-share tables are lists: before and after hold every line.
	f.now = base.Add(time.Hour)
	must(t, "SetRevenueShare", f.svc.SetRevenueShare(ctx, "A", []affiliate.TableShare{{Beneficiary: "X", Share: d("0.1")}}, "op-rs"))
	f.now = base.Add(time.Hour + time.Second)
	must(t, "SetRevenueShare", f.svc.SetRevenueShare(ctx, "A", []affiliate.TableShare{{Beneficiary: "R", Share: d("0.2")}, {Beneficiary: "X", Share: d("0.05")}}, "op-rs"))
	recs := f.audit(t, "user:A")
	var got []string
	for _, r := range recs {
		if r.Action == "user.revenue_share" && r.Actor == "op-rs" {
			got = append(got, string(compactJSON(t, r.Before))+" → "+string(compactJSON(t, r.After)))
		}
	}
	want := []string{
		`[] → [{"beneficiary":"X","share":"0.1"}]`,
		`[{"beneficiary":"X","share":"0.1"}] → [{"beneficiary":"R","share":"0.2"},{"beneficiary":"X","share":"0.05"}]`,
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("revenue-share audit = %q, want %q", got, want)
	}

	// Refused changes leave no record.
	n := f.count(t, `SELECT count(*) FROM audit_log`)
	_ = f.svc.SetRate(ctx, "A", d("0.9"), "op-bad")
	_ = f.svc.SetReferrer(ctx, "X", "A", "op-bad")
	_, _ = f.svc.PutProgram(ctx, "bad", affiliate.ProgramSpec{Kind: "levels", Levels: []string{"0.9", "0.9"}}, "op-bad")
	if got := f.count(t, `SELECT count(*) FROM audit_log`); got != n {
		t.Errorf("audit records after refused changes = %d, want %d", got, n)
	}
}

// checkDoc compares fields of an audit document; want nil means the
// document is null.
func checkDoc(t *testing.T, what string, raw json.RawMessage, want map[string]string) {
	t.Helper()
	if want == nil {
		if len(raw) != 0 && string(raw) != "null" {
			t.Errorf("%s = %s, want null", what, raw)
		}
		return
	}
	if len(raw) == 0 {
		t.Errorf("%s is null, want %v", what, want)
		return
	}
	for k, v := range want {
		if got := jsonField(t, raw, k); got != v {
			t.Errorf("%s.%s = %s, want %s (document %s)", what, k, got, v, raw)
		}
	}
}

func compactJSON(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("audit document %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return b
}
