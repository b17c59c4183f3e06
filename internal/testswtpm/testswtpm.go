// Package testswtpm starts swtpm, the libtpms TPM 2.0 emulator, for this
// module's tests: a fresh TPM state per [Start] in a temporary directory,
// served on a Unix socket, killed when the test ends. It is the subset of
// a swtpm test kit the sealing tests need; swtpm must be installed
// (`make deps`), else the test fails, never skips.
package testswtpm

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TPM is one swtpm process on a state directory that outlives it.
type TPM struct {
	Socket string // tpm:swtpm=<Socket>
	State  string // the TPM's persistent state

	tb  testing.TB
	cmd *exec.Cmd
	log bytes.Buffer
}

// Start runs swtpm on a fresh state and stops it when the test ends.
func Start(tb testing.TB) *TPM {
	tb.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		tb.Fatalf("swtpm is not installed (%v): run `make deps` (Debian package swtpm)", err)
	}
	dir := tb.TempDir()
	s := &TPM{tb: tb, Socket: filepath.Join(dir, "tpm.sock"), State: filepath.Join(dir, "state")}
	if err := os.Mkdir(s.State, 0o700); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Stop()
		if tb.Failed() {
			tb.Logf("swtpm output:\n%s", s.log.String())
		}
	})
	s.Restart()
	return s
}

// URI is a tpm backend URI for this TPM with its key files in dir.
func (s *TPM) URI(dir string) string { return "tpm:swtpm=" + s.Socket + ";dir=" + dir }

// Restart (re)starts swtpm on the same state. The listening socket is made
// here and handed to swtpm as fd 3, so it accepts commands as soon as
// Restart returns: there is nothing to wait for.
func (s *TPM) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := os.Remove(s.Socket); err != nil && !os.IsNotExist(err) {
		s.tb.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.Socket, Net: "unix"})
	if err != nil {
		s.tb.Fatalf("testswtpm: listen: %v", err)
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		s.tb.Fatal(err)
	}
	defer f.Close()
	s.cmd = exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+s.State,
		"--server", "type=unixio,fd=3", "--flags", "not-need-init,startup-clear")
	s.cmd.ExtraFiles = []*os.File{f}
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		s.tb.Fatalf("testswtpm: start swtpm: %v", err)
	}
}

// Stop kills swtpm, as a crash would; the state stays.
func (s *TPM) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
