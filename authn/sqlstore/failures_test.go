package sqlstore_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

func TestFailureCounter(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ts := openTwo(t, dialect)
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			const halfLife = time.Hour

			// Failures from two processes at once all count.
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for i := range 20 {
				st := []*sqlstore.Store{ts.a, ts.b}[i%2]
				wg.Go(func() {
					_, _, err := st.AddFailure(ctx, "t", "k", now, halfLife)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			score, until, err := ts.a.AddFailure(ctx, "t", "k", now, halfLife)
			require.NoError(t, err)
			require.InDelta(t, 21, score, 1e-9)
			require.True(t, until.IsZero())

			// The score halves every half-life; a failure dated earlier than
			// the last does not undo decay.
			score, _, err = ts.b.AddFailure(ctx, "t", "k", now.Add(halfLife), halfLife)
			require.NoError(t, err)
			require.InDelta(t, 21.0/2+1, score, 1e-6)
			score, _, err = ts.b.AddFailure(ctx, "t", "k", now, halfLife)
			require.NoError(t, err)
			require.InDelta(t, 21.0/2+2, score, 1e-6)

			// Blocks only grow.
			later, sooner := now.Add(time.Minute), now.Add(time.Second)
			require.NoError(t, ts.a.BlockFailures(ctx, "t", "k", later))
			require.NoError(t, ts.b.BlockFailures(ctx, "t", "k", sooner))
			got, err := ts.b.FailureBlock(ctx, "t", "k")
			require.NoError(t, err)
			require.True(t, got.Equal(later), "got %v", got)
			_, until, err = ts.a.AddFailure(ctx, "t", "k", now.Add(halfLife), halfLife)
			require.NoError(t, err)
			require.True(t, until.Equal(later), "AddFailure returns the block in force")

			// Counts are independent by table and key; reset forgets one.
			got, err = ts.a.FailureBlock(ctx, "other", "k")
			require.NoError(t, err)
			require.True(t, got.IsZero())
			require.NoError(t, ts.a.ResetFailures(ctx, "t", "k"))
			score, _, err = ts.a.AddFailure(ctx, "t", "k", now, halfLife)
			require.NoError(t, err)
			require.Equal(t, 1.0, score)

			// Purging drops counts that block nothing and are a day old.
			n, err := ts.a.PurgeExpired(ctx, now.Add(25*time.Hour), now)
			require.NoError(t, err)
			require.Positive(t, n)
			score, _, err = ts.a.AddFailure(ctx, "t", "k", now.Add(25*time.Hour), halfLife)
			require.NoError(t, err)
			require.Equal(t, 1.0, score)
			require.False(t, math.IsNaN(score))

			_, _, err = ts.a.AddFailure(ctx, "t", "k", now, 0)
			require.Error(t, err, "a zero half-life is refused before any arithmetic")
		})
	}
}
