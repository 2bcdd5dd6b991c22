package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/audit"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// LoadChart reads the chart of accounts and the currencies.
func LoadChart(ctx context.Context, q schema.Querier) (*Chart, error) {
	rows, err := q.Query(ctx, `SELECT code, name, type, normal_side, per_holder, balance_rule, builtin FROM account_codes`)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	codes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Code, error) {
		var c Code
		err := r.Scan(&c.Code, &c.Name, &c.Type, &c.Normal, &c.PerHolder, &c.Rule, &c.Builtin)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT id, precision, enabled FROM currencies`)
	if err != nil {
		return nil, fmt.Errorf("load currencies: %w", err)
	}
	curs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Currency, error) {
		var c Currency
		err := r.Scan(&c.ID, &c.Precision, &c.Enabled)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("load currencies: %w", err)
	}
	return NewChart(codes, curs), nil
}

// InUse reports whether the journal has an account of code in currency
// (an empty code or currency matches any): whether it has been posted to.
// The chart sits below the journal and does not read it; the caller passes
// the journal's check, ledger.InUse, to PutCurrency and PutCode.
type InUse func(ctx context.Context, q schema.Querier, code, currency string) (bool, error)

// PutCurrency creates or updates a currency. The precision of a currency
// that has been posted to (inUse, which must not be nil) cannot change
// (conflict): stored amounts were validated against it. The change is
// written to the audit log.
func PutCurrency(ctx context.Context, tx pgx.Tx, c Currency, actor string, now time.Time, inUse InUse) (created bool, err error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	var before *Currency
	var old Currency
	err = tx.QueryRow(ctx, `SELECT id, precision, enabled FROM currencies WHERE id = $1 FOR UPDATE`, c.ID).Scan(&old.ID, &old.Precision, &old.Enabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, err
	default:
		before = &old
	}
	if before != nil && *before == c {
		return false, nil
	}
	if before != nil && before.Precision != c.Precision {
		used, err := inUse(ctx, tx, "", c.ID)
		if err != nil {
			return false, err
		}
		if used {
			return false, folio.Errorf(folio.ECONFLICT, "currency %s has postings; its precision cannot change from %d to %d", c.ID, before.Precision, c.Precision)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO currencies (id, precision, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (id) DO UPDATE SET precision = excluded.precision, enabled = excluded.enabled, updated_at = excluded.updated_at`,
		c.ID, c.Precision, c.Enabled, now); err != nil {
		return false, err
	}
	return before == nil, audit.Write(ctx, tx, audit.Record{At: now, Actor: actor, Action: "currency.put", Object: "currency:" + c.ID, Before: currencyJSON(before), After: currencyJSON(&c)})
}

// PutCode adds an account code to the chart, or renames it / changes its
// balance rule. The type, normal side and per-holder flag of a code that has
// been posted to (inUse, which must not be nil) never change (conflict);
// built-in codes keep theirs always.
func PutCode(ctx context.Context, tx pgx.Tx, c Code, actor string, now time.Time, inUse InUse) (created bool, err error) {
	c.Builtin = false
	if err := c.Validate(); err != nil {
		return false, err
	}
	var old Code
	err = tx.QueryRow(ctx, `SELECT code, name, type, normal_side, per_holder, balance_rule, builtin FROM account_codes WHERE code = $1 FOR UPDATE`, c.Code).
		Scan(&old.Code, &old.Name, &old.Type, &old.Normal, &old.PerHolder, &old.Rule, &old.Builtin)
	var before *Code
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, err
	default:
		before = &old
		c.Builtin = old.Builtin
	}
	if before != nil && (before.Type != c.Type || before.Normal != c.Normal || before.PerHolder != c.PerHolder) {
		if before.Builtin {
			return false, folio.Errorf(folio.ECONFLICT, "account code %s is built in; its type, normal side and per-holder flag cannot change", c.Code)
		}
		used, err := inUse(ctx, tx, c.Code, "")
		if err != nil {
			return false, err
		}
		if used {
			return false, folio.Errorf(folio.ECONFLICT, "account code %s has postings; its type, normal side and per-holder flag cannot change", c.Code)
		}
	}
	if before != nil && *before == c {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO account_codes (code, name, type, normal_side, per_holder, balance_rule, builtin, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, type = excluded.type, normal_side = excluded.normal_side,
			per_holder = excluded.per_holder, balance_rule = excluded.balance_rule, updated_at = excluded.updated_at`,
		c.Code, c.Name, c.Type, c.Normal, c.PerHolder, c.Rule, c.Builtin, now); err != nil {
		return false, err
	}
	return before == nil, audit.Write(ctx, tx, audit.Record{At: now, Actor: actor, Action: "chart.put", Object: "code:" + c.Code, Before: codeJSON(before), After: codeJSON(&c)})
}

func currencyJSON(c *Currency) json.RawMessage {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"id": c.ID, "precision": c.Precision, "enabled": c.Enabled})
	return b
}

func codeJSON(c *Code) json.RawMessage {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"code": c.Code, "name": c.Name, "type": c.Type, "normal_side": c.Normal,
		"per_holder": c.PerHolder, "balance_rule": c.Rule, "builtin": c.Builtin})
	return b
}
