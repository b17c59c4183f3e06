//go:build cgo

package tpm

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// simulatorSeed is drawn once per process. The simulator re-manufactures
// itself on every start; deriving its hierarchy seeds from one seed per
// process makes every start within the process yield the same SRK, so key
// files written before a Close load again after a reopen. The seed is
// never stored: a new process has a new simulator and cannot load the old
// files, which is what a test TPM should do.
var simulatorSeed = sync.OnceValue(func() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return int64(binary.LittleEndian.Uint64(b[:]))
})

// openSimulator starts the in-process Microsoft reference TPM. Only one
// runs per process; the device table (see [device]) shares it between
// backends, so this is called again only after the last one closed.
func openSimulator() (transport.TPMCloser, error) {
	sim, err := simulator.GetWithFixedSeedInsecure(simulatorSeed())
	if err != nil {
		return nil, fmt.Errorf("start TPM simulator: %w", err)
	}
	return transport.FromReadWriteCloser(sim), nil
}
