package affiliate

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/ledger"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

var sourcePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// PutRate records an FX rate base→quote from a source at a time (history is
// kept; the rate in force for a pair is the average over sources of each
// source's latest rate at or before the moment asked).
func (s *Service) PutRate(ctx context.Context, base, quote, source string, rate apd.Decimal, at time.Time, actor string) error {
	switch {
	case !accounts.ValidCurrencyID(base) || !accounts.ValidCurrencyID(quote):
		return folio.Errorf(folio.EINVALID, "currencies must be 1 to 16 characters of A-Z and 0-9")
	case base == quote:
		return folio.Errorf(folio.EINVALID, "a rate needs two different currencies")
	case !sourcePattern.MatchString(source):
		return folio.Errorf(folio.EINVALID, "source must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
	case rate.Sign() <= 0 || -rate.Exponent > 18 || rate.NumDigits()+int64(rate.Exponent) > 20:
		return folio.Errorf(folio.EINVALID, "rate must be a positive decimal with at most 18 places")
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		if at.IsZero() {
			at = now
		}
		at = at.UTC().Truncate(time.Microsecond)
		var before map[string]string
		var old string
		err := tx.QueryRow(ctx, `SELECT rate::text FROM fx_rates WHERE base = $1 AND quote = $2 AND source = $3 AND at = $4`, base, quote, source, at).Scan(&old)
		if err != nil && !isNoRows(err) {
			return err
		}
		if err == nil {
			d, err := ledger.ParseStored(old)
			if err != nil {
				return err
			}
			before = map[string]string{"source": source, "rate": ledger.Format(&d), "at": at.Format(time.RFC3339Nano)}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fx_rates (base, quote, source, at, rate) VALUES ($1, $2, $3, $4, $5::numeric)
			ON CONFLICT (base, quote, source, at) DO UPDATE SET rate = excluded.rate`, base, quote, source, at, ledger.Format(&rate)); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "fx.put", "fx:"+base+"/"+quote, before,
			map[string]string{"source": source, "rate": ledger.Format(&rate), "at": at.Format(time.RFC3339Nano)})
	})
}

// rateCache memoizes FX lookups within one transaction, by pair and time.
type rateCache map[rateKey]*apd.Decimal

type rateKey struct {
	base, quote string
	at          time.Time
}

// fxRate returns the rate converting base into quote in force at t: 1 for
// the same currency, the average of the sources' latest rates at or before
// t, or the inverse of the opposite pair; nil when no rate is known.
func fxRate(ctx context.Context, q schema.Querier, cache rateCache, base, quote string, t time.Time) (*apd.Decimal, error) {
	if base == quote {
		return apd.New(1, 0), nil
	}
	key := rateKey{base, quote, t.UTC()}
	if r, ok := cache[key]; ok {
		return r, nil
	}
	avg := func(b, qt string) (*apd.Decimal, error) {
		rows, err := q.Query(ctx, `SELECT DISTINCT ON (source) rate::text FROM fx_rates WHERE base = $1 AND quote = $2 AND at <= $3 ORDER BY source, at DESC`,
			b, qt, t)
		if err != nil {
			return nil, err
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		rates := make([]apd.Decimal, len(texts))
		for i, s := range texts {
			if rates[i], err = ledger.ParseStored(s); err != nil {
				return nil, err
			}
		}
		return averageRate(rates)
	}
	r, err := avg(base, quote)
	if err != nil {
		return nil, err
	}
	if r == nil {
		inv, err := avg(quote, base)
		if err != nil {
			return nil, err
		}
		if r, err = invertRate(inv); err != nil {
			return nil, err
		}
	}
	if cache != nil {
		cache[key] = r
	}
	return r, nil
}

// averageRate is the average of the sources' rates rounded to 18 places
// (nil for none): the one computation of a rate in force, shared by the
// single lookup (fxRate) and the batch's window (rateWindow).
func averageRate(rates []apd.Decimal) (*apd.Decimal, error) {
	if len(rates) == 0 {
		return nil, nil
	}
	var sum apd.Decimal
	for i := range rates {
		if _, err := fxContext.Add(&sum, &sum, &rates[i]); err != nil {
			return nil, err
		}
	}
	r := new(apd.Decimal)
	if _, err := fxContext.Quo(r, &sum, apd.New(int64(len(rates)), 0)); err != nil {
		return nil, err
	}
	// Stored rates and converted amounts have 18 places at most.
	if _, err := fxContext.Quantize(r, r, -18); err != nil {
		return nil, err
	}
	return r, nil
}

// invertRate is 1/inv rounded to 18 places (nil for nil).
func invertRate(inv *apd.Decimal) (*apd.Decimal, error) {
	if inv == nil {
		return nil, nil
	}
	r := new(apd.Decimal)
	if _, err := fxContext.Quo(r, apd.New(1, 0), inv); err != nil {
		return nil, err
	}
	if _, err := fxContext.Quantize(r, r, -18); err != nil {
		return nil, err
	}
	return r, nil
}

// fxContext rounds FX conversions (half even) — the only place money is
// rounded other than the round-down of shares; the accrual keeps the rate.
var fxContext = apd.Context{Precision: 60, MaxExponent: apd.MaxExponent, MinExponent: apd.MinExponent, Traps: apd.DefaultTraps, Rounding: apd.RoundHalfEven}

// convert returns amount × rate rounded to 18 places (nil without rate).
func convert(amount, rate *apd.Decimal) (*apd.Decimal, error) {
	if rate == nil {
		return nil, nil
	}
	var out apd.Decimal
	if _, err := fxContext.Mul(&out, amount, rate); err != nil {
		return nil, err
	}
	if _, err := fxContext.Quantize(&out, &out, -18); err != nil {
		return nil, err
	}
	return &out, nil
}

// FeeRate is one row of the fee schedule.
type FeeRate struct {
	Group, Market string
	Maker, Taker  apd.Decimal
}

// PutFeeRate sets the maker/taker fee rates of a (group, market); empty
// group or market is the default row.
func (s *Service) PutFeeRate(ctx context.Context, f FeeRate, actor string) error {
	if !groupPattern.MatchString(f.Group) || len(f.Market) > 64 {
		return folio.Errorf(folio.EINVALID, "group or market is malformed")
	}
	for _, r := range []apd.Decimal{f.Maker, f.Taker} {
		if r.Sign() < 0 || r.Cmp(one) > 0 {
			return folio.Errorf(folio.EINVALID, "fee rates must be between 0 and 1")
		}
	}
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var before map[string]string
		var maker, taker string
		err := tx.QueryRow(ctx, `SELECT maker_rate::text, taker_rate::text FROM fee_schedules WHERE grp = $1 AND market = $2`, f.Group, f.Market).Scan(&maker, &taker)
		if err != nil && !isNoRows(err) {
			return err
		}
		if err == nil {
			m, err1 := ledger.ParseStored(maker)
			t, err2 := ledger.ParseStored(taker)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			before = map[string]string{"maker": ledger.Format(&m), "taker": ledger.Format(&t)}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fee_schedules (grp, market, maker_rate, taker_rate) VALUES ($1, $2, $3::numeric, $4::numeric)
			ON CONFLICT (grp, market) DO UPDATE SET maker_rate = excluded.maker_rate, taker_rate = excluded.taker_rate`,
			f.Group, f.Market, ledger.Format(&f.Maker), ledger.Format(&f.Taker)); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "fees.put", "fees:"+f.Group+"/"+f.Market, before,
			map[string]string{"maker": ledger.Format(&f.Maker), "taker": ledger.Format(&f.Taker)})
	})
}

// feeRate finds the rate for (group, market, liquidity): the exact row,
// then (group, default market), (default group, market), and the default.
func feeRate(ctx context.Context, q schema.Querier, group, market, liquidity string) (*apd.Decimal, error) {
	var maker, taker string
	err := q.QueryRow(ctx, `SELECT maker_rate::text, taker_rate::text FROM fee_schedules
		WHERE (grp = $1 OR grp = '') AND (market = $2 OR market = '')
		ORDER BY (grp = $1 AND $1 <> '') DESC, (market = $2 AND $2 <> '') DESC LIMIT 1`, group, market).Scan(&maker, &taker)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := taker
	if liquidity == "maker" {
		s = maker
	}
	return ledger.ParseStoredOptional(&s)
}
