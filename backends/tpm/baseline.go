package tpm

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// LockForBaseline is for benchmark baselines (package bench) only: it
// takes exclusive use of b's TPM and returns the connection to it, so that
// a benchmark can time raw TPM commands against the backend's.
//
// With a key k of b, k is loaded (if it was not) and h is its handle. With
// a nil k, every key this process has loaded in the TPM is flushed first
// (the backends reload them when next used), so the caller can load keys
// of its own into the TPM's few transient slots; it must flush them again
// before it unlocks.
//
// Until unlock is called, every operation of every backend on this TPM
// waits. unlock may be called more than once.
func LockForBaseline(ctx context.Context, b *Backend, k backend.Key) (t transport.TPM, h tpm2.AuthHandle, unlock func(), err error) {
	const op = "lock for baseline"
	var obj *keyObject
	if k != nil {
		kk, ok := k.(*key)
		if !ok || kk.b != b {
			return nil, tpm2.AuthHandle{}, nil, backend.Errorf(op, b.name, "", fmt.Errorf("key is not from this backend: %w", backend.ErrInvalidInput))
		}
		obj = kk.obj
	}
	if err := b.check(ctx, op, keyName(obj)); err != nil {
		return nil, tpm2.AuthHandle{}, nil, err
	}
	if err := b.dev.lock(ctx); err != nil {
		return nil, tpm2.AuthHandle{}, nil, b.errorf(op, obj, err)
	}
	err = b.dev.doLocked(ctx, func(t transport.TPM) error {
		if obj == nil {
			for _, old := range b.dev.lru.drain() {
				flush(t, old.Handle)
			}
			return nil
		}
		var err error
		h, err = b.dev.loaded(t, obj)
		return err
	})
	if err != nil {
		b.dev.unlock()
		return nil, tpm2.AuthHandle{}, nil, b.errorf(op, obj, err)
	}
	var once sync.Once
	return b.dev.tpm, h, func() { once.Do(b.dev.unlock) }, nil
}
