// Package swtpmtest gives tests a real swtpm TPM 2.0 daemon each: a fresh
// TPM state in a temporary directory, a Unix socket the tpm backend opens
// (tpm:swtpm=SOCKET;dir=…), and a process that is killed when the test
// ends. It is a normal package so that tests of other packages (the
// cryptoplug command, servers) can import it, as they import softhsmtest
// for SoftHSM2.
//
// swtpm must be installed (Debian: swtpm and swtpm-tools; `make deps`
// installs them). When it is missing, tests fail with a message saying so:
// they are never skipped.
//
// The socket is bound by the test process before swtpm starts and handed to
// it as an inherited file descriptor, so it accepts connections the moment
// Start returns: there is no polling for the socket to appear.
package swtpmtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TPM is a running swtpm daemon.
type TPM struct {
	// Socket is the daemon's command socket (--server type=unixio).
	Socket string
	// State is the directory holding the TPM's persistent state.
	State string

	mu  sync.Mutex // guards cmd and log
	cmd *exec.Cmd
	log *bytes.Buffer
}

// Installed reports whether swtpm is on PATH, with a message naming what is
// missing and how to install it.
func Installed() (bool, string) {
	if _, err := exec.LookPath("swtpm"); err != nil {
		return false, "swtpm is not installed: run `make deps` (Debian packages swtpm and swtpm-tools)"
	}
	return true, ""
}

// Start starts swtpm on a new TPM state under tb.TempDir() and stops it
// when the test ends; the daemon's output is logged if the test failed. It
// fails the test (never skips it) when swtpm is not installed or does not
// start.
func Start(tb testing.TB) *TPM {
	tb.Helper()
	if ok, msg := Installed(); !ok {
		tb.Fatal("swtpmtest: " + msg)
	}
	// A short directory: Unix socket paths are limited to 108 bytes, and
	// tb.TempDir() under a long test name can exceed that.
	dir, err := os.MkdirTemp("", "swtpm-")
	if err != nil {
		tb.Fatalf("swtpmtest: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	t := &TPM{Socket: filepath.Join(dir, "tpm.sock"), State: filepath.Join(dir, "state"), log: new(bytes.Buffer)}
	if err := os.Mkdir(t.State, 0o700); err != nil {
		tb.Fatalf("swtpmtest: %v", err)
	}
	if err := t.start(); err != nil {
		tb.Fatalf("swtpmtest: start swtpm: %v", err)
	}
	tb.Cleanup(func() {
		t.Stop()
		if tb.Failed() {
			t.mu.Lock()
			tb.Logf("swtpm output:\n%s", t.log.String())
			t.mu.Unlock()
		}
	})
	return t
}

// URI returns the backend URI of this TPM with its key files in dir.
func (t *TPM) URI(dir string) string { return "tpm:swtpm=" + t.Socket + ";dir=" + dir }

func (t *TPM) start() error {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.Socket, Net: "unix"})
	if err != nil {
		return err
	}
	// swtpm owns the socket from now on; closing our copy must not unlink
	// the path it accepts on.
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	_ = l.Close()
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+t.State,
		"--server", "type=unixio,fd=3",
		"--flags", "not-need-init,startup-clear")
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the child
	// swtpm logs every client disconnect; keep it for a failing test.
	cmd.Stdout, cmd.Stderr = lockedWriter{&t.mu, t.log}, lockedWriter{&t.mu, t.log}
	if err := cmd.Start(); err != nil {
		return err
	}
	t.cmd = cmd
	return nil
}

// Stop kills swtpm, as a crash would. It is idempotent; Start's cleanup
// calls it.
func (t *TPM) Stop() {
	t.mu.Lock()
	cmd := t.cmd
	t.cmd = nil
	t.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// String describes the TPM for test logs.
func (t *TPM) String() string { return fmt.Sprintf("swtpm on %s", t.Socket) }

// lockedWriter serialises swtpm's stdout and stderr into one buffer.
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
