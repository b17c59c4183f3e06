//go:build cgo

// Package p11kittest gives tests a network HSM made of real parts: p11-kit's
// RPC server (`p11-kit server`) exporting a SoftHSM2 token on a unix socket,
// and p11-kit's client module (p11-kit-client.so) as the PKCS #11 module
// the backend loads. A test can kill the server, stop it (SIGSTOP), restart
// it on the same socket, or restart it exporting another token, and so
// exercise what a long-running process sees when its HSM or the network to
// it goes away and comes back.
//
// p11-kit-client.so finds its server through the environment variable
// P11_KIT_SERVER_ADDRESS, which the module reads for the life of the
// process, so this package points it once at a socket path of its own and
// runs at most one server at a time per process, always on that path.
//
// The Debian packages p11-kit and p11-kit-modules must be installed (`make
// deps`); when they are missing, tests fail with a message saying so.
package p11kittest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// ClientModule is p11-kit's client module as Debian installs it.
const ClientModule = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"

var (
	setupOnce sync.Once
	socket    string
	setupErr  error

	running sync.Mutex // one server per process: the socket is fixed
)

// Server is a running (or stopped) `p11-kit server` exporting one SoftHSM2
// token. Its methods must be called from the test's goroutine.
type Server struct {
	tb     testing.TB
	token  *softhsmtest.Token
	cmd    *exec.Cmd
	log    bytes.Buffer
	paused bool
}

// Socket returns the unix socket the server listens on.
func (s *Server) Socket() string { return socket }

// Token returns the SoftHSM2 token the server exports now.
func (s *Server) Token() *softhsmtest.Token { return s.token }

// URIWith returns the cryptoplug URI of the exported token through
// p11-kit-client.so, followed by query (such as "&max-sessions=2").
func (s *Server) URIWith(query string) string {
	return fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", s.token.Label, ClientModule, s.token.PINFile) + query
}

// Installed reports whether p11-kit's server and client module are present,
// with a message naming what is missing and how to install it.
func Installed() (bool, string) {
	var missing []string
	if _, err := exec.LookPath("p11-kit"); err != nil {
		missing = append(missing, "p11-kit")
	}
	if _, err := os.Stat(ClientModule); err != nil {
		missing = append(missing, ClientModule)
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("p11-kit's RPC server or client module is not installed (missing %s): run `make deps` (or `apt-get install p11-kit p11-kit-modules`)", strings.Join(missing, ", "))
}

// Start exports tok (a SoftHSM2 token from softhsmtest) with a new server
// and returns it; the server is killed when the test ends. It fails the
// test when p11-kit is missing or another server of this package is still
// running in the process.
func Start(tb testing.TB, tok *softhsmtest.Token) *Server {
	tb.Helper()
	if ok, msg := Installed(); !ok {
		tb.Fatal("p11kittest: " + msg)
	}
	setupOnce.Do(setup)
	if setupErr != nil {
		tb.Fatalf("p11kittest: %v", setupErr)
	}
	if !running.TryLock() {
		tb.Fatal("p11kittest: another p11-kit server of this process is running; one at a time")
	}
	s := &Server{tb: tb, token: tok}
	tb.Cleanup(func() {
		s.Kill()
		if tb.Failed() && s.log.Len() > 0 {
			tb.Logf("p11-kit server output:\n%s", s.log.String())
		}
		running.Unlock()
	})
	s.start()
	return s
}

// setup points P11_KIT_SERVER_ADDRESS at a socket in a directory of this
// process's own, once.
func setup() {
	dir, err := os.MkdirTemp("", fmt.Sprintf("cryptoplug-p11kit-%d-", os.Getpid()))
	if err != nil {
		setupErr = err
		return
	}
	socket = filepath.Join(dir, "p11kit.sock")
	setupErr = os.Setenv("P11_KIT_SERVER_ADDRESS", "unix:path="+socket)
}

func (s *Server) start() {
	s.tb.Helper()
	_ = os.Remove(socket)
	// The server loads SoftHSM2 itself, with the configuration softhsmtest
	// set in this process's environment, which the child inherits.
	s.cmd = exec.Command("p11-kit", "server", "--foreground",
		"--provider", softhsmtest.ModulePath, "--name", socket,
		"pkcs11:token="+s.token.Label)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	// The server forks a process per client connection: signals go to the
	// whole group, or a "killed" server would go on serving.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("p11kittest: start p11-kit server: %v", err)
	}
	s.paused = false
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(socket); err == nil && st.Mode()&os.ModeSocket != 0 {
			return
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.tb.Fatalf("p11kittest: p11-kit server did not create %s within 10s:\n%s", socket, s.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill ends the server with SIGKILL, as a crash or a power cut would, and
// waits for it. It does nothing when the server is not running.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
	_ = os.Remove(socket)
}

// Restart starts the server again, on the same socket and token, killing
// it first if it still runs.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	s.start()
}

// Export restarts the server exporting tok instead: to the client, the
// token it knew was removed and another one inserted.
func (s *Server) Export(tok *softhsmtest.Token) {
	s.tb.Helper()
	s.Kill()
	s.token = tok
	s.start()
}

// Pause stops the server with SIGSTOP: it keeps its connections open and
// answers nothing, as a hung HSM or a black-holed network does.
func (s *Server) Pause() {
	s.tb.Helper()
	if s.cmd == nil {
		s.tb.Fatal("p11kittest: Pause: the server is not running")
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		s.tb.Fatalf("p11kittest: SIGSTOP: %v", err)
	}
	s.paused = true
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	s.tb.Helper()
	if s.cmd == nil || !s.paused {
		return
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		s.tb.Fatalf("p11kittest: SIGCONT: %v", err)
	}
	s.paused = false
}
