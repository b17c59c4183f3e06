package backend

import (
	"context"
	"crypto"
	"crypto/mlkem"
	"fmt"
)

// DecapsulateFunc is a store's ML-KEM decapsulation: it returns the shared
// key for ciphertext, whose length the adapter has checked. A malformed
// ciphertext yields the implicit-rejection key, as crypto/mlkem does, not an
// error. Errors are returned unwrapped: the adapter wraps them.
type DecapsulateFunc func(ctx context.Context, ciphertext []byte) ([]byte, error)

// NewDecapsulator returns a [Decapsulator] for the ML-KEM key k describes
// that decapsulates through decapsulate. A ciphertext whose length is not
// the algorithm's fails with [ErrInvalidInput] before the store is called;
// every error is an [*Error] for op "decapsulate". k.Public must be a
// [crypto.Encapsulator].
func NewDecapsulator(k StoreKey, decapsulate DecapsulateFunc) Decapsulator {
	return &decapsulator{k: k, decapsulate: decapsulate}
}

type decapsulator struct {
	k           StoreKey
	decapsulate DecapsulateFunc
}

// Encapsulator returns the key's encapsulation key.
func (d *decapsulator) Encapsulator() crypto.Encapsulator {
	e, _ := d.k.Public.(crypto.Encapsulator)
	return e
}

// Decapsulate is DecapsulateContext bounded by the store's timeout.
func (d *decapsulator) Decapsulate(ciphertext []byte) ([]byte, error) {
	ctx, cancel := d.k.opContext()
	defer cancel()
	return d.DecapsulateContext(ctx, ciphertext)
}

// DecapsulateContext returns the shared key ciphertext carries.
func (d *decapsulator) DecapsulateContext(ctx context.Context, ciphertext []byte) (shared []byte, err error) {
	const op = "decapsulate"
	if err := d.k.begin(ctx); err != nil {
		return nil, d.k.fail(op, err)
	}
	if want := CiphertextSize(d.k.Algorithm); len(ciphertext) != want {
		return nil, d.k.fail(op, fmt.Errorf("ciphertext is %d bytes, %s needs %d: %w", len(ciphertext), d.k.Algorithm, want, ErrInvalidInput))
	}
	defer d.k.recoverPanic(op, &err)
	shared, err = d.decapsulate(ctx, ciphertext)
	if err != nil {
		return nil, d.k.fail(op, err)
	}
	return shared, nil
}

// CiphertextSize returns the length of an ML-KEM ciphertext for a, and 0
// for algorithms that do not decapsulate.
func CiphertextSize(a Algorithm) int {
	switch a {
	case MLKEM768:
		return mlkem.CiphertextSize768
	case MLKEM1024:
		return mlkem.CiphertextSize1024
	}
	return 0
}
