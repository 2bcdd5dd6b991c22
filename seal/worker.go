package seal

import (
	"context"
	"time"
)

// Run seals the journal every interval until ctx is done (Seal does
// nothing when no shard moved). Errors are passed to logf and the next
// tick tries again. Several servers may run it on one database: their
// seals never fork the chain (see Seal).
func (s *Service) Run(ctx context.Context, interval time.Duration, logf func(format string, args ...any)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, _, err := s.Seal(ctx); err != nil && ctx.Err() == nil {
			logf("seal the journal: %v", err)
		}
	}
}
