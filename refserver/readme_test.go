package refserver_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readmeWalkthrough returns the first ```sh block of the README's
// "Reference server" section: the walkthrough a newcomer pastes.
func readmeWalkthrough(t *testing.T) (block, section string) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "\n## Reference server\n")
	require.True(t, ok, "README has a Reference server section")
	section, _, _ = strings.Cut(after, "\n## ")
	_, rest, ok := strings.Cut(section, "```sh\n")
	require.True(t, ok, "the section has a sh block")
	block, _, ok = strings.Cut(rest, "```")
	require.True(t, ok)
	return block, section
}

// TestREADMEWalkthrough runs the README's server walkthrough exactly as
// written, in one bash with errexit, from the repository's root, against
// the real binary, curl and jq; then it checks what the README says about
// the files on disk. The only addition is a last line that prints the
// directory the walkthrough chose.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds the refserver binary and runs a shell walkthrough; make test runs it")
	}
	for _, tool := range []string{"bash", "curl", "jq", "mkfifo", "base64"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "the walkthrough needs %s (make deps installs it)", tool)
	}
	block, section := readmeWalkthrough(t)
	script := "set -euo pipefail\n" + block + "\necho \"WALKTHROUGH_DIR=$D\"\n"
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = ".."
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that a failure cannot leave the server behind
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute): // a bound on a hang, not a synchronisation
		err = errors.New("the walkthrough did not finish in 3 minutes")
	}
	if err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group: the background server too
		<-done
	}
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	out := stdout.String()
	require.Contains(t, out, `"signature":`, "the walkthrough signs")
	_, dir, ok := strings.Cut(out, "WALKTHROUGH_DIR=")
	require.True(t, ok)
	dir = strings.TrimSpace(dir)
	t.Cleanup(func() { os.RemoveAll(dir) })

	// "every directory 0700, every file 0600, except tls/server.crt 0644"
	require.Contains(t, section, "every file is 0600")
	require.Contains(t, section, "`tls/server.crt`, which is 0644")
	data := filepath.Join(dir, "data")
	files := 0
	require.NoError(t, filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, err := d.Info()
		require.NoError(t, err)
		rel, _ := filepath.Rel(data, path)
		switch {
		case d.IsDir():
			require.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), rel)
		case rel == filepath.Join("tls", "server.crt"):
			require.Equal(t, fs.FileMode(0o644), info.Mode().Perm(), rel)
		default:
			require.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), rel)
			files++
		}
		return nil
	}))
	require.GreaterOrEqual(t, files, 5)
	for _, f := range []string{"admin.cred", "audit.log"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), f)
	}
	audit, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	require.NoError(t, err)
	require.Contains(t, string(audit), `"route":"POST /v1/sign","status":200`)
}
