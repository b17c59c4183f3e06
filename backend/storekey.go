package backend

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
)

// StoreKey describes one key to the adapters that turn a store's single
// operation into the standard interfaces: [NewSigner], [NewDecrypter] and
// [NewDecapsulator]. A backend fills one in per key; the adapters own what
// every backend would otherwise repeat: the timeout of the methods without a
// context, the checks of the context and of the key's state, parsing and
// checking the caller's options (see [ParseSignOptions] and
// [ParseDecryptOptions]), wrapping errors in [*Error], and turning a panic
// into [ErrInternal].
type StoreKey struct {
	// Backend names the backend in errors (its name or redacted URI).
	Backend string
	// Key names the key in errors: its label, or its hex ID.
	Key string
	// Algorithm is the key's algorithm.
	Algorithm Algorithm
	// Public is the key's public key, returned by the adapters' Public.
	Public crypto.PublicKey
	// Timeout bounds the methods without a context (Sign, Decrypt,
	// Decapsulate, SignMessage). Zero means no bound, for stores whose
	// operations cannot block.
	Timeout time.Duration
	// Check, if not nil, runs before every operation and returns a non-nil
	// error when the key cannot be used: one wrapping [ErrClosed] after the
	// backend was closed, [ErrKeyNotFound] after the key was deleted.
	Check func() error
}

// noCancel is the CancelFunc of a context without a timeout.
func noCancel() {}

// opContext returns the context for a method without one.
func (k *StoreKey) opContext() (context.Context, context.CancelFunc) {
	if k.Timeout <= 0 {
		return context.Background(), noCancel
	}
	return context.WithTimeout(context.Background(), k.Timeout)
}

// begin checks, before an operation, the caller's context and the key.
func (k *StoreKey) begin(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("nil context: %w", ErrInvalidInput)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if k.Check != nil {
		return k.Check()
	}
	return nil
}

// fail wraps err for op, once.
func (k *StoreKey) fail(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Op: op, Backend: k.Backend, Key: k.Key, Err: err}
}

// recoverPanic turns a panic in the store's function into an error wrapping
// ErrInternal. Deferred by the adapters around the store call.
func (k *StoreKey) recoverPanic(op string, err *error) {
	if p := recover(); p != nil {
		*err = k.fail(op, fmt.Errorf("the store's %s panicked (%v): %w", op, p, ErrInternal))
	}
}

// randOrDefault returns r, or crypto/rand's reader when r is nil.
func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
