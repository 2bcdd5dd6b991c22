package affiliate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// TestPageReferralsCoversEachOnce: paging a referral list by any limit, in
// each order, lists every referral exactly once and in the order of the
// whole list — through ties of the order figure and of the registration
// time, which the cursor (no ids) crosses by count.
func TestPageReferralsCoversEachOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 4))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 30 {
		n := rng.IntN(25)
		all := make([]Referral, n)
		for i := range all {
			all[i] = Referral{User: &User{ID: fmt.Sprintf("u%02d", i), RegisteredAt: base.Add(time.Duration(rng.IntN(4)) * time.Hour)}}
			all[i].Commission = *apd.New(int64(rng.IntN(3)*25), -1) // 0, 2.5, 5.0: ties
			all[i].Volume = *apd.New(int64(rng.IntN(2)), 0)
		}
		for _, order := range ReferralOrders {
			want := slices.Clone(all)
			sortReferrals(want, order)
			for limit := 1; limit <= n+1; limit++ {
				var got []string
				var after *ReferralCursor
				for page := 0; page <= n+1; page++ {
					refs, next := pageReferrals(slices.Clone(all), order, after, limit)
					for _, r := range refs {
						got = append(got, r.User.ID)
					}
					if next == nil {
						break
					}
					if len(refs) != limit {
						t.Fatalf("round %d, %s, limit %d: a page of %d with a next cursor", round, order, limit, len(refs))
					}
					after = next
				}
				var ids []string
				for _, r := range want {
					ids = append(ids, r.User.ID)
				}
				if !slices.Equal(got, ids) {
					t.Fatalf("round %d, %s, limit %d: paged %v, want %v", round, order, limit, got, ids)
				}
			}
		}
	}
}

// TestSortReferralsLargestFirst pins each order: the figure largest
// first, then the newest registration, then the id.
func TestSortReferralsLargestFirst(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	mk := func(id string, h int, com, vol int64) Referral {
		return Referral{User: &User{ID: id, RegisteredAt: at(h)}, Commission: *apd.New(com, 0), Volume: *apd.New(vol, 0)}
	}
	refs := []Referral{mk("a", 1, 5, 100), mk("b", 2, 5, 300), mk("c", 2, 9, 100), mk("d", 3, 0, 200), mk("e", 2, 5, 300)}
	for order, want := range map[string][]string{
		ReferralsByRegistration: {"d", "b", "c", "e", "a"},
		ReferralsByCommission:   {"c", "b", "e", "a", "d"},
		ReferralsByVolume:       {"b", "e", "d", "c", "a"},
	} {
		got := slices.Clone(refs)
		sortReferrals(got, order)
		var ids []string
		for _, r := range got {
			ids = append(ids, r.User.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("sortReferrals(%s) = %v, want %v", order, ids, want)
		}
	}
}
