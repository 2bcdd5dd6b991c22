package affiliate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Referral is one referee of an affiliate (at Level in its tree) with its
// milestones and what it generated for the affiliate (reporting currency,
// from the rollups).
type Referral struct {
	User       *User
	Level      int
	Volume     apd.Decimal
	Commission apd.Decimal
	Trades     int64
	// Kickback is the share of the trading fee the code the referee joined
	// with returns to it (kickback programs), while the code's owner still
	// refers it; nil: none.
	Kickback *apd.Decimal
	// Note is the affiliate's private note on the referee (ReferralQuery.Notes).
	Note string
	// Unpriced is, per accrual currency, the commission (and fees) whose
	// reporting-currency amount is not known yet: Commission counts it 0
	// (ListReferrals fills it for the page).
	Unpriced []UnpricedAmount
	// Products are the product lines the referee traded, ever, sorted
	// (User.VIPLevel is its VIP level).
	Products []string
}

// CommissionType is "shared" when the referee gets a kickback (> 0) from
// its code — the commission is shared with it — and "rebate" when the
// referrer keeps the whole commission.
func (r *Referral) CommissionType() string {
	if r.Kickback != nil && r.Kickback.Sign() > 0 {
		return "shared"
	}
	return "rebate"
}

// Orders of the referral list; each lists the largest first.
const (
	ReferralsByRegistration = "registered_at"
	ReferralsByCommission   = "commission"
	ReferralsByVolume       = "volume"
)

// ReferralOrders are the orders ListReferrals takes.
var ReferralOrders = []string{ReferralsByRegistration, ReferralsByCommission, ReferralsByVolume}

// Milestones are the lifecycle milestones the referral list filters on.
var Milestones = []string{"kyc_verified", "first_deposit", "first_trade"}

// ReferralQuery selects and orders an affiliate's referral list. Time
// ranges are [from, to); zero bounds are open.
type ReferralQuery struct {
	Affiliate string
	// Level: 1 the direct referees, 2 theirs, …, up to DefaultMaxLevels;
	// 0 every level.
	Level                        int
	Country                      string
	Code                         string // the code the referee joined with
	RegisteredFrom, RegisteredTo time.Time
	Milestone                    string // one of Milestones, with its range
	MilestoneFrom, MilestoneTo   time.Time
	VIPLevel                     *int   // the referee's current VIP level; nil: any
	Product                      string // a product line the referee traded, ever
	// Q matches a referee id (by prefix, or whole when QExactID) or, with
	// Notes, a substring of the note (case-insensitive).
	Q        string
	QExactID bool
	Notes    bool   // read the affiliate's notes (and search them with Q)
	Order    string // one of ReferralOrders; "" is registered_at
	After    *ReferralCursor
	Limit    int
}

// ReferralCursor is a position in a referral list that names no referee:
// the order figure and registration time of the last referee listed and
// how many referees with exactly those two values were listed so far.
type ReferralCursor struct {
	Key string // ledger.Format of the figure; RFC 3339 of registered_at
	At  time.Time
	N   int
}

// maxReferralList bounds the referees one referral list reads: the list is
// filtered and ordered in memory, so its cost grows with the affiliate's
// tree; a larger tree must narrow it (level, dates, code, country).
const maxReferralList = 100_000

