package affiliate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/internal/text"
	"github.com/folioledger/folio/ledger"
	"github.com/jackc/pgx/v5"
)

// Product lines, VIP levels and program eligibility (see "Product lines,
// VIP levels and campaigns" in doc.go).

// DefaultProduct is the product line of a trade that names none.
const DefaultProduct = "spot"

// MaxVIPLevel bounds a user's VIP level.
const MaxVIPLevel = 1000

// ValidProduct reports whether p is a product identifier: 1 to 32
// characters of a-z, 0-9, _ and -, starting with a letter.
func ValidProduct(p string) bool {
	return text.Chars(p, 1, 32, func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-' }) &&
		p[0] >= 'a' && p[0] <= 'z'
}

// ProductSpec is a program's rates for one product line: the fields of the
// program's own kind (kickback: rate, tiers; levels: levels, tiers;
// differential: min_pass_down, max_levels; every kind: base_fee_rate),
// validated by the kind's rule like the program itself.
type ProductSpec struct {
	BaseFeeRate string     `json:"base_fee_rate,omitempty"`
	Levels      []string   `json:"levels,omitempty"`
	MinPassDown string     `json:"min_pass_down,omitempty"`
	MaxLevels   int        `json:"max_levels,omitempty"`
	Rate        string     `json:"rate,omitempty"`
	Tiers       []TierSpec `json:"tiers,omitempty"`
}

// EligibilitySpec is who may earn under a program: the trader's direct
// referrer must have one of VIPLevels (when given) and own traded volume
// of at least MinVolume (when given).
type EligibilitySpec struct {
	VIPLevels []int      `json:"vip_levels,omitempty"`
	MinVolume *MoneySpec `json:"min_volume,omitempty"`
}

// MoneySpec is an amount in a currency in a program's configuration.
type MoneySpec struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Eligibility is a parsed EligibilitySpec.
type Eligibility struct {
	VIPLevels         []int // nil: every level
	MinVolume         *apd.Decimal
	MinVolumeCurrency string
}

// kindFields are the ProductSpec fields each built-in kind uses; a
// by_product entry naming another field is refused (a rate that would be
// silently ignored). Kinds registered by the operator take any field.
var kindFields = map[string][]string{
	KindKickback:     {"base_fee_rate", "rate", "tiers"},
	KindLevels:       {"base_fee_rate", "levels", "tiers"},
	KindDifferential: {"base_fee_rate", "min_pass_down", "max_levels"},
	KindTable:        {"base_fee_rate"},
}

func (ps ProductSpec) fields() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"base_fee_rate", ps.BaseFeeRate != ""}, {"levels", len(ps.Levels) > 0}, {"min_pass_down", ps.MinPassDown != ""},
		{"max_levels", ps.MaxLevels != 0}, {"rate", ps.Rate != ""}, {"tiers", len(ps.Tiers) > 0}} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// productFields parses and validates the product-line fields of s into p:
