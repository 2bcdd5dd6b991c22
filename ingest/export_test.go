package ingest

// Queued returns how many requests wait for g's writer.
func Queued(g *Ingester) int { return len(g.queue) }
