package bench

import (
	"context"
	"crypto"

	"github.com/cryptoplug/cryptoplug/backend"
)

// A Baseliner prepares the implementations a backend is compared with, for
// the backends of one URI scheme. Given [WithURI] (as [RunURI] does), [Run]
// calls it with that URI before it opens the backend, because some peers
// must be set up first: crypto11 fails to initialise a PKCS #11 module that
// is already initialised, while cryptoplug tolerates it. Without WithURI it
// is called after the backend is open, with the backend's redacted
// [backend.Info] URI. Run closes the result after the backend is closed.
type Baseliner func(ctx context.Context, uri string) (Baselines, error)

// Baselines hands out the baselines and peers for one backend.
type Baselines interface {
	// Impls returns the implementations of w to measure besides the
	// backend's own, named "baseline" for the same work without
	// cryptoplug and after the library for a peer. be is the open backend
	// and w.Key one of its keys. Impls returns those it could prepare; a
	// non-nil error says why others are missing, and the run logs it and
	// goes on.
	Impls(ctx context.Context, be backend.Backend, w *Workload) ([]Impl, error)
	// Close releases what the baselines hold. It is called after the
	// backend is closed.
	Close() error
}

// A KeyMaker is Baselines that make the backend's keys themselves, so that
// the backend and the baseline work with the same key. Where the backend
// implements [backend.Importer] and can import the algorithm, [Run] imports
// the key MakeKey returns instead of generating one in the backend, and
// passes it to Impls as [Workload].Private.
//
// It matters where the cost of an operation depends on the key: ML-DSA's
// deterministic signing repeats its rejection loop a number of times fixed
// by the key and the message, so on one message two keys can differ by a
// factor of two.
type KeyMaker interface {
	MakeKey(alg backend.Algorithm) (crypto.PrivateKey, error)
}

// builtinBaseliners are the baseliners for the backends in this module.
func builtinBaseliners() map[string]Baseliner {
	return map[string]Baseliner{
		"software": openSoftwareBaselines,
		"pkcs11":   openPKCS11Baselines,
		"tpm":      openTPMBaselines,
	}
}