// by_product (each with the kind's own validation), eligibility, max_codes
// and the validity window.
func (r *Registry) productFields(p *Program, s ProgramSpec) error {
	if p.Kind == KindBounty && (len(s.ByProduct) > 0 || s.Eligibility != nil) {
		return folio.Errorf(folio.EINVALID, "by_product and eligibility belong to trade programs, not bounties")
	}
	if len(s.ByProduct) > 0 {
		p.ByProduct = map[string]*Program{}
		names := make([]string, 0, len(s.ByProduct))
		for name := range s.ByProduct {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			field := "by_product." + name
			if !ValidProduct(name) {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{field},
					Message: fmt.Sprintf("by_product: %q is not a product identifier (1 to 32 characters of a-z 0-9 _ -, starting with a letter)", name)}
			}
			ps := s.ByProduct[name]
			if allowed, ok := kindFields[p.Kind]; ok {
				for _, f := range ps.fields() {
					if !slices.Contains(allowed, f) {
						return &folio.Error{Code: folio.EINVALID, Fields: []string{field + "." + f},
							Message: fmt.Sprintf("%s: %s is not a field of %s programs (they take %s)", field, f, p.Kind, strings.Join(allowed, ", "))}
					}
				}
			}
			sub, err := r.Program(p.ID, ProgramSpec{Kind: p.Kind, BaseFeeRate: ps.BaseFeeRate, Levels: ps.Levels, MinPassDown: ps.MinPassDown,
				MaxLevels: ps.MaxLevels, Rate: ps.Rate, Tiers: ps.Tiers})
			if err != nil {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{field}, Message: field + ": " + folio.ErrorMessage(err)}
			}
			sub.Product = name
			p.ByProduct[name] = sub
		}
	}
	if e := s.Eligibility; e != nil {
		p.Eligibility = &Eligibility{}
		if e.VIPLevels != nil {
			if len(e.VIPLevels) == 0 {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{"eligibility.vip_levels"}, Message: "eligibility.vip_levels: give at least one level (omit it for every level)"}
			}
			for _, l := range e.VIPLevels {
				if l < 0 || l > MaxVIPLevel {
					return &folio.Error{Code: folio.EINVALID, Fields: []string{"eligibility.vip_levels"},
						Message: fmt.Sprintf("eligibility.vip_levels: %d is not a VIP level (0 to %d)", l, MaxVIPLevel)}
				}
			}
			p.Eligibility.VIPLevels = slices.Clone(e.VIPLevels)
			slices.Sort(p.Eligibility.VIPLevels)
			p.Eligibility.VIPLevels = slices.Compact(p.Eligibility.VIPLevels)
		}
		if e.MinVolume != nil {
			d, err := parseAmountField("eligibility.min_volume.amount", e.MinVolume.Amount)
			if err != nil {
				return err
			}
			if e.MinVolume.Currency == "" {
				return &folio.Error{Code: folio.EINVALID, Fields: []string{"eligibility.min_volume.currency"}, Message: "eligibility.min_volume: currency is required"}
			}
			p.Eligibility.MinVolume, p.Eligibility.MinVolumeCurrency = &d, e.MinVolume.Currency
		}
	}
	if s.MaxCodes < 0 || s.MaxCodes > 1000 {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"max_codes"}, Message: "max_codes must be between 1 and 1000 (omit it for the default, 20)"}
	}
	p.MaxCodes = s.MaxCodes
	for _, f := range []struct {
		name string
		s    string
		dst  **time.Time
	}{{"valid_from", s.ValidFrom, &p.ValidFrom}, {"valid_to", s.ValidTo, &p.ValidTo}} {
		if f.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.s)
		if err != nil {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{f.name}, Message: fmt.Sprintf("%s: %q is not an RFC 3339 time such as 2026-01-01T00:00:00Z", f.name, f.s)}
		}
		t = t.UTC()
		*f.dst = &t
	}
	if p.ValidFrom != nil && p.ValidTo != nil && !p.ValidFrom.Before(*p.ValidTo) {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"valid_from", "valid_to"}, Message: "valid_from must be before valid_to"}
	}
	p.Disabled = s.Disabled
	return nil
}

// checkEligibilityAmounts checks eligibility.min_volume against the chart:
// an existing currency, and no more decimal places than it allows.
func checkEligibilityAmounts(p *Program, chart *accounts.Chart) error {
	if p.Eligibility == nil || p.Eligibility.MinVolume == nil {
		return nil
	}
	field := "eligibility.min_volume"
	cur, ok := chart.Currency(p.Eligibility.MinVolumeCurrency)
	if !ok {
		return &folio.Error{Code: folio.ECURRENCY, Fields: []string{field + ".currency"},
			Message: fmt.Sprintf("%s: currency %q does not exist", field, p.Eligibility.MinVolumeCurrency)}
	}
	return checkPlaces(field+".amount", p.Eligibility.MinVolume, cur)
}

// forProduct is the program's variant for a product line: its by_product
// entry, else the program itself.
func (p *Program) forProduct(product string) *Program {
	if sub := p.ByProduct[product]; sub != nil {
		return sub
	}
	return p
}

