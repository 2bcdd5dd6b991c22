package affiliate

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5"
)

// maxCachedUsers bounds the user cache; past it the cache starts over, so
// memory stays flat however many users trade.
const maxCachedUsers = 250_000

// userCache keeps the users that trades read (traders and their referral
// chains) between transactions. Users' referrer, program, rate and kickback
// rate change only through the configuration calls, which increment the
// "users" row of cache_versions in their own transaction (bumpUsers); a
// trade transaction reads that row and uses the cache only when it was
// filled at the same version, so it never sees users older than its
// snapshot — in a cluster of servers too. The fields trades do not read
// (milestones, tax id) may be stale in cached users.
type userCache struct {
	mu      sync.Mutex
	version int64
	users   map[string]*User
}

// bumpUsers invalidates every server's user cache; call it in the
// transaction that changes a user's referrer, program, rate or kickback
// rate.
func bumpUsers(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE cache_versions SET version = version + 1 WHERE name = 'users'`)
	return err
}

// execUserChange runs an UPDATE of users' cached fields and invalidates the
// caches.
func execUserChange(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		return err
	}
	return bumpUsers(ctx, tx)
}

// usersVersion reads the "users" row of cache_versions as tx sees it: the
// version the cache must have been filled at to serve tx. A transaction
// reads it once (tradeBatch.usersVersion), not once per level of the
// referral chains it walks.
func usersVersion(ctx context.Context, tx pgx.Tx) (int64, error) {
	var version int64
	err := tx.QueryRow(ctx, `SELECT version FROM cache_versions WHERE name = 'users'`).Scan(&version)
	return version, err
}

// tradeUsers returns the users of ids as tx sees them, tx having read
// version (usersVersion): from the cache when it was filled at that
// version, loading (and caching) the others.
func (s *Service) tradeUsers(ctx context.Context, tx pgx.Tx, version int64, ids []string) (map[string]*User, error) {
	c := &s.userCache
	out := make(map[string]*User, len(ids))
	var missing []string
	c.mu.Lock()
	if c.users == nil || c.version != version {
		c.users, c.version = map[string]*User{}, version
	}
	for _, id := range ids {
		if u := c.users[id]; u != nil {
			out[id] = u
		} else if _, dup := out[id]; !dup {
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := loadUsers(ctx, tx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == version {
		if len(c.users)+len(loaded) > maxCachedUsers {
			c.users = map[string]*User{}
		}
		for id, u := range loaded {
			c.users[id] = u
		}
	}
	for id, u := range loaded {
		out[id] = u
	}
	return out, nil
}
