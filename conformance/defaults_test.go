package conformance_test

import "testing"

// defaultBackend is a backend TestConformance runs when no -backend is
// given: its embedded default, set up from scratch under a temporary
// directory. Backend packages add theirs from an init function in a file of
// their own (default_<name>_test.go) with registerDefault.
type defaultBackend struct {
	name  string                     // "software-memory", "software-dir", later "pkcs11-softhsm", "tpm-simulator"
	setup func(tb testing.TB) string // prepares state under tb.TempDir() (tokens, dirs, env), returns the URI
}

// defaultBackends are run in registration order, each as
// TestConformance/<name>/<check>/<algorithm>.
var defaultBackends []defaultBackend

func registerDefault(d defaultBackend) { defaultBackends = append(defaultBackends, d) }