// ListReferrals answers an affiliate's referral list: the referees that
// match q in q.Order, largest first — ties by registration time, newest
// first, then by id — after q.After, at most q.Limit, and the cursor of
// the last one listed. Figures (volume, commission, trades) are what each
// referee generated for the affiliate, ever. The referees are read level
// by level (one query per level), filtered by SQL, searched, given their
// figures and ordered in memory: one page costs the affiliate's matching
// referees, at most maxReferralList.
func (s *Service) ListReferrals(ctx context.Context, q ReferralQuery) ([]Referral, *ReferralCursor, error) {
	if q.Order == "" {
		q.Order = ReferralsByRegistration
	}
	if !slices.Contains(ReferralOrders, q.Order) {
		return nil, nil, folio.Errorf(folio.EINVALID, "order must be one of %s", strings.Join(ReferralOrders, ", "))
	}
	if q.Milestone != "" && !slices.Contains(Milestones, q.Milestone) {
		return nil, nil, folio.Errorf(folio.EINVALID, "milestone must be one of %s", strings.Join(Milestones, ", "))
	}
	if q.Level < 0 || q.Level > DefaultMaxLevels {
		return nil, nil, folio.Errorf(folio.EINVALID, "level must be 1 to %d", DefaultMaxLevels)
	}
	if q.VIPLevel != nil && (*q.VIPLevel < 0 || *q.VIPLevel > MaxVIPLevel) {
		return nil, nil, folio.Errorf(folio.EINVALID, "vip_level must be between 0 and %d", MaxVIPLevel)
	}
	if q.Product != "" && !ValidProduct(q.Product) {
		return nil, nil, folio.Errorf(folio.EINVALID, "product %q is not a product identifier", q.Product)
	}
	var out []Referral
	var next *ReferralCursor
	err := s.DB.ReadTx(ctx, func(tx pgx.Tx) error {
		if _, err := getUser(ctx, tx, q.Affiliate, false); err != nil {
			return err
		}
		var refs []Referral
		if q.Level == 1 && q.Order == ReferralsByRegistration && q.Q == "" {
			// The dashboard's default: direct referees, newest first, no
			// search. SQL reads the page (and the cursor's group), not the
			// whole list.
			users, err := queryUsers(ctx, tx, &q, "referrer_id = $1", q.Affiliate, q.After, q.Limit)
			if err != nil {
				return err
			}
			for _, u := range users {
				refs = append(refs, Referral{User: u, Level: 1})
			}
			refs, next = pageReferrals(refs, q.Order, q.After, q.Limit)
			if q.Notes {
				if err := addNotes(ctx, tx, q.Affiliate, refs); err != nil {
					return err
				}
			}
		} else {
			levels, err := treeLevels(ctx, tx, q.Affiliate, q.Level)
			if err != nil {
				return err
			}
			ids := make([]string, 0, len(levels))
			for id := range levels {
				ids = append(ids, id)
			}
			users, err := queryUsers(ctx, tx, &q, "id = ANY($1)", ids, nil, 0)
			if err != nil {
				return err
			}
			var notes map[string]string
			if q.Notes {
				if notes, err = referralNotes(ctx, tx, q.Affiliate, ids); err != nil {
					return err
				}
			}
			for _, u := range users {
				r := Referral{User: u, Level: levels[u.ID], Note: notes[u.ID]}
				if q.Q != "" && !matchesQ(&q, &r) {
					continue
				}
				refs = append(refs, r)
			}
			if q.Order != ReferralsByRegistration {
				// Every match needs its figures to be ordered.
				if err := addFigures(ctx, tx, q.Affiliate, refs); err != nil {
					return err
				}
			}
			refs, next = pageReferrals(refs, q.Order, q.After, q.Limit)
		}
		if q.Order == ReferralsByRegistration {
			if err := addFigures(ctx, tx, q.Affiliate, refs); err != nil {
				return err
			}
		}
		if err := addKickbacks(ctx, tx, refs); err != nil {
			return err
		}
		if err := addUnpriced(ctx, tx, q.Affiliate, refs); err != nil {
			return err
		}
		if err := addProducts(ctx, tx, refs); err != nil {
			return err
		}
		out = refs
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// pageReferrals orders refs (sortReferrals) and returns the page after
// the cursor after (nil: the first), at most limit referrals, and the
// cursor of the next page (nil: none). It never names a referee: groups of
// referrals with the same (order figure, registration time) are skipped by
// count, in id order.
func pageReferrals(refs []Referral, order string, after *ReferralCursor, limit int) ([]Referral, *ReferralCursor) {
	sortReferrals(refs, order)
	start := 0
	if after != nil {
		start = len(refs)
		skipped := 0
		for i := range refs {
			c := cmpCursor(&refs[i], order, after)
			if c < 0 {
				continue
			}
			if c == 0 && skipped < after.N {
				skipped++
				continue
			}
			start = i
			break
		}
	}
	refs = refs[start:]
	if len(refs) <= limit {
		return refs, nil
	}
	refs = refs[:limit]
	last := &refs[len(refs)-1]
	next := &ReferralCursor{Key: orderKey(last, order), At: last.User.RegisteredAt}
	// Referrals listed so far with the last one's (key, at): those on this
	// page, plus those skipped at the cursor when they are the same group.
	for j := len(refs) - 1; j >= 0 && orderKey(&refs[j], order) == next.Key && refs[j].User.RegisteredAt.Equal(next.At); j-- {
		next.N++
	}
	if after != nil && after.Key == next.Key && after.At.Equal(next.At) {
		next.N += after.N
	}
	return refs, next
}

// treeLevels returns the users of affiliate's tree with their level: the
// given level only, or every level down to DefaultMaxLevels (level 0).
func treeLevels(ctx context.Context, tx pgx.Tx, affiliateID string, level int) (map[string]int, error) {
	out := map[string]int{}
	deepest := level
	if level == 0 {
		deepest = DefaultMaxLevels
	}
	frontier := []string{affiliateID}
	seen := map[string]bool{affiliateID: true}
	for l := 1; l <= deepest && len(frontier) > 0; l++ {
		rows, err := tx.Query(ctx, `SELECT id FROM users WHERE referrer_id = ANY($1)`, frontier)
		if err != nil {
			return nil, err
		}
		next, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		frontier = frontier[:0]
		for _, id := range next {
			if seen[id] {
				continue
			}
			seen[id] = true
			frontier = append(frontier, id)
			if level == 0 || l == level {
				out[id] = l
			}
		}
		if len(seen) > maxReferralList {
			return nil, folio.Errorf(folio.EINVALID, "affiliate %s has more than %d referees; narrow the list with level", affiliateID, maxReferralList)
		}
	}
	return out, nil
}

// queryUsers loads the users matching base (over $1 = arg) that pass q's
// filters on the users table (country, code, registration and milestone
// ranges). With limit > 0 it reads one page in registration order, newest
// first: the referees registered at or before the cursor's time (all of
// them without one), at most the cursor's count plus limit plus one — what
// pageReferrals needs to skip the cursor's group, fill the page and see a
// next one.
func queryUsers(ctx context.Context, tx pgx.Tx, q *ReferralQuery, base string, arg any, after *ReferralCursor, limit int) ([]*User, error) {
	if ids, ok := arg.([]string); ok && len(ids) == 0 {
		return nil, nil
	}
	where := []string{base}
	args := []any{arg}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Country != "" {
		add("country = $%d", q.Country)
	}
	if q.Code != "" {
		add("referral_code = $%d", NormalizeCode(q.Code))
	}
	if !q.RegisteredFrom.IsZero() {
		add("registered_at >= $%d", q.RegisteredFrom)
	}
	if !q.RegisteredTo.IsZero() {
		add("registered_at < $%d", q.RegisteredTo)
	}
	if q.VIPLevel != nil {
		add("vip_level = $%d", *q.VIPLevel)
	}
	if q.Product != "" {
		// trades_user (user_id, executed_at) finds a referee's trades.
		add("EXISTS (SELECT 1 FROM trades t WHERE t.user_id = users.id AND t.product = $%d)", q.Product)
	}
	if q.Milestone != "" {
		col := q.Milestone + "_at" // one of Milestones, checked
		where = append(where, col+" IS NOT NULL")
		if !q.MilestoneFrom.IsZero() {
			add(col+" >= $%d", q.MilestoneFrom)
		}
		if !q.MilestoneTo.IsZero() {
			add(col+" < $%d", q.MilestoneTo)
		}
	}
	sql := `SELECT ` + userColumns + ` FROM users WHERE `
	if limit > 0 {
		n := limit + 1
		if after != nil {
			add("registered_at <= $%d", after.At)
			n += after.N
		}
		args = append(args, n)
		sql += strings.Join(where, " AND ") + fmt.Sprintf(` ORDER BY registered_at DESC, id LIMIT $%d`, len(args))
	} else {
		sql += strings.Join(where, " AND ")
	}
	return collectUsers(ctx, tx, sql, args...)
}

// addNotes sets the affiliate's notes on refs.
func addNotes(ctx context.Context, tx pgx.Tx, affiliateID string, refs []Referral) error {
	ids := make([]string, len(refs))
	for i := range refs {
		ids[i] = refs[i].User.ID
	}
	notes, err := referralNotes(ctx, tx, affiliateID, ids)
	if err != nil {
		return err
	}
	for i := range refs {
		refs[i].Note = notes[refs[i].User.ID]
	}
	return nil
}

// addProducts sets the product lines each referee traded, ever (one
// query over trades_user for the page).
func addProducts(ctx context.Context, tx pgx.Tx, refs []Referral) error {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, len(refs))
	for i := range refs {
		ids[i] = refs[i].User.ID
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT user_id, product FROM trades WHERE user_id = ANY($1) ORDER BY 1, 2`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	by := map[string][]string{}
	for rows.Next() {
		var id, product string
		if err := rows.Scan(&id, &product); err != nil {
			return err
		}
		by[id] = append(by[id], product)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range refs {
		refs[i].Products = by[refs[i].User.ID]
	}
	return nil
}

// matchesQ reports whether a referral matches q.Q: its id (whole, or by
// prefix) or, when notes are read, its note (substring; both
// case-insensitive but the whole id).
func matchesQ(q *ReferralQuery, r *Referral) bool {
	if q.QExactID {
		if r.User.ID == q.Q {
			return true
		}
	} else if strings.HasPrefix(strings.ToLower(r.User.ID), strings.ToLower(q.Q)) {
		return true
	}
	return q.Notes && r.Note != "" && strings.Contains(strings.ToLower(r.Note), strings.ToLower(q.Q))
}

// addFigures sets what each referee generated for the affiliate.
func addFigures(ctx context.Context, tx pgx.Tx, affiliateID string, refs []Referral) error {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, len(refs))
	for i := range refs {
		ids[i] = refs[i].User.ID
	}
	sums, err := refereeFigures(ctx, tx, affiliateID, ids)
	if err != nil {
		return err
	}
	for i := range refs {
		f := sums[refs[i].User.ID]
		refs[i].Volume, refs[i].Commission, refs[i].Trades = f.Volume, f.Commission, f.Trades
	}
	return nil
}

// addKickbacks sets each referee's code kickback, while the code's owner
// is still its referrer (as the kickback rule pays it).
func addKickbacks(ctx context.Context, tx pgx.Tx, refs []Referral) error {
	var codes []string
	for i := range refs {
		if c := refs[i].User.ReferralCode; c != "" && !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	if len(codes) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT code, owner_id, kickback::text FROM referral_codes WHERE code = ANY($1) AND kickback IS NOT NULL`, codes)
	if err != nil {
		return err
	}
	type kick struct {
		owner string
		k     apd.Decimal
	}
	kicks := map[string]kick{}
	for rows.Next() {
		var code, owner, k string
		if err := rows.Scan(&code, &owner, &k); err != nil {
			rows.Close()
			return err
		}
		d, err := ledger.ParseStored(k)
		if err != nil {
			rows.Close()
			return err
		}
		kicks[code] = kick{owner, d}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range refs {
		u := refs[i].User
		if k, ok := kicks[u.ReferralCode]; ok && k.owner == u.ReferrerID {
			d := k.k
			refs[i].Kickback = &d
		}
	}
	return nil
}

// orderKey is a referral's figure in order, as its cursor holds it.
func orderKey(r *Referral, order string) string {
	switch order {
	case ReferralsByCommission:
		return ledger.Format(&r.Commission)
	case ReferralsByVolume:
		return ledger.Format(&r.Volume)
	}
	return r.User.RegisteredAt.Format(time.RFC3339Nano)
}

// sortReferrals orders refs by order, largest first, then newest first,
// then by id.
func sortReferrals(refs []Referral, order string) {
	slices.SortStableFunc(refs, func(a, b Referral) int {
		if c := cmpFigure(&a, &b, order); c != 0 {
			return -c
		}
		if c := b.User.RegisteredAt.Compare(a.User.RegisteredAt); c != 0 {
			return c
		}
		return strings.Compare(a.User.ID, b.User.ID)
	})
}

// cmpFigure compares two referrals' order figures.
func cmpFigure(a, b *Referral, order string) int {
	switch order {
	case ReferralsByCommission:
		return a.Commission.Cmp(&b.Commission)
	case ReferralsByVolume:
		return a.Volume.Cmp(&b.Volume)
	}
	return a.User.RegisteredAt.Compare(b.User.RegisteredAt)
}

// cmpCursor compares a referral's place in the list with the cursor's
// (key, at): < 0 before it, 0 in its group, > 0 after it.
func cmpCursor(r *Referral, order string, c *ReferralCursor) int {
	var fig int
	switch order {
	case ReferralsByCommission, ReferralsByVolume:
		k, _, err := apd.NewFromString(c.Key)
		if err != nil {
			return 1
		}
		v := r.Commission
		if order == ReferralsByVolume {
			v = r.Volume
		}
		fig = -v.Cmp(k)
	default:
		fig = 0 // registration time is the figure and the tie-break alike
	}
	if fig != 0 {
		return fig
	}
	return c.At.Compare(r.User.RegisteredAt)
}

// addUnpriced sets, per referee, what its figures could not convert into
// the reporting currency (accruals with no FX rate in force at their
// business time, which count 0 in Commission until the folder revalues
// them), per accrual currency: the per-referee rollup plus the unfolded
// tail, as refereeFigures reads them.
func addUnpriced(ctx context.Context, tx pgx.Tx, affiliateID string, refs []Referral) error {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, len(refs))
	for i := range refs {
		ids[i] = refs[i].User.ID
	}
	type key struct{ referee, currency string }
	sums := map[key]*UnpricedAmount{}
	var order []key
	add := func(k key, com, fees *apd.Decimal) error {
		u := sums[k]
		if u == nil {
			u = &UnpricedAmount{Currency: k.currency}
			sums[k] = u
			order = append(order, k)
		}
		for _, x := range []struct{ dst, v *apd.Decimal }{{&u.Commission, com}, {&u.Fees, fees}} {
			if x.v == nil {
				continue
			}
			if _, err := exact.Add(x.dst, x.dst, x.v); err != nil {
				return err
			}
		}
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT referee_id, currency, sum(unpriced_commission)::text, sum(unpriced_fees)::text FROM affiliate_referee_daily
		WHERE affiliate_id = $1 AND referee_id = ANY($2) GROUP BY 1, 2 ORDER BY 1, 2`, affiliateID, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k key
		var c, f string
		if err := rows.Scan(&k.referee, &k.currency, &c, &f); err != nil {
			rows.Close()
			return err
		}
		com, err := ledger.ParseStored(c)
		if err != nil {
			rows.Close()
			return err
		}
		fees, err := ledger.ParseStored(f)
		if err != nil {
			rows.Close()
			return err
		}
		if err := add(k, &com, &fees); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	heads, marks, err := foldPosition(ctx, tx)
	if err != nil {
		return err
	}
	tradeTail, tailArgs := tailWhere("t.", heads, marks, 3)
	otherTail, _ := tailWhere("a.", heads, marks, 3)
	tail, err := readFoldRows(ctx, tx, `a.beneficiary = $1 AND a.trader_id = ANY($2) AND `+tradeTail,
		`a.beneficiary = $1 AND a.trader_id = ANY($2) AND `+otherTail, append([]any{affiliateID, ids}, tailArgs...)...)
	if err != nil {
		return err
	}
	for i := range tail {
		if f := &tail[i]; f.rep == nil {
			if err := add(key{f.trader, f.currency}, &f.amount, f.fee); err != nil {
				return err
			}
		}
	}
	byReferee := map[string][]UnpricedAmount{}
	for _, k := range order {
		if u := sums[k]; !u.Commission.IsZero() || !u.Fees.IsZero() {
			byReferee[k.referee] = append(byReferee[k.referee], *u)
		}
	}
	for i := range refs {
		refs[i].Unpriced = byReferee[refs[i].User.ID]
	}
	return nil
}
