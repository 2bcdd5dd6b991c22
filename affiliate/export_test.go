package affiliate

import "context"

// FoldRound is one round of the folder as RunFolder sees it: what it
// folded and whether a shard was left more than one batch behind.
func (s *Service) FoldRound(ctx context.Context, batch int) (int, bool, error) {
	return s.foldStats(ctx, batch)
}

// ForgetFoldMemory drops what the trade writer handed over, as a restart
// would: every fold then reads the database.
func (s *Service) ForgetFoldMemory() {
	s.foldMem.mu.Lock()
	defer s.foldMem.mu.Unlock()
	s.foldMem.shards, s.foldMem.rows = map[int][]foldSegment{}, 0
}
