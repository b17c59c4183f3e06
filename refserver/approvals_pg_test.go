package refserver_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// signatures counts every signature the "counting:" backend makes: the
// witness, outside the server, of how often an approved task ran.
var signatures atomic.Int64

// The "counting:" backend is the software backend (in memory) with its
// signers counted.
func init() {
	backend.Register("counting", func(ctx context.Context, _ string) (backend.Backend, error) {
		b, err := backend.Open(ctx, "software:")
		return countingBackend{b}, err
	})
}

type countingBackend struct{ backend.Backend }

func (b countingBackend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	k, err := b.Backend.GenerateKey(ctx, spec)
	if err != nil {
		return nil, err
	}
	return countingKey{k}, nil
}

func (b countingBackend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	k, err := b.Backend.Key(ctx, ref)
	if err != nil {
		return nil, err
	}
	return countingKey{k}, nil
}

type countingKey struct{ backend.Key }

func (k countingKey) Signer() (backend.Signer, error) {
	s, err := k.Key.Signer()
	if err != nil {
		return nil, err
	}
	return countingSigner{s}, nil
}

type countingSigner struct{ backend.Signer }

func (s countingSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	signatures.Add(1)
	return s.Signer.SignContext(ctx, rand, digest, opts)
}

// TestApprovalTwoInstancesOnePostgres: two server instances share one
// PostgreSQL database and one backend, as a load-balanced deployment does.
// Approvals race through both (each approver counts once, the task is
// approved once), and then many collections of the approved task race
// through both: exactly one runs the operation and returns the signature,
// every other is refused, and the backend signed exactly once per task.
func TestApprovalTwoInstancesOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test starts a PostgreSQL cluster; make test runs it")
	}
	ctx := context.Background()
	f := newApprovalFixture(t, refservertest.Options{PostgresDSN: pgtest.Shared(t).NewSchema(t), BackendURI: "counting:"}, 3)
	_, srv2 := f.in.Restart(t)
	hs2 := httptest.NewServer(srv2)
	t.Cleanup(hs2.Close)
	second := func(sess string) *client.Client { // the same principal, through the second instance
		c, err := client.New(hs2.URL, client.WithCredential(client.Bearer(sess)))
		require.NoError(t, err)
		return c
	}
	requesters := []*client.Client{f.requester, second(f.requesterSession)}
	type approverPair struct {
		a       approverFixture
		clients []*client.Client
	}
	var approvers []approverPair
	for _, a := range f.approvers {
		approvers = append(approvers, approverPair{a, []*client.Client{a.c, second(a.session)}})
	}
	k := f.key(t, "shared", "ECDSA-P256", wire.KeyPolicy{Use: rule(2, f.approvers...)})
	pub, err := wire.ParsePublicKey(k.PublicKey)
	require.NoError(t, err)

	for round := range 3 {
		digest := sha256.Sum256([]byte{byte(round)})
		_, err := requesters[round%2].Sign(ctx, wire.SignRequest{Label: "shared", Digest: digest[:], Hash: "SHA-256"})
		id := parked(t, err)
		task, err := f.approvers[0].c.ApprovalTask(ctx, id)
		require.NoError(t, err)

		// Every approver, through both instances at once.
		var wg sync.WaitGroup
		var accepted atomic.Int32
		start := make(chan struct{})
		errs := make(chan error, 2*len(approvers))
		for _, ap := range approvers {
			for _, c := range ap.clients {
				wg.Go(func() {
					<-start
					_, err := c.Approve(ctx, task, ap.a.signer)
					if err == nil {
						accepted.Add(1)
						return
					}
					errs <- err
				})
			}
		}
		close(start)
		wg.Wait()
		close(errs)
		require.Equal(t, int32(2), accepted.Load(), "round %d: exactly the quorum is recorded", round)
		for err := range errs {
			require.True(t, client.IsCode(err, wire.CodeConflict) || client.IsCode(err, wire.CodeTaskClosed), "round %d: %v", round, err)
		}

		// Sixteen collections, through both instances at once.
		before := signatures.Load()
		var sigs [][]byte
		var mu sync.Mutex
		var refused atomic.Int32
		start = make(chan struct{})
		for i := range 16 {
			wg.Go(func() {
				<-start
				res, err := requesters[i%2].CollectApprovalRequest(ctx, id)
				if err != nil {
					if client.IsCode(err, wire.CodeTaskClosed) && strings.Contains(err.Error(), "the task") {
						refused.Add(1)
					}
					return
				}
				mu.Lock()
				sigs = append(sigs, res.Signature)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		require.Len(t, sigs, 1, "round %d: one collection ran the task", round)
		require.Equal(t, int32(15), refused.Load(), "round %d: the others were told it is closed", round)
		require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sigs[0]))
		require.Equal(t, before+1, signatures.Load(), "round %d: the backend signed once", round)
		_, err = requesters[(round+1)%2].CollectApprovalRequest(ctx, id)
		require.ErrorIs(t, err, autherr.ErrTaskClosed)
	}
}
