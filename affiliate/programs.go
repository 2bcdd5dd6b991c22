package affiliate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/accounts"
	"github.com/folioledger/folio/schema"
	"github.com/jackc/pgx/v5"
)

// StoredProgram is a program with its configuration as given.
type StoredProgram struct {
	ID        string
	Spec      ProgramSpec
	Program   *Program
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64 // the latest version (program_versions)
}

// programSet is every configured program, for resolution.
type programSet struct {
	byID     map[string]*Program
	groups   map[string]*Program // group → program
	def      *Program
	bounties []*Program
	// bountyGroups restricts a bounty program (by id) to the users of
	// these groups; a bounty program without groups applies to every user.
	bountyGroups map[string][]string
	// versions holds, per program id, its older versions read on demand
	// (programSet.at), newest first.
	versions map[string][]*Program
}

// bountiesFor returns the bounty programs that apply to u: those without
// groups, and those listing u's group.
func (ps *programSet) bountiesFor(u *User) []*Program {
	var out []*Program
	for _, p := range ps.bounties {
		if gs := ps.bountyGroups[p.ID]; len(gs) == 0 || (u.Group != "" && slices.Contains(gs, u.Group)) {
			out = append(out, p)
		}
	}
	return out
}

// resolve returns the trade program of u: its own assignment, else its
// group's, else the default (nil: none).
func (ps *programSet) resolve(u *User) *Program {
	if p := ps.byID[u.ProgramID]; u.ProgramID != "" && p != nil {
		return p
	}
	if p := ps.groups[u.Group]; u.Group != "" && p != nil {
		return p
	}
	return ps.def
}

func loadPrograms(ctx context.Context, q schema.Querier, reg *Registry) (*programSet, error) {
	all, err := listPrograms(ctx, q, reg)
	if err != nil {
		return nil, err
	}
	ps := &programSet{byID: map[string]*Program{}, groups: map[string]*Program{}, bountyGroups: map[string][]string{}}
	for _, sp := range all {
		p := sp.Program
		ps.byID[p.ID] = p
		if p.Kind == KindBounty {
			ps.bounties = append(ps.bounties, p)
			ps.bountyGroups[p.ID] = sp.Spec.Groups
			continue
		}
		if p.Default {
			ps.def = p
		}
		for _, g := range sp.Spec.Groups {
			ps.groups[g] = p
		}
	}
	return ps, nil
}

func listPrograms(ctx context.Context, q schema.Querier, reg *Registry) ([]StoredProgram, error) {
	rows, err := q.Query(ctx, `SELECT id, config::text, created_at, updated_at,
			coalesce((SELECT max(v.version) FROM program_versions v WHERE v.program_id = programs.id), 0)
		FROM programs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredProgram
	for rows.Next() {
		var sp StoredProgram
		var cfg string
		if err := rows.Scan(&sp.ID, &cfg, &sp.CreatedAt, &sp.UpdatedAt, &sp.Version); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(cfg), &sp.Spec); err != nil {
			return nil, err
		}
		if sp.Program, err = reg.Program(sp.ID, sp.Spec); err != nil {
			// A program stored under a rule no longer registered is
			// reported, never silently skipped.
			return nil, folio.Errorf(folio.EINTERNAL, "stored program %s no longer validates: %v", sp.ID, err)
		}
		sp.CreatedAt, sp.UpdatedAt = sp.CreatedAt.UTC(), sp.UpdatedAt.UTC()
		sp.Program.Version, sp.Program.RecordedAt = sp.Version, sp.UpdatedAt
		out = append(out, sp)
	}
	return out, rows.Err()
}

// ListPrograms returns every program.
func (s *Service) ListPrograms(ctx context.Context) ([]StoredProgram, error) {
	return listPrograms(ctx, s.DB.Pool, s.Rules)
}

// PutProgram creates or replaces a program. Making it the default takes the
// default from any other program; a group belongs to one program. Amounts
// are checked against the chart in the same transaction (CheckAmounts): a
// bounty's currency must exist, no amount is ever rounded. Changes
// apply to trades recorded afterwards and are audit-logged.
func (s *Service) PutProgram(ctx context.Context, id string, spec ProgramSpec, actor string) (created bool, err error) {
	p, err := s.Rules.Program(id, spec)
	if err != nil {
		return false, err
	}
	sort.Strings(spec.Groups)
	for _, g := range spec.Groups {
		if !groupPattern.MatchString(g) || g == "" {
			return false, folio.Errorf(folio.EINVALID, "group %q must be 1 to 64 characters of A-Z a-z 0-9 . _ -", g)
		}
	}
	cfg, err := json.Marshal(spec)
	if err != nil {
		return false, err
	}
	err = s.DB.Tx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		chart, err := accounts.LoadChart(ctx, tx)
		if err != nil {
			return err
		}
		if err := CheckAmounts(p, spec.Payout, chart); err != nil {
			return err
		}
		if err := checkEligibilityAmounts(p, chart); err != nil {
			return err
		}
		all, err := listPrograms(ctx, tx, s.Rules)
		if err != nil {
			return err
		}
		var before *ProgramSpec
		for _, o := range all {
			if o.ID == id {
				sp := o.Spec
				before = &sp
				if old, _ := json.Marshal(sp); string(old) == string(cfg) {
					return errUnchanged
				}
				if o.Program.Kind != p.Kind {
					var used bool
					if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accruals_whole WHERE program_id = $1)`, id).Scan(&used); err != nil {
						return err
					}
					if used {
						return folio.Errorf(folio.ECONFLICT, "program %s has accruals; its kind cannot change from %s to %s", id, o.Program.Kind, p.Kind)
					}
				}
				continue
			}
			if p.Kind == KindBounty || o.Program.Kind == KindBounty {
				continue // a bounty's groups restrict who earns it; any number may name a group
			}
			for _, g := range o.Spec.Groups {
				for _, ng := range spec.Groups {
					if g == ng {
						return folio.Errorf(folio.ECONFLICT, "group %s already belongs to program %s", g, o.ID)
					}
				}
			}
		}
		if p.Default {
			for _, o := range all {
				if o.ID != id && o.Spec.Default {
					o.Spec.Default = false
					b, _ := json.Marshal(o.Spec)
					if _, err := tx.Exec(ctx, `UPDATE programs SET is_default = false, config = $2::jsonb, updated_at = $3 WHERE id = $1`, o.ID, string(b), now); err != nil {
						return err
					}
					if err := addVersion(ctx, tx, o.ID, string(b), actor, now); err != nil {
						return err
					}
					if err := audit(ctx, tx, now, actor, "program.default", "program:"+o.ID, map[string]bool{"default": true}, map[string]bool{"default": false}); err != nil {
						return err
					}
				}
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO programs (id, kind, is_default, config, created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, is_default = excluded.is_default, config = excluded.config, updated_at = excluded.updated_at`,
			id, p.Kind, p.Default, string(cfg), now); err != nil {
			return err
		}
		if err := addVersion(ctx, tx, id, string(cfg), actor, now); err != nil {
			return err
		}
		created = before == nil
		return audit(ctx, tx, now, actor, "program.put", "program:"+id, before, spec)
	})
	if err == errUnchanged {
		return false, nil
	}
	return created, err
}

// errUnchanged ends a transaction that has nothing to write.
var errUnchanged = errors.New("unchanged")
