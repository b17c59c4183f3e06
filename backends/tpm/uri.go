package tpm

import (
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Scheme is the URI scheme this package registers with [backend.Register].
const Scheme = "tpm"

// transportKind says how the backend reaches its TPM.
type transportKind int

const (
	kindDevice    transportKind = iota + 1 // a character device: /dev/tpmrm0 or /dev/tpm0
	kindSwtpm                              // the swtpm daemon's Unix socket
	kindSimulator                          // the in-process reference TPM (cgo builds)
)

func (k transportKind) String() string {
	switch k {
	case kindDevice:
		return "device"
	case kindSwtpm:
		return "swtpm"
	case kindSimulator:
		return "simulator"
	}
	return "unknown"
}

// uriAttrs are the attributes a tpm URI may carry; anything else is a typo.
var uriAttrs = []string{"device", "swtpm", "simulator", "dir", "pin-source"}

// config is a parsed tpm URI. Secrets are not resolved here (pin-source is
// kept as written) so that parsing has no side effects.
type config struct {
	kind      transportKind
	path      string // device node or socket; empty for the simulator
	dir       string // where key files live, cleaned
	pinSource string // owner-hierarchy auth source, "" for empty auth
	uri       *backend.URI
}

// parseURI parses a tpm URI. Exactly one of device=, swtpm= or the
// simulator flag names the TPM; dir= is required. Errors wrap
// [backend.ErrInvalidInput] and never quote attribute values.
func parseURI(s string) (config, error) {
	u, err := backend.ParseURI(s)
	if err != nil {
		return config{}, err
	}
	if u.Scheme != Scheme {
		return config{}, fmt.Errorf("tpm backend: URI scheme %q is not %q: %w", u.Scheme, Scheme, backend.ErrInvalidInput)
	}
	if err := u.CheckAttrs(uriAttrs...); err != nil {
		return config{}, err
	}
	c := config{uri: u}
	n := 0
	for _, a := range append(append([]backend.Attr(nil), u.Path...), u.Query...) {
		var kind transportKind
		switch a.Name {
		case "device":
			kind = kindDevice
		case "swtpm":
			kind = kindSwtpm
		case "simulator":
			kind = kindSimulator
		default:
			continue
		}
		n++
		c.kind = kind
		if kind == kindSimulator {
			if a.HasValue {
				return config{}, fmt.Errorf("tpm URI: simulator is a flag and takes no value: %w", backend.ErrInvalidInput)
			}
			continue
		}
		path, _, err := u.FilePath(a.Name)
		if err != nil {
			return config{}, err
		}
		c.path = path
	}
	switch {
	case n == 0:
		return config{}, fmt.Errorf("tpm URI: name the TPM with device=/dev/tpmrm0, swtpm=/path/to/socket or simulator: %w", backend.ErrInvalidInput)
	case n > 1:
		return config{}, fmt.Errorf("tpm URI: device=, swtpm= and simulator exclude each other: %w", backend.ErrInvalidInput)
	}
	dir, ok, err := u.FilePath("dir")
	if err != nil {
		return config{}, err
	}
	if !ok {
		return config{}, fmt.Errorf("tpm URI: dir= is required (the directory holding the key files): %w", backend.ErrInvalidInput)
	}
	c.dir = dir
	if src, ok := u.Get("pin-source"); ok {
		if src == "" {
			return config{}, fmt.Errorf("tpm URI: pin-source= is empty: %w", backend.ErrInvalidInput)
		}
		c.pinSource = src
	}
	return c, nil
}

// ownerAuth resolves the owner hierarchy's authorization value from
// pin-source, or returns nil (empty auth, the default on a fresh TPM).
func (c config) ownerAuth() (backend.Secret, error) {
	if c.pinSource == "" {
		return nil, nil
	}
	pin, _, err := c.uri.PIN()
	return pin, err
}
