package bench_test

import (
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

// The software backend's in-memory store.
func init() {
	registerDefault(defaultBackend{
		name:  "software",
		setup: func(testing.TB) string { return "software:" },
	})
}
