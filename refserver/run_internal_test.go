package refserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

// goroutinesIn returns the stacks of the live goroutines running code of
// fn's package function (matched by "refserver.<fn>").
func goroutinesIn(fns ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		for _, fn := range fns {
			if strings.Contains(g, "cryptoplug/refserver."+fn+"(") || strings.Contains(g, "cryptoplug/refserver."+fn+".") {
				out = append(out, g)
			}
		}
	}
	return out
}

// TestServeFailureLeavesNoGoroutine: when serving fails (here, on a
// listener that is already closed), Run returns only after the purge loop
// and the server goroutine it started have ended. Run waits for them, so
// the stacks are checked once, without sleeping or polling.
func TestServeFailureLeavesNoGoroutine(t *testing.T) {
	dir := t.TempDir()
	c := Config{DataDir: filepath.Join(dir, "data"), Backend: "software:", Argon2MemoryKiB: 64, AuditLog: filepath.Join(dir, "audit.log")}
	require.NoError(t, Init(context.Background(), c, InitOptions{CredentialFile: filepath.Join(dir, "admin.cred"), Out: io.Discard}))
	require.NoError(t, c.Resolve())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	var logs bytes.Buffer
	err = serve(context.Background(), c, slog.New(slog.NewJSONHandler(&logs, nil)), ln, nil)
	require.Error(t, err, "serving on a closed listener fails")
	require.Empty(t, goroutinesIn("purge", "serve"), "every goroutine Run started has ended")
}
