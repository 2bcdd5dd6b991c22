package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// walProfile is `folio bench --wal-profile`: the WAL records written while
// the middle fifth of the trades was acknowledged (from 40% to 60% of
// --trades), by the relation each record's block belongs to, read with
// PostgreSQL's pg_walinspect (pg_get_wal_records_info, PostgreSQL 15+; the
// bench's connection must be allowed to create the extension and read the
// WAL: a superuser, as on the private cluster). The window is a part of the
// stream, so that reading it stays a few seconds however long the run; its
// figures are per trade acknowledged in it (the statistics folder's rows
// lag the trades by about a second: a window of 20% of a 300k run holds
// ~60 of its rounds).
type walProfile struct {
	db    *schema.DB
	total int64
	lsn   [2]string
	sent  [2]int64
	err   error
}

// walRelation is one line of the profile.
type walRelation struct {
	Relation        string  `json:"relation"`
	BytesPerTrade   float64 `json:"bytes_per_trade"`
	RecordsPerTrade float64 `json:"records_per_trade"`
}

// walWindow are the fractions of the trades that bound the window.
var walWindow = [2]float64{0.4, 0.6}

// observe notes the WAL insert position the first time the acknowledged
// trades reach each bound of the window (the stream calls it every tick).
func (p *walProfile) observe(ctx context.Context, sent int64) {
	for i, f := range walWindow {
		if p.lsn[i] != "" || p.err != nil || float64(sent) < f*float64(p.total) {
			continue
		}
		p.err = p.db.Pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&p.lsn[i])
		p.sent[i] = sent
	}
}

// report reads the window's records, grouped by relation (records of no
// relation by their resource manager), largest first.
func (p *walProfile) report(ctx context.Context) ([]walRelation, error) {
	if p.err != nil {
		return nil, fmt.Errorf("wal profile: %w", p.err)
	}
	if p.lsn[1] == "" || p.sent[1] <= p.sent[0] {
		return nil, errors.New("wal profile: the stream ended before 60% of --trades were acknowledged")
	}
	if _, err := p.db.Pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect`); err != nil {
		return nil, fmt.Errorf("wal profile: pg_walinspect: %w", err)
	}
	n := float64(p.sent[1] - p.sent[0])
	rows, err := p.db.Pool.Query(ctx, `SELECT coalesce(c.relname, r.resource_manager) AS rel, sum(r.record_length), count(*)
		FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn) r
		LEFT JOIN pg_class c ON c.relfilenode <> 0 AND c.relfilenode = substring(r.block_ref FROM 'rel [0-9]+/[0-9]+/([0-9]+)')::oid
		GROUP BY 1 ORDER BY 2 DESC`, p.lsn[0], p.lsn[1])
	if err != nil {
		return nil, fmt.Errorf("wal profile: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (walRelation, error) {
		var r walRelation
		var bytes, records int64
		err := row.Scan(&r.Relation, &bytes, &records)
		r.BytesPerTrade, r.RecordsPerTrade = float64(bytes)/n, float64(records)/n
		return r, err
	})
}
