package stream

import (
	"context"
	"time"
)

// backoff is an exponential pause, from 100 ms doubling up to 5 s: how a
// consumer waits for a database, ingester or broker to come back, never
// spinning.
type backoff struct{ next time.Duration }

const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// wait pauses, then doubles the next pause; it returns ctx's error if ctx
// ends first.
func (b *backoff) wait(ctx context.Context) error {
	if b.next < backoffMin {
		b.next = backoffMin
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, backoffMax)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reset makes the next pause the shortest again.
func (b *backoff) reset() { b.next = 0 }
