package affiliate

import (
	"context"
	"encoding/json"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// Program versions (see "Program versions and validity" in doc.go). Every
// PUT and DELETE of a program appends its whole configuration to
// program_versions; programs holds the latest. A version claims the trades
// executed from its valid_from on (every trade when it has none); a trade
// uses the newest version that claims it, and earns nothing when that
// version is disabled or its valid_to has passed at the trade's time.

// addVersion appends a program's configuration cfg as its next version.
func addVersion(ctx context.Context, tx pgx.Tx, id, cfg, actor string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO program_versions (program_id, version, config, actor, recorded_at)
		SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3, $4 FROM program_versions WHERE program_id = $1`, id, cfg, actor, now)
	return err
}

// ProgramVersion is one version of a program.
type ProgramVersion struct {
	Version    int64
	Spec       ProgramSpec
	Program    *Program
	Actor      string
	RecordedAt time.Time
}

// programVersions returns a program's versions, newest first.
func programVersions(ctx context.Context, q schema.Querier, reg *Registry, id string) ([]ProgramVersion, error) {
	rows, err := q.Query(ctx, `SELECT version, config::text, actor, recorded_at FROM program_versions WHERE program_id = $1 ORDER BY version DESC`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ProgramVersion
	for rows.Next() {
		var v ProgramVersion
		var cfg string
		if err := rows.Scan(&v.Version, &cfg, &v.Actor, &v.RecordedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(cfg), &v.Spec); err != nil {
			return nil, err
		}
		if v.Program, err = reg.Program(id, v.Spec); err != nil {
			return nil, folio.Errorf(folio.EINTERNAL, "stored program %s version %d no longer validates: %v", id, v.Version, err)
		}
		v.RecordedAt = v.RecordedAt.UTC()
		v.Program.Version, v.Program.RecordedAt = v.Version, v.RecordedAt
		out = append(out, v)
	}
	return out, rows.Err()
}

// ProgramVersions returns a program's versions, newest first.
func (s *Service) ProgramVersions(ctx context.Context, id string) ([]ProgramVersion, error) {
	vs, err := programVersions(ctx, s.DB.Pool, s.Rules, id)
	if err == nil && len(vs) == 0 {
		return nil, notFound("program", id)
	}
	return vs, err
}

// DisableProgram disables a program from now on (DELETE /v1/programs/{id}):
// a new version with the same configuration, disabled, valid from now.
// Trades executed before still use the versions that claim them; nothing
// is deleted. Disabling a disabled program changes nothing.
func (s *Service) DisableProgram(ctx context.Context, id, actor string) error {
	return s.DB.Tx(ctx, func(tx pgx.Tx) error {
		all, err := listPrograms(ctx, tx, s.Rules)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID != id {
				continue
			}
			if o.Spec.Disabled {
				return nil
			}
			now := s.now()
			spec := o.Spec
			spec.Disabled, spec.ValidFrom, spec.ValidTo = true, now.Format(time.RFC3339Nano), ""
			cfg, err := json.Marshal(spec)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE programs SET config = $2::jsonb, updated_at = $3 WHERE id = $1`, id, string(cfg), now); err != nil {
				return err
			}
			if err := addVersion(ctx, tx, id, string(cfg), actor, now); err != nil {
				return err
			}
			return audit(ctx, tx, now, actor, "program.disable", "program:"+id, o.Spec, spec)
		}
		return notFound("program", id)
	})
}

// at returns the version of program p (its latest) that claims a trade
// executed at t: p itself unless its valid_from is after t, else the
// newest older version claiming t (read once per batch), or nil when none
// does.
func (ps *programSet) at(ctx context.Context, q schema.Querier, reg *Registry, p *Program, t time.Time) (*Program, error) {
	if p.ValidFrom == nil || !t.Before(*p.ValidFrom) {
		return p, nil
	}
	vs, ok := ps.versions[p.ID]
	if !ok {
		all, err := programVersions(ctx, q, reg, p.ID)
		if err != nil {
			return nil, err
		}
		for _, v := range all {
			vs = append(vs, v.Program)
		}
		if ps.versions == nil {
			ps.versions = map[string][]*Program{}
		}
		ps.versions[p.ID] = vs
	}
	for _, v := range vs {
		if v.Version < p.Version && (v.ValidFrom == nil || !t.Before(*v.ValidFrom)) {
			return v, nil
		}
	}
	return nil, nil
}

// bountyVersions returns, for each bounty program of ps, the version that
// claims an event at t (programSet.at), leaving out those with none, or
// whose version is disabled or not valid at t: a bounty, like a trade,
// pays under the version valid at its event's time.
func (s *Service) bountyVersions(ctx context.Context, q schema.Querier, ps *programSet, bounties []*Program, t time.Time) ([]*Program, error) {
	var out []*Program
	for _, p := range bounties {
		v, err := ps.at(ctx, q, s.Rules, p, t.UTC())
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if code, _ := v.validAt(t.UTC()); code != "" {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}
