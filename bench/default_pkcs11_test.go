//go:build cgo

package bench_test

import (
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// A fresh SoftHSM2 token, with softhsmtest's session pool size
// (max-sessions=4), which the raw baseline and crypto11 get too.
func init() {
	registerDefault(defaultBackend{
		name:  "pkcs11",
		setup: func(tb testing.TB) string { return softhsmtest.NewToken(tb) },
	})
}
