package payouts

import "context"

// BuildAutoForTest builds a realtime program's batches as the scheduler
// does, without paying the auto batch.
func (s *Service) BuildAutoForTest(ctx context.Context, program string) (*Batch, bool, error) {
	return s.BuildBatchAs(ctx, BuildOptions{Program: program, autoPay: true}, Actor{ID: "scheduler"})
}

// PayAutoForTest is payAuto.
func (s *Service) PayAutoForTest(ctx context.Context, id string) (*Batch, error) {
	return s.payAuto(ctx, id)
}
