//go:build cgo

package pkcs11

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/tpm2pkcs11test"
	"github.com/stretchr/testify/require"
)

// TestSessionTableCallsAreSerialised opens and closes sessions from many
// goroutines at once on tpm2-pkcs11, through the pool's own calls.
// tpm2-pkcs11 1.9 changes its session table in C_OpenSession and
// C_CloseSession without a lock and hands out the lowest free handle:
// unserialised, this loop sees one handle given to two live sessions
// (dozens of times per run here) or crash with SIGSEGV, which is
// two goroutines driving one session — CKR_OPERATION_ACTIVE and
// CKR_OPERATION_NOT_INITIALIZED under load, as make test once saw in CI.
func TestSessionTableCallsAreSerialised(t *testing.T) {
	b := openURI(t, tpm2pkcs11test.NewToken(t))
	// The backend's pool without its PIN: C_Login takes tpm2-pkcs11's
	// token lock and would space the racing calls out.
	p := newPool(b.mod, b.pool.slot(), nil, 1)
	var live sync.Map
	var opened, shared atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				h, err := p.openAndLogin()
				if err != nil {
					continue // counted below: opened must reach most of the tries
				}
				opened.Add(1)
				if _, dup := live.LoadOrStore(h, true); dup {
					shared.Add(1)
					continue // the other holder closes it
				}
				live.Delete(h)
				p.closeHandle(h)
			}
		}()
	}
	wg.Wait()
	require.Zero(t, shared.Load(), "a session handle was handed to two live sessions")
	require.Greater(t, opened.Load(), int64(8*2000*9/10), "sessions could not be opened")
}
