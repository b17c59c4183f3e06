//go:build cgo

package pkcs11

import (
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// refs is how many users hold the SoftHSM2 module in this process.
func refs() int { return module.Refs(softhsmtest.ModulePath) }
