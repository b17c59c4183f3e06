package tpm

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// rawTPM hands a test the backend's TPM connection, locked, with k loaded
// (if k is not nil); the test must call unlock.
func rawTPM(t testing.TB, b *Backend, k backend.Key) (tpm transport.TPM, h tpm2.AuthHandle, unlock func()) {
	t.Helper()
	b.dev.sem <- struct{}{}
	if k != nil {
		var err error
		h, err = b.dev.loaded(b.dev.tpm, k.(*key).obj)
		if err != nil {
			b.dev.unlock()
			require.NoError(t, err)
		}
	}
	return b.dev.tpm, h, b.dev.unlock
}

// keySlots is the LRU's capacity.
func keySlots(b *Backend) int { return b.dev.lru.capacity }

type tpm2Transport = transport.TPM
