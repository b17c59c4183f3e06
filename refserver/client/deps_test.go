package client_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The client and the remote backend must not link the server's
// authentication (argon2, the rate limiter, backup sealing, SQL drivers):
// a program that only signs through a refserver carries none of it.
func TestClientLinksNoServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/cryptoplug/cryptoplug/refserver/client",
		"github.com/cryptoplug/cryptoplug/backends/remote").CombinedOutput()
	require.NoError(t, err, "%s", out)
	allowed := map[string]bool{
		"github.com/cryptoplug/cryptoplug/backend":          true,
		"github.com/cryptoplug/cryptoplug/wire":             true,
		"github.com/cryptoplug/cryptoplug/refserver/client": true,
		"github.com/cryptoplug/cryptoplug/backends/remote":  true,
		"github.com/cryptoplug/cryptoplug/internal/privkey": true,
		"github.com/cryptoplug/cryptoplug/authn/autherr":    true,
		// The sealed-file format (standard library only): backend reads
		// sealed: secret sources, such as a sealed credential.
		"github.com/cryptoplug/cryptoplug/seal": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/cryptoplug/cryptoplug/") {
			require.True(t, allowed[pkg], "the client links %s", pkg)
		}
		for _, banned := range []string{"argon2", "sqlite", "pgx", "prometheus"} {
			require.NotContains(t, pkg, banned, "the client links %s", pkg)
		}
	}
}
