package ingest

// Queued returns the requests waiting for the writers (entries and every
// shard's trades).
func Queued(g *Ingester) int {
	n := len(g.queue)
	for _, q := range g.shardQ {
		n += len(q)
	}
	return n
}
