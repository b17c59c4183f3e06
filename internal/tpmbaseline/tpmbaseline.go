// Package tpmbaseline lets this module's benchmark harness take a TPM
// backend's connection, to time raw TPM commands beside the backend's own.
// It is internal so that no program outside the module can stall every TPM
// backend in its process: package tpm fills in [Lock] when it is linked.
package tpmbaseline

import (
	"context"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Lock takes exclusive use of the TPM of b (a *tpm.Backend) and returns its
// connection. With a key k of b, k is loaded (if it was not) and h is its
// handle; with a nil k, every key the process has loaded is flushed first
// (the backends reload them when next used), so the caller can load its
// own into the TPM's few transient slots and must flush them before it
// unlocks. Until unlock is called, every operation of every backend on this
// TPM waits; unlock may be called more than once.
//
// It is nil until package tpm is linked into the program.
var Lock func(ctx context.Context, b backend.Backend, k backend.Key) (t transport.TPM, h tpm2.AuthHandle, unlock func(), err error)