// validAt explains why this version pays nothing for a trade executed at
// t ("" when it pays): disabled, or t outside [valid_from, valid_to).
func (p *Program) validAt(t time.Time) (code, reason string) {
	switch {
	case p.Disabled:
		return "program_disabled", fmt.Sprintf("program %s is disabled (version %d)", p.ID, p.Version)
	case p.ValidFrom != nil && t.Before(*p.ValidFrom):
		return "program_not_valid", fmt.Sprintf("program %s is valid from %s; the trade was executed at %s", p.ID, p.ValidFrom.Format(time.RFC3339), t.Format(time.RFC3339))
	case p.ValidTo != nil && !t.Before(*p.ValidTo):
		return "program_not_valid", fmt.Sprintf("program %s was valid until %s; the trade was executed at %s", p.ID, p.ValidTo.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	return "", ""
}

// eligible explains why the direct referrer ref cannot earn under p's
// eligibility ("" when it can); volume reads the referrer's own traded
// volume in a currency; places is a currency's precision (-1: unknown),
// at which the reason shows amounts.
func (p *Program) eligible(ref *User, volume func(user, currency string) (apd.Decimal, error), places func(currency string) int) (code, reason string, err error) {
	e := p.Eligibility
	if e == nil || ref == nil {
		return "", "", nil
	}
	if e.VIPLevels != nil && !slices.Contains(e.VIPLevels, ref.VIPLevel) {
		levels := make([]string, len(e.VIPLevels))
		for i, l := range e.VIPLevels {
			levels[i] = strconv.Itoa(l)
		}
		return "vip_level", fmt.Sprintf("the referrer %s has VIP level %d; program %s pays referrers of VIP levels %s", ref.ID, ref.VIPLevel, p.ID, strings.Join(levels, ", ")), nil
	}
	if e.MinVolume != nil {
		v, err := volume(ref.ID, e.MinVolumeCurrency)
		if err != nil {
			return "", "", err
		}
		if v.Cmp(e.MinVolume) < 0 {
			return "min_volume", fmt.Sprintf("the referrer %s has traded %s %s; program %s requires a traded volume of at least %s %s",
				ref.ID, FormatAt(&v, places(e.MinVolumeCurrency)), e.MinVolumeCurrency, p.ID, FormatAt(e.MinVolume, places(e.MinVolumeCurrency)), e.MinVolumeCurrency), nil
		}
	}
	return "", "", nil
}

// ownVolume is a user's own traded volume in a currency: the volume of its
// trades booked before this transaction's batch, from user_volume (folded
// off the writer, fold.go) plus the trades the folder has not reached
// (the tail past each shard's watermark, read through trades_position).
func ownVolume(ctx context.Context, tx pgx.Tx, look *tradeLookups, user, currency string) (apd.Decimal, error) {
	var folded string
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(volume), 0)::text FROM user_volume WHERE user_id = $1 AND currency = $2`,
		user, currency).Scan(&folded); err != nil {
		return apd.Decimal{}, err
	}
	v, err := ledger.ParseStored(folded)
	if err != nil {
		return v, err
	}
	if look.heads == nil {
		if look.heads, look.marks, err = foldPosition(ctx, tx); err != nil {
			return v, err
		}
	}
	tail, args := tailWhere("t.", look.heads, look.marks, 3)
	var more string
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(t.volume_amount), 0)::text FROM trades t WHERE t.user_id = $1 AND t.volume_currency = $2 AND `+tail,
		append([]any{user, currency}, args...)...).Scan(&more); err != nil {
		return v, err
	}
	m, err := ledger.ParseStored(more)
	if err != nil {
		return v, err
	}
	_, err = exact.Add(&v, &v, &m)
	return v, err
}

