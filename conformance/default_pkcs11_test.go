package conformance_test

import (
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// The PKCS #11 backend on a fresh SoftHSM2 token (cgo builds; SoftHSM2 from
// `make deps`).
func init() {
	registerDefault(defaultBackend{
		name:  "pkcs11-softhsm",
		setup: func(tb testing.TB) string { return softhsmtest.NewToken(tb) },
	})
}
