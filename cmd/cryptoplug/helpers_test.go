package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
)

// The tests run the built binary, as an operator would. It is built once
// per test process, on first use (unit and fuzz tests never build it), with
// the test vectors embedded as `make cryptoplug` does, into a temporary
// directory that TestMain removes.
var built struct {
	sync.Once
	dir, path string
	err       error
}

// bin returns the built binary's path, building it on first use.
func bin(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "cryptoplug-cli-test-"); built.err == nil {
			built.path, built.err = buildBinary(built.dir)
		}
	})
	require.NoError(t, built.err, "build cryptoplug")
	return built.path
}

func TestMain(m *testing.M) {
	// Keystores the tests create in this process (newStore) are cheap to
	// open; the binary opens them at the cost they were made with.
	scryptcost.SetForTests(scryptcost.Min)
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildBinary builds ./ with the vectors embedded: mkarchive writes the
// archive and the -overlay file, go build embeds it.
func buildBinary(dir string) (string, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the tests build the command with the go command: %w", err)
	}
	archive, overlay := filepath.Join(dir, "vectors.tar.gz"), filepath.Join(dir, "overlay.json")
	bin := filepath.Join(dir, "cryptoplug")
	// Not -race, also under go test -race: the race runtime makes every
	// invocation several times slower (TestSoftHSM: 6 s against 99 s).
	build := []string{"build", "-tags", "cryptoplug_vectors", "-overlay", overlay, "-o", bin}
	for _, args := range [][]string{
		{"run", "./internal/vectors/mkarchive", "-o", archive, "-overlay", overlay},
		append(build, "."),
	} {
		cmd := exec.Command(gobin, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin, nil
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// runOpts change how the binary is run.
type runOpts struct {
	stdin string
	env   []string // replaces the environment when not nil
	dir   string
	bin   string // another copy of the binary
}

// run runs the binary with args and returns what it did. It fails the test
// only when the binary cannot be run at all, or runs over two minutes.
func run(t *testing.T, args ...string) result { return runWith(t, runOpts{}, args...) }

func runWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	path := o.bin
	if path == "" {
		path = bin(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env, cmd.Dir = o.env, o.dir
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "run %v: %v", args, err)
		code = ee.ExitCode()
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ok fails the test unless the run succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	require.Equal(t, 0, r.code, "exit code; stderr: %s", r.stderr)
	return r
}

// fails checks that the run failed with code and one clear line on
// standard error that contains every string in want, and returns it.
func (r result) fails(t *testing.T, code int, want ...string) string {
	t.Helper()
	require.Equal(t, code, r.code, "exit code; stdout: %s\nstderr: %s", r.stdout, r.stderr)
	line := strings.TrimSuffix(r.stderr, "\n")
	require.NotEmpty(t, line, "no error message")
	require.NotContains(t, line, "\n", "the error is one line")
	require.True(t, strings.HasPrefix(line, "cryptoplug"), "the error names the command: %s", line)
	t.Logf("exit %d: %s", code, line)
	for _, w := range want {
		require.Contains(t, line, w)
	}
	return line
}

// jsonOut decodes the run's standard output.
func (r result) jsonOut(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), r.stdout)
}

// writeFile writes a file under t.TempDir() and returns its path.
func writeFile(t *testing.T, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, perm))
	return p
}

// tool runs an external program (openssl, pkcs11-tool, ssh-keygen) and
// returns its output; the test fails when it is missing or fails.
func tool(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s is not installed: run `make deps`", name)
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// keyList is `keys list -o json`.
type keyList []keyInfo

func listKeys(t *testing.T, uri string) keyList {
	t.Helper()
	var keys keyList
	run(t, "keys", "list", "-o", "json", uri).ok(t).jsonOut(t, &keys)
	return keys
}

func (l keyList) labels() []string {
	var out []string
	for _, k := range l {
		out = append(out, k.Label)
	}
	return out
}

// newStore creates a software directory keystore in this process, at the
// lowest scrypt cost, and returns its URI (with a pin-source file).
func newStore(t *testing.T) (uri, dir string) {
	t.Helper()
	pass := writeFile(t, "pass", []byte("a passphrase"), 0o600)
	dir = filepath.Join(t.TempDir(), "store")
	uri = "software:dir=" + dir + "?pin-source=file:" + pass
	b, err := backend.Open(context.Background(), uri)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	return uri, dir
}
