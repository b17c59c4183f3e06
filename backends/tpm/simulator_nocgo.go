//go:build !cgo

package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// openSimulator fails: the simulator is C code linked in through cgo.
func openSimulator() (transport.TPMCloser, error) {
	return nil, fmt.Errorf("tpm:simulator needs the in-process TPM simulator, which is C code, but this program was built with CGO_ENABLED=0; "+
		"rebuild with CGO_ENABLED=1 (a C compiler and libssl-dev installed), or use tpm:swtpm=/path/to/socket or tpm:device=/dev/tpmrm0: %w",
		backend.ErrUnsupported)
}
