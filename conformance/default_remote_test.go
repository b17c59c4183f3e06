package conformance_test

import (
	"os"
	"path/filepath"
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/remote"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// The remote backend in front of an in-process reference server (TLS 1.3,
// HTTP/2, SQLite authn store) serving an encrypted software directory store,
// reached with the session of a user holding keyManagement and keyOperation.
func init() {
	registerDefault(defaultBackend{
		name: "remote-software-dir",
		setup: func(tb testing.TB) string {
			dir := tb.TempDir()
			pass := filepath.Join(dir, "passphrase")
			if err := os.WriteFile(pass, []byte("cryptoplug conformance passphrase\n"), 0o600); err != nil {
				tb.Fatal(err)
			}
			in := refservertest.Start(tb, refservertest.Options{
				BackendURI: "software:dir=" + filepath.Join(dir, "keys") + "?pin-source=file:" + pass,
			})
			return in.RemoteURI(tb)
		},
	})
}
