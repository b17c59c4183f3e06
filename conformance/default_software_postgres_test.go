package conformance_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

// The software backend's PostgreSQL store, on a throwaway cluster of its own
// (started here and stopped when the run ends, so that this file needs no
// TestMain of its own), with the DSN and the passphrase in files.
func init() {
	registerDefault(defaultBackend{
		name: "software-postgres",
		setup: func(tb testing.TB) string {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cluster, err := pgtest.Start(ctx)
			if err != nil {
				tb.Fatalf("PostgreSQL is required for this backend and could not start: %v", err)
			}
			tb.Cleanup(func() {
				if err := cluster.Stop(); err != nil {
					tb.Error(err)
				}
			})
			dir := tb.TempDir()
			dsn, pass := filepath.Join(dir, "dsn"), filepath.Join(dir, "passphrase")
			for file, content := range map[string]string{dsn: cluster.DSN(), pass: "cryptoplug conformance passphrase"} {
				if err := os.WriteFile(file, []byte(content+"\n"), 0o600); err != nil {
					tb.Fatal(err)
				}
			}
			return "software:postgres?dsn-source=file:" + dsn + "&pin-source=file:" + pass
		},
	})
}
