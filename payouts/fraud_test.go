package payouts

import (
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio/affiliate"
)

func dec(s string) apd.Decimal {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		panic(err)
	}
	return *d
}

// TestCheckFraud: each rule flags its case and only it, under the default
// thresholds, without a database.
func TestCheckFraud(t *testing.T) {
	rules, err := DefaultFraudRules().parse()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	verified := t0
	aff := func() *affiliate.User {
		return &affiliate.User{ID: "A", SignupIP: "10.0.0.1", DeviceID: "dev-a", TaxID: "T-1", KYCVerifiedAt: &verified}
	}
	ref := func(id, ip string, at time.Time) *affiliate.User {
		return &affiliate.User{ID: id, SignupIP: ip, RegisteredAt: at}
	}
	var farm []*affiliate.User
	for i := range 5 {
		farm = append(farm, ref(string(rune('a'+i)), "10.9.9.9", t0.Add(time.Duration(i)*time.Hour)))
	}
	reported := dec("700")
	tests := []struct {
		name string
		f    func() *lineFacts
		want []string
	}{
		{"clean", func() *lineFacts {
			return &lineFacts{Affiliate: aff(), Amount: dec("10"), Referees: []*affiliate.User{ref("B", "10.0.0.2", t0)}}
		}, nil},
		{"self-referral", func() *lineFacts {
			return &lineFacts{Affiliate: aff(), Amount: dec("10"), Referees: []*affiliate.User{ref("B", "10.0.0.1", t0)}}
		}, []string{FlagSelfReferral}},
		{"farm", func() *lineFacts { return &lineFacts{Affiliate: aff(), Amount: dec("10"), Referees: farm} }, []string{FlagFarm}},
		{"wash", func() *lineFacts {
			return &lineFacts{Affiliate: aff(), Amount: dec("10"), Counterparty: map[string][2]int64{"B": {10, 5}}}
		}, []string{FlagWash}},
		{"wash below the minimum of trades", func() *lineFacts {
			return &lineFacts{Affiliate: aff(), Amount: dec("10"), Counterparty: map[string][2]int64{"B": {9, 9}}}
		}, nil},
		{"kyc", func() *lineFacts {
			a := aff()
			a.KYCVerifiedAt = nil
			return &lineFacts{Affiliate: a, Amount: dec("10"), RequireKYC: true}
		}, []string{FlagKYC}},
		{"spike", func() *lineFacts {
			return &lineFacts{Affiliate: aff(), Amount: dec("51"), PaidLines: 3, PaidAverage: dec("10")}
		}, []string{FlagSpike}},
		{"tax id", func() *lineFacts {
			a := aff()
			a.TaxID = ""
			return &lineFacts{Affiliate: a, Amount: dec("10"), LineReported: &reported}
		}, []string{FlagTaxID}},
	}
	for _, tt := range tests {
		var got []string
		for _, fl := range checkFraud(rules, tt.f()) {
			got = append(got, fl.Rule)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: checkFraud = %v, want %v", tt.name, got, tt.want)
		}
	}
}
