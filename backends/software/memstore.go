package software

import (
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// openMemory opens a fresh, empty in-memory store for "software:". It takes
// no attributes: a PIN or work factor without a dir is a mistake, not
// something to ignore.
func openMemory(u *backend.URI) (backend.Backend, error) {
	if len(u.Path) > 0 || len(u.Query) > 0 {
		return nil, backend.Errorf("open", u.Redacted(), "",
			fmt.Errorf("the in-memory store takes no attributes; add dir=/path for a directory store: %w", backend.ErrInvalidInput))
	}
	info := backend.Info{Name: Scheme, Kind: "memory", URI: u.Redacted(), Persistent: false}
	return newStore(Scheme, info, nil), nil
}
