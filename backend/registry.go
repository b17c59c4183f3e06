package backend

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// OpenFunc opens a backend from its URI. It receives the whole URI string,
// scheme included, and may parse it with [ParseURI].
type OpenFunc func(ctx context.Context, uri string) (Backend, error)

// The registry is the only global state in cryptoplug: backends add
// themselves from init functions; Open reads it.
var registry = struct {
	sync.RWMutex
	open map[string]OpenFunc
}{open: map[string]OpenFunc{}}

// Register makes a backend available to [Open] under scheme (lowercase, as
// in "pkcs11"). It is meant to be called from a backend package's init
// function and panics if scheme is empty or already registered, like
// database/sql.Register.
func Register(scheme string, open OpenFunc) {
	registry.Lock()
	defer registry.Unlock()
	scheme = strings.ToLower(scheme)
	if scheme == "" || open == nil {
		panic("backend: Register with empty scheme or nil OpenFunc")
	}
	if _, dup := registry.open[scheme]; dup {
		panic("backend: Register called twice for scheme " + scheme)
	}
	registry.open[scheme] = open
}

// Schemes returns the registered URI schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.open))
	for s := range registry.open {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open opens the backend that uri names, choosing it by the URI's scheme.
// The scheme's backend package must have been imported (usually for its side
// effect). Errors name the URI with secrets removed and wrap
// [ErrInvalidInput] for a malformed URI, [ErrUnsupported] for an unknown
// scheme, [ErrAuth] for a refused PIN, or whatever the backend reports.
func Open(ctx context.Context, uri string) (Backend, error) {
	scheme, _, ok := strings.Cut(uri, ":")
	if !ok || !validScheme(scheme) {
		return nil, &Error{Op: "open", Backend: RedactURI(uri), Err: fmt.Errorf("want scheme:attributes: %w", ErrInvalidInput)}
	}
	registry.RLock()
	open := registry.open[strings.ToLower(scheme)]
	registry.RUnlock()
	if open == nil {
		return nil, &Error{Op: "open", Backend: RedactURI(uri), Err: fmt.Errorf("no backend registered for scheme %q (registered: %s; import its package): %w",
			scheme, strings.Join(Schemes(), ", "), ErrUnsupported)}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "open", Backend: RedactURI(uri), Err: err}
	}
	return open(ctx, uri)
}
