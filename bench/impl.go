package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// An OpFunc performs a workload's operation once and returns its output: a
// signature, a plaintext, a shared key, or nil for Generate. worker numbers
// the calling goroutine, from 0 to p-1 for a run on p goroutines; calls
// with the same worker never overlap, calls with different workers do.
type OpFunc func(worker int) ([]byte, error)

// An Impl is one implementation of a [Workload]: cryptoplug's own
// ("backend"), the same work without cryptoplug ("baseline"), or a peer
// library ("crypto11", "go-tpm-tools").
type Impl struct {
	// Name is the impl part of the result's name. It must not contain "/".
	Name string
	// Op performs the operation. It must be safe for concurrent use.
	Op OpFunc
	// Check verifies one output of Op; nil checks nothing. Run calls it
	// outside the timed loop on the first, middle and last output.
	Check func(out []byte) error
	// Begin, if not nil, is called before every timed run of Op and the
	// function it returns after it, outside the timed loop: for an impl
	// that needs exclusive use of a device while it runs.
	Begin func(ctx context.Context) (end func(), err error)
	// Close, if not nil, releases what the impl holds, after its last run.
	Close func() error
}

// backendImpl is the workload done through cryptoplug. For Generate,
// labels are per worker (a worker deletes its key before making the next),
// for up to maxWorkers workers.
func backendImpl(be backend.Backend, w *Workload, labelPrefix string, maxWorkers int) (Impl, error) {
	im := Impl{Name: "backend"}
	switch w.Op {
	case Sign:
		s, err := w.Key.Signer()
		if err != nil {
			return im, err
		}
		msg, opts := w.Message, w.SignerOpts
		im.Op = func(int) ([]byte, error) { return s.Sign(rand.Reader, msg, opts) }
		pub := w.Key.Public()
		im.Check = func(sig []byte) error { return w.Verify(pub, sig) }
	case Decrypt:
		d, err := w.Key.Decrypter()
		if err != nil {
			return im, err
		}
		ct, want, err := w.Ciphertext(w.Key.Public())
		if err != nil {
			return im, err
		}
		opts := w.DecrypterOpts
		im.Op = func(int) ([]byte, error) { return d.Decrypt(rand.Reader, ct, opts) }
		im.Check = checkEqual(want)
	case Decapsulate:
		d, err := w.Key.Decapsulator()
		if err != nil {
			return im, err
		}
		ct, want, err := w.Ciphertext(w.Key.Public())
		if err != nil {
			return im, err
		}
		im.Op = func(int) ([]byte, error) { return d.Decapsulate(ct) }
		im.Check = checkEqual(want)
	case Generate:
		labels := make([]string, maxWorkers)
		for i := range labels {
			labels[i] = fmt.Sprintf("%s-w%d", labelPrefix, i)
		}
		alg := w.Algorithm
		ctx := context.Background()
		im.Op = func(worker int) ([]byte, error) {
			k, err := be.GenerateKey(ctx, backend.KeySpec{Algorithm: alg, Label: labels[worker]})
			if err != nil {
				return nil, err
			}
			if k.Algorithm() != alg {
				return nil, fmt.Errorf("generated a %s key, want %s", k.Algorithm(), alg)
			}
			return nil, be.DeleteKey(ctx, backend.ByID(k.ID()))
		}
	default:
		return im, fmt.Errorf("unknown operation %q", w.Op)
	}
	return im, nil
}

// signerImpl is a baseline or peer that signs with s, whose outputs are
// checked against s's public key.
func signerImpl(name string, w *Workload, s crypto.Signer) Impl {
	msg, opts := w.Message, w.SignerOpts
	pub := s.Public()
	return Impl{
		Name:  name,
		Op:    func(int) ([]byte, error) { return s.Sign(rand.Reader, msg, opts) },
		Check: func(sig []byte) error { return w.Verify(pub, sig) },
	}
}

// decrypterImpl is a baseline or peer that decrypts with d.
func decrypterImpl(name string, w *Workload, d crypto.Decrypter) (Impl, error) {
	ct, want, err := w.Ciphertext(d.Public())
	if err != nil {
		return Impl{}, err
	}
	opts := w.DecrypterOpts
	return Impl{
		Name:  name,
		Op:    func(int) ([]byte, error) { return d.Decrypt(rand.Reader, ct, opts) },
		Check: checkEqual(want),
	}, nil
}
