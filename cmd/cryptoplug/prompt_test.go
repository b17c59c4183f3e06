//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// openPTY opens a pseudo-terminal pair: the test types on master, the
// command's controlling terminal is slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0)) // unlockpt
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)                       // ptsname
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(); _ = s.Close() })
	return m, s
}

// terminalSession runs the binary with a pseudo-terminal as its controlling
// terminal (standard input is the terminal too; output goes to buffers),
// answers each prompt in turn, and returns what the terminal showed.
func terminalSession(t *testing.T, answers []string, args ...string) (res result, screen string) {
	t.Helper()
	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	require.NoError(t, slave.Close()) // the child holds it; EOF on master when it exits

	// The reader goroutine only forwards bytes; the test goroutine decides.
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 1024)
			n, err := master.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil { // EIO once the child and its terminal are gone
				return
			}
		}
	}()
	var seen strings.Builder
	for _, answer := range answers {
		// Type only once the prompt is on the screen: typed earlier, the
		// terminal would still echo it, as any terminal does.
		prompts := strings.Count(seen.String(), ": ")
		for strings.Count(seen.String(), ": ") == prompts {
			c, ok := <-chunks
			if !ok {
				_ = cmd.Wait() // stderr is complete only now
				t.Fatalf("the command ended before asking; screen: %q, stderr: %s", seen.String(), stderr.String())
			}
			seen.Write(c)
		}
		_, err := master.Write([]byte(answer + "\n"))
		require.NoError(t, err)
	}
	for c := range chunks {
		seen.Write(c)
	}
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}, seen.String()
}

// A URI without pin-source makes the command ask on the terminal, without
// echo; the PIN appears nowhere, also when it is wrong.
func TestPINPrompt(t *testing.T) {
	tok := softhsmtest.Create(t)
	run(t, "keys", "generate", tok.URI, "-a", "ECDSA-P256", "-l", "web").ok(t)
	noPIN := fmt.Sprintf("pkcs11:token=%s?module-path=%s", tok.Label, softhsmtest.ModulePath)

	t.Run("right PIN", func(t *testing.T) {
		r, screen := terminalSession(t, []string{tok.PIN}, "keys", "list", noPIN)
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, screen, "User PIN for pkcs11:token="+tok.Label)
		require.NotContains(t, screen, tok.PIN, "the PIN was echoed")
		require.Contains(t, r.stdout, "web")
		require.NotContains(t, r.stdout+r.stderr, tok.PIN)
	})
	t.Run("wrong PIN", func(t *testing.T) {
		const wrong = "7461626c65"
		r, screen := terminalSession(t, []string{wrong}, "keys", "generate", noPIN, "-a", "ECDSA-P256", "-l", "new")
		line := r.fails(t, exitAuth, "authentication failed")
		require.NotContains(t, line, wrong)
		require.NotContains(t, screen, wrong)
	})
	t.Run("no terminal", func(t *testing.T) {
		// Without a controlling terminal: setsid detaches the command.
		cmd := exec.Command(bin(t), "keys", "list", noPIN)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		result{stderr: stderr.String(), code: ee.ExitCode()}.fails(t, exitAuth, "no terminal", "pin-source")
	})
	require.Equal(t, []string{"web"}, listKeys(t, tok.URI).labels(), "the wrong PIN created nothing")
}

// A new software keystore's passphrase is asked for twice; a mismatch
// creates nothing.
func TestPassphrasePromptForANewStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	uri := "software:dir=" + dir
	r, screen := terminalSession(t, []string{"first phrase", "second phrase"}, "keys", "list", uri)
	r.fails(t, exitAuth, "differ")
	require.Contains(t, screen, "Again, to confirm")
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "no store was created")

	r, _ = terminalSession(t, []string{"same phrase", "same phrase"}, "keys", "generate", uri, "-a", "Ed25519", "-l", "k")
	require.Equal(t, 0, r.code, r.stderr)
	for _, pattern := range []string{"keystore.age", "*.key"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		require.NoError(t, err)
		require.Len(t, m, 1, "the store and its one key: %s", pattern)
	}
}

// seal asks for the secret on a terminal twice, without echo; the two
// entries must match.
func TestSealPromptsForTheSecret(t *testing.T) {
	const secret = "sealed-on-a-terminal"
	uri, _ := newStore(t)
	run(t, "keys", "generate", uri, "-a", "ML-KEM-768", "-l", "kek", "--usage", "decapsulate").ok(t)
	file := filepath.Join(t.TempDir(), "pin.sealed")

	r, screen := terminalSession(t, []string{secret, secret + "x"}, "seal", uri, "-k", "kek", file)
	r.fails(t, exitAuth, "differ")
	require.NotContains(t, screen, secret, "the secret was echoed")
	require.NoFileExists(t, file)

	r, screen = terminalSession(t, []string{secret, secret}, "seal", uri, "-k", "kek", file)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, screen, "Secret to seal: ")
	require.Contains(t, screen, "Again, to confirm")
	require.NotContains(t, screen+r.stdout+r.stderr, secret, "the secret was echoed or printed")
	require.Equal(t, secret, run(t, "unseal", uri, "-k", "kek", file).ok(t).stdout)
}

// On a terminal, conformance draws its progress bar on standard error by
// default, the transcript (--log -) scrolling above it, and erases it
// before the matrix; off a terminal it is quiet.
func TestConformanceProgressBarOnATerminal(t *testing.T) {
	master, slave := openPTY(t)
	args := []string{"conformance", "software:", "--algorithms", "Ed25519", "--budget", "small", "--wycheproof-limit", "0"}
	cmd := exec.Command(bin(t), append(args, "--log", "-")...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	require.NoError(t, cmd.Start())
	require.NoError(t, slave.Close())
	var screen bytes.Buffer
	_, _ = screen.ReadFrom(master) // EIO once the command and its terminal are gone
	require.NoError(t, cmd.Wait())
	require.Regexp(t, `\r\[#+-*\] +\d+/\d+ \S+  \d+s elapsed, about \S+ left\x1b\[K`, screen.String())
	require.True(t, strings.HasSuffix(screen.String(), "\r\x1b[K"), "the bar was erased: %q", screen.String())
	// --log - writes the transcript above the bar: the bar is erased
	// before each of its lines.
	require.Contains(t, screen.String(), "\r\x1b[Kgenerate/Ed25519: sign key generated in ")
	require.True(t, strings.HasPrefix(stdout.String(), "conformance matrix for software:"), stdout.String())

	quiet := run(t, args...).ok(t)
	require.Empty(t, quiet.stderr, "no progress off a terminal")
}
