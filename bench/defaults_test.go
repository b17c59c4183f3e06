package bench_test

import "testing"

// defaultBackend is a backend BenchmarkBackends measures when -backend is
// empty or names it: an embedded default, set up from scratch.
type defaultBackend struct {
	name  string                     // the backend's URI scheme, and the results file's name
	setup func(tb testing.TB) string // prepares state under tb.TempDir() (tokens, dirs), returns the URI
}

// defaultBackends are measured in registration order. Files named
// default_<name>_test.go add theirs with registerDefault.
var defaultBackends []defaultBackend

func registerDefault(d defaultBackend) { defaultBackends = append(defaultBackends, d) }

func defaultByName(name string) (defaultBackend, bool) {
	for _, d := range defaultBackends {
		if d.name == name {
			return d, true
		}
	}
	return defaultBackend{}, false
}
