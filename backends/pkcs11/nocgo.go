//go:build !cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Open errors, as in the cgo build. A binary built without cgo never
// returns them: its Open fails with errNoCgo.
var (
	ErrModuleLoad    = errors.New("PKCS #11 module cannot be loaded")
	ErrTokenNotFound = errors.New("PKCS #11 token not found")
)

var errNoCgo = fmt.Errorf("this binary was built without cgo (CGO_ENABLED=0), so it cannot load PKCS #11 modules; rebuild it with CGO_ENABLED=1 and a C compiler: %w", backend.ErrUnsupported)

// Backend is the PKCS #11 backend. In a binary built without cgo it cannot
// be opened.
type Backend struct{ backend.Backend }

func open(ctx context.Context, uri string) (backend.Backend, error) {
	b, err := Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Open fails, in a binary built without cgo, with an error wrapping
// [backend.ErrUnsupported] that says to rebuild with CGO_ENABLED=1. The URI
// is still checked first, so a malformed one is reported as such.
func Open(ctx context.Context, uri string) (*Backend, error) {
	cfg, err := ParseConfig(uri)
	if err != nil {
		return nil, &backend.Error{Op: "open", Backend: backend.RedactURI(uri), Err: err}
	}
	return nil, &backend.Error{Op: "open", Backend: cfg.Redacted(), Err: errNoCgo}
}
