package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The built binary answers --help, -h and `help` on every command with exit
// 0, prints its version, and exits 2 for a command line it cannot run.
func TestHelpAndVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "refserver")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // contained in standard output
		stderr string // contained in standard error
	}{
		{[]string{"--help"}, 0, "refserver serve -data DIR", ""},
		{[]string{"-h"}, 0, "refserver init  -data DIR", ""},
		{[]string{"help"}, 0, "refserver version", ""},
		{[]string{"help", "serve"}, 0, "-listen string", ""},
		{[]string{"serve", "--help"}, 0, "-backend string", ""},
		{[]string{"init", "-h"}, 0, "-admin-email string", ""},
		{[]string{"version"}, 0, "refserver ", ""},
		{[]string{"--version"}, 0, "refserver ", ""},
		{nil, 2, "", "no command"},
		{[]string{"--hlep"}, 2, "", `unknown command "--hlep"`},
		{[]string{"seal-migrate", "-h"}, 0, "-rollback", ""},
		{[]string{"help", "seal-migrate"}, 0, "-keep-plaintext", ""},
		{[]string{"serve", "-frob"}, 2, "", "flag provided but not defined: -frob"},
		{[]string{"serve", "stray"}, 2, "", `unexpected argument "stray"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "REFSERVER_DATA_DIR=") // nothing from the environment
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			require.Contains(t, stdout.String(), tc.stdout)
			require.Contains(t, stderr.String(), tc.stderr)
			if tc.code == 0 {
				require.Empty(t, stderr.String())
			}
		})
	}
}
