//go:build cgo

package pkcs11

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBuildWithoutCgo builds and vets the package with CGO_ENABLED=0 and
// runs its no-cgo test: a static binary must still compile and tell its
// user to rebuild with cgo.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Log("-short: not building without cgo")
		return
	}
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command must be on PATH")
	env := append(os.Environ(), "CGO_ENABLED=0")
	for _, args := range [][]string{
		{"build", "./..."},
		{"vet", "./..."},
		{"test", "-count=1", "-run", "^TestNoCgo", "."},
	} {
		cmd := exec.Command(goTool, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "CGO_ENABLED=0 go %v:\n%s", args, out)
	}
}