// writeOwnVolume adds the volume of the trades ts to their traders' own
// volume (user_volume), per volume currency, in the folder's transaction,
// in key order (see rollupSQL).
func writeOwnVolume(ctx context.Context, tx pgx.Tx, ts []tradeVolume) error {
	type key struct{ user, currency string }
	sums := map[key]*volumeSum{}
	var keys []key
	for i := range ts {
		k := key{ts[i].user, ts[i].currency}
		v := sums[k]
		if v == nil {
			v = &volumeSum{}
			sums[k] = v
			keys = append(keys, k)
		}
		if _, err := exact.Add(&v.volume, &v.volume, &ts[i].amount); err != nil {
			return err
		}
		v.trades++
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].user != keys[j].user {
			return keys[i].user < keys[j].user
		}
		return keys[i].currency < keys[j].currency
	})
	users, curs, vols, counts := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		users[i], curs[i], vols[i], counts[i] = k.user, k.currency, ledger.Format(&sums[k].volume), sums[k].trades
	}
	return sqlOwnVolume.write(ctx, tx, len(keys), []any{users, curs, vols, counts})
}

// sqlOwnVolume writes user_volume as the rollups are written: UPDATE, then
// INSERT of the keys it did not find. (An upsert locked each found row
// first: two WAL records a trade instead of one.)
var sqlOwnVolume = newRollupSQL("user_volume", []column{{"user_id", "text"}, {"currency", "text"}},
	[]column{{"volume", "numeric"}, {"trades", "bigint"}})

// UTM is the campaign a user signed up through (utm_source, utm_medium,
// utm_campaign); fixed at signup. Statistics group by Campaign.
type UTM struct {
	Source   string
	Medium   string
	Campaign string
}

// MaxUTMLength bounds each UTM field.
const MaxUTMLength = 100

// checkSignupExtras validates a signup's VIP level and UTM fields.
func checkSignupExtras(in NewUser) error {
	if in.VIPLevel < 0 || in.VIPLevel > MaxVIPLevel {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"vip_level"}, Message: fmt.Sprintf("vip_level must be between 0 and %d", MaxVIPLevel)}
	}
	for _, f := range []struct{ name, v string }{{"utm.source", in.UTM.Source}, {"utm.medium", in.UTM.Medium}, {"utm.campaign", in.UTM.Campaign}} {
		if len(f.v) > MaxUTMLength {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{f.name}, Message: fmt.Sprintf("%s is longer than %d bytes", f.name, MaxUTMLength)}
		}
		if err := checkText(f.name, f.v, text.SingleLine); err != nil {
			return err
		}
	}
	return nil
}

