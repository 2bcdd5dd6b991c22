package ledger

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/folioledger/folio/accounts"
)

// BalanceCacheRows bounds the balance rows a Ledger keeps in memory (about
// 300 bytes each). Past it, rows of the shard being written are dropped, in
// no particular order; a dropped row is read again when next needed.
const BalanceCacheRows = 1 << 18

// balanceCache keeps, for each journal shard, balance rows as they stand
// at one head of the shard's chain: its (seq, hash). A writer uses a
// shard's rows only when the head it has just locked is that one.
//
// That is enough for the rows to be exact, whoever else writes: the rows
// of (account, shard) change only with entries of that shard (routeOp
// sends every entry to the shard whose rows it moves), each of which
// advances the shard's seq and chains a new hash over the entry's content
// and id. A head equal to the cache's is therefore the same chain, and the
// same rows. Another process writing the shard, a transaction that rolled
// back after the cache recorded its rows, or a retry under CockroachDB all
// leave a head the cache does not know, and the shard's rows are dropped.
//
// It saves the writer's read of the rows it is about to update (a query of
// ~2 rows a trade, and their parsing), except for rows this process has not
// seen yet; the rows it writes are the ones it has just computed.
type balanceCache struct {
	mu     sync.Mutex
	shards map[int]*shardRows
	n      int          // rows held, over all shards
	read   atomic.Int64 // rows looked up in the database (tests)
}

// shardRows are one shard's balance rows as of the head (seq, hash).
type shardRows struct {
	seq  int64
	hash []byte
	rows map[accounts.Key]*Balance
}

// lookup returns the cached rows among keys, for the shards whose cached
// head is the one just locked (heads, before any entry is applied). Every
// other shard's cache starts over at its head. The rows returned are
// shared: balanceSet.apply copies a row before it changes it.
func (c *balanceCache) lookup(heads map[int]*head, keys []rowKey) map[rowKey]*Balance {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shards == nil {
		c.shards = map[int]*shardRows{}
	}
	for s, h := range heads {
		if sr := c.shards[s]; sr == nil || sr.seq != h.start || !bytes.Equal(sr.hash, h.startHash) {
			if sr != nil {
				c.n -= len(sr.rows)
			}
			c.shards[s] = &shardRows{seq: h.start, hash: h.startHash, rows: map[accounts.Key]*Balance{}}
		}
	}
	out := make(map[rowKey]*Balance, len(keys))
	for _, k := range keys {
		if b := c.shards[k.Shard].rows[k.Account]; b != nil {
			out[k] = b
		}
	}
	return out
}

// store records the rows of bs that exist once the batch commits, as the
// state of each locked shard at its new head. A shard whose cache changed
// since lookup (another transaction of this process on the same head, which
// only CockroachDB's retries allow) is dropped instead.
func (c *balanceCache) store(heads map[int]*head, bs *balanceSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, h := range heads {
		sr := c.shards[s]
		if sr == nil {
			continue
		}
		if sr.seq != h.start || !bytes.Equal(sr.hash, h.startHash) {
			c.n -= len(sr.rows)
			delete(c.shards, s)
			continue
		}
		sr.seq, sr.hash = h.seq, h.hash
	}
	for _, k := range bs.order {
		sr := c.shards[k.Shard]
		if sr == nil || !bs.stored[k] && !bs.dirty[k] {
			continue
		}
		if _, ok := sr.rows[k.Account]; !ok {
			c.n++
		}
		sr.rows[k.Account] = bs.rows[k]
		if c.n <= BalanceCacheRows {
			continue // no iteration started for nothing
		}
		for acct := range sr.rows {
			if c.n <= BalanceCacheRows {
				break
			}
			delete(sr.rows, acct)
			c.n--
		}
	}
}
