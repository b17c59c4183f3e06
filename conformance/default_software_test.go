package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

// The software backend's two stores: in memory, and an encrypted directory
// whose passphrase comes from a file (created at the lowest scrypt cost, set
// in TestMain, since only tests open it).
func init() {
	registerDefault(defaultBackend{
		name:  "software-memory",
		setup: func(testing.TB) string { return "software:" },
	})
	registerDefault(defaultBackend{
		name: "software-dir",
		setup: func(tb testing.TB) string {
			dir := tb.TempDir()
			pass := filepath.Join(dir, "passphrase")
			if err := os.WriteFile(pass, []byte("cryptoplug conformance passphrase\n"), 0o600); err != nil {
				tb.Fatal(err)
			}
			return "software:dir=" + filepath.Join(dir, "keys") + "?pin-source=file:" + pass
		},
	})
}