// recordVIPLevel appends a user's VIP level to its history.
func recordVIPLevel(ctx context.Context, tx pgx.Tx, user string, level int, actor string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO user_vip_levels (user_id, n, vip_level, actor, recorded_at)
		SELECT $1, coalesce(max(n), 0) + 1, $2, $3, $4 FROM user_vip_levels WHERE user_id = $1`, user, level, actor, now)
	return err
}

// SetVIPLevel sets a user's VIP level (0 to MaxVIPLevel): the user row
// holds the current level, user_vip_levels every level it had; audit-logged.
// Eligibility (program.eligibility.vip_levels) reads the level current when
// a trade is booked.
func (s *Service) SetVIPLevel(ctx context.Context, id string, level int, actor string) error {
	if level < 0 || level > MaxVIPLevel {
		return &folio.Error{Code: folio.EINVALID, Fields: []string{"vip_level"}, Message: fmt.Sprintf("vip_level must be between 0 and %d", MaxVIPLevel)}
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		u, err := getUser(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if u.VIPLevel == level {
			return nil
		}
		now := s.now()
		if err := execUserChange(ctx, tx, `UPDATE users SET vip_level = $2 WHERE id = $1`, id, level); err != nil {
			return err
		}
		if err := recordVIPLevel(ctx, tx, id, level, actor, now); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "user.vip_level", "user:"+id, map[string]int{"vip_level": u.VIPLevel}, map[string]int{"vip_level": level})
	})
}

// VIPLevelChange is one row of a user's VIP level history.
type VIPLevelChange struct {
	Level      int
	Actor      string
	RecordedAt time.Time
}

// VIPLevels returns a user's VIP level history, oldest first.
func (s *Service) VIPLevels(ctx context.Context, id string) ([]VIPLevelChange, error) {
	if _, err := getUser(ctx, s.DB.Pool, id, false); err != nil {
		return nil, err
	}
	rows, err := s.DB.Pool.Query(ctx, `SELECT vip_level, actor, recorded_at FROM user_vip_levels WHERE user_id = $1 ORDER BY n`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VIPLevelChange{}
	for rows.Next() {
		var c VIPLevelChange
		var l int64
		if err := rows.Scan(&l, &c.Actor, &c.RecordedAt); err != nil {
			return nil, err
		}
		c.Level, c.RecordedAt = int(l), c.RecordedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// programAt returns the version of p that claims trade w (programSet.at)
// when it pays, and nil after recording in w why the trade earns nothing
// (no version valid at its time, disabled, outside valid_from/valid_to).
func (s *Service) programAt(ctx context.Context, tx pgx.Tx, b *tradeBatch, w *tradeWork, p *Program) (*Program, error) {
	t := tradeTime(w)
	v, err := b.progs.at(ctx, tx, s.Rules, p, t)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, w.ineligible(p, "program_not_valid", fmt.Sprintf("program %s has no version valid at the trade's time %s (the oldest claims trades from %s)",
			p.ID, t.Format(time.RFC3339), p.ValidFrom.Format(time.RFC3339)))
	}
	w.explain["program_version"] = v.Version
	if code, reason := v.validAt(t); code != "" {
		return nil, w.ineligible(v, code, reason)
	}
	return v, nil
}

// ineligible records that trade w earns nothing under program p, and why
// (code: program_disabled, program_not_valid, vip_level, min_volume); the
// whole fee goes to the platform.
func (w *tradeWork) ineligible(p *Program, code, reason string) error {
	w.program = p
	w.explain["program"], w.explain["kind"] = p.ID, p.Kind
	w.explain["ineligible"], w.explain["reason"] = code, reason
	return w.splitFee(noRule{}, p, &Chain{Trader: Member{ID: w.in.UserID}}, &apd.Decimal{})
}

// eligibilityDepth is how many ancestors checking p's eligibility reads:
// the direct referrer.
func eligibilityDepth(p *Program) int {
	if p.Eligibility == nil {
		return 0
	}
	return 1
}

// loadChain makes sure b.users holds u's ancestors up to depth, loading
// those step 3 did not (an older program version, or eligibility, may
// read deeper than the current programs' rules).
func (s *Service) loadChain(ctx context.Context, tx pgx.Tx, b *tradeBatch, u *User, depth int) error {
	cur := u
	for i := 0; i < depth && cur.ReferrerID != ""; i++ {
		a := b.users[cur.ReferrerID]
		if a == nil {
			more, err := s.tradeUsers(ctx, tx, b.usersVersion, []string{cur.ReferrerID})
			if err != nil {
				return err
			}
			if a = more[cur.ReferrerID]; a == nil {
				return nil
			}
			b.users[a.ID] = a
		}
		cur = a
	}
	return nil
}

// eligible checks p's eligibility on trader u's direct referrer; when it
// fails the trade earns nothing (w.ineligible) and eligible reports false.
func (b *tradeBatch) eligible(ctx context.Context, tx pgx.Tx, w *tradeWork, p *Program, u *User) (bool, error) {
	if p.Eligibility == nil || u.ReferrerID == "" {
		return true, nil
	}
	code, reason, err := p.eligible(b.users[u.ReferrerID], func(user, currency string) (apd.Decimal, error) {
		k := [2]string{user, currency}
		if v, ok := b.look.volumes[k]; ok {
			return v, nil
		}
		v, err := ownVolume(ctx, tx, b.look, user, currency)
		if err == nil {
			if b.look.volumes == nil {
				b.look.volumes = map[[2]string]apd.Decimal{}
			}
			b.look.volumes[k] = v
		}
		return v, err
	}, func(currency string) int {
		if c, ok := b.chart.Currency(currency); ok {
			return c.Precision
		}
		return -1
	})
	if err != nil || code == "" {
		return err == nil, err
	}
	return false, w.ineligible(p, code, reason)
}

// accrualGroups groups an affiliate's statistics in [from, to) by the
// trade's product line or the trader's signup campaign (utm.campaign),
// neither of which the rollups carry: it reads the affiliate's accruals in
// the range (joined to their trades and traders; revaluations applied), so
// its cost grows with the affiliate's accruals — all of them: neither the
// beneficiary index nor the 208 lines are by business time — and its
// groups sum exactly to the totals. Bounties have no product (key "").
func accrualGroups(ctx context.Context, tx pgx.Tx, groupBy, affiliate string, from, to time.Time) ([]StatsPoint, error) {
	key, join := "coalesce(t.product, '')", ""
	if groupBy == "campaign" {
		key, join = "coalesce(u.utm_campaign, '')", " LEFT JOIN users u ON u.id = a.trader_id"
	}
	const figs = `a.source, coalesce(a.reporting_amount, r.reporting_amount)::text, coalesce(a.fee_reporting, r.fee_reporting)::text,
		a.volume_reporting::text`
	const reval = ` LEFT JOIN accrual_revaluations r ON a.reporting_amount IS NULL AND r.accrual_id = a.id`
	// Rows stored with a recorded time through the beneficiary index, the
	// compact ones (migration 049) through the affiliate's 208 lines
	// (compactAccruals); a trade accrual's business time is its trade's
	// executed_at, a reversal's and a bounty's their own.
	accts, err := compactAccounts(ctx, tx, affiliate, "")
	if err != nil {
		return nil, err
	}
	const when = ` AND coalesce(a.business_at, t.executed_at) >= $2 AND coalesce(a.business_at, t.executed_at) < $3`
	rows, err := tx.Query(ctx, `SELECT `+key+`, `+figs+`
		FROM `+sqlStoredAccrualsOf("$1")+` x JOIN accruals_whole a ON a.id = x.id
			LEFT JOIN trades t ON a.source IN ('trade', 'reversal') AND t.id = a.trade_id`+reval+join+`
		WHERE true`+when+`
		UNION ALL
		SELECT `+key+`, `+figs+`
		FROM `+ledger.AccountShardsSQL("$4::text[]")+` s
			CROSS JOIN LATERAL `+ledger.AccountLinesSQL("s", "NULL::bigint[]", "NULL::bigint[]", "x.id, p.entry_id", compactLineJoin("$1"), compactLine, "")+` l
			JOIN accruals_whole a ON a.id = l.id AND a.entry_id = l.entry_id JOIN trades t ON t.id = a.trade_id`+reval+join+`
		WHERE true`+when, affiliate, from, to, accts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	by := map[string]*StatsPoint{}
	for rows.Next() {
		var k string
		var rep, feeRep, vol *string
		var f foldRow
		if err := rows.Scan(&k, &f.source, &rep, &feeRep, &vol); err != nil {
			return nil, err
		}
		switch f.source {
		case "trade":
			f.trades = 1
		case "reversal":
			f.trades = -1
		}
		for _, x := range []struct {
			dst **apd.Decimal
			s   *string
		}{{&f.rep, rep}, {&f.feeRep, feeRep}, {&f.volumeRep, vol}} {
			if *x.dst, err = ledger.ParseStoredOptional(x.s); err != nil {
				return nil, err
			}
		}
		p := by[k]
		if p == nil {
			p = &StatsPoint{Key: k}
			by[k] = p
		}
		if err := p.add(&f); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]StatsPoint, 0, len(by))
	for _, p := range by {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// signupVIPLevel is the VIP level a user signed up with (the first row of
// its history).
func signupVIPLevel(ctx context.Context, tx pgx.Tx, user string) (int, error) {
	var l int64
	err := tx.QueryRow(ctx, `SELECT vip_level FROM user_vip_levels WHERE user_id = $1 ORDER BY n LIMIT 1`, user).Scan(&l)
	if isNoRows(err) {
		return 0, nil
	}
	return int(l), err
}
