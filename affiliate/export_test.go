package affiliate

import "context"

// FoldRound is one round of the folder as RunFolder sees it: what it
// folded and whether a shard was left more than one batch behind.
func (s *Service) FoldRound(ctx context.Context, batch int) (int, bool, error) {
	return s.foldStats(ctx, batch)
}
