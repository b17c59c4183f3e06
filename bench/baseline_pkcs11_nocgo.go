//go:build !cgo

package bench

import (
	"context"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// openPKCS11Baselines fails in a build without cgo: raw PKCS #11 calls and
// crypto11 need it (and so does the PKCS #11 backend itself).
func openPKCS11Baselines(context.Context, string) (Baselines, error) {
	return nil, fmt.Errorf("PKCS #11 baselines need cgo; this binary was built with CGO_ENABLED=0: %w", backend.ErrUnsupported)
}
