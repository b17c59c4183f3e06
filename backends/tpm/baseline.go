package tpm

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/tpmbaseline"
)

func init() { tpmbaseline.Lock = lockForBaseline }

// lockForBaseline is [tpmbaseline.Lock]: it takes exclusive use of b's TPM
// for a benchmark's raw baseline. It is reachable only from inside this
// module.
func lockForBaseline(ctx context.Context, bb backend.Backend, k backend.Key) (t transport.TPM, h tpm2.AuthHandle, unlock func(), err error) {
	const op = "lock for baseline"
	b, ok := bb.(*Backend)
	if !ok {
		return nil, tpm2.AuthHandle{}, nil, backend.Errorf(op, "", "", fmt.Errorf("%T is not a TPM backend: %w", bb, backend.ErrInvalidInput))
	}
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
