// Package swtpmtest runs swtpm, the libtpms TPM 2.0 emulator, for tests:
// each [Start] gets a fresh TPM state in a temporary directory, reachable
// on a Unix socket, and stopped when the test ends. With [WithEKCertificate]
// the TPM is manufactured by swtpm_setup with endorsement keys and their
// certificates, issued by a private certificate authority ([NewCA]) that
// lives in a temporary directory too: nothing touches /etc/swtpm* or
// /var/lib/swtpm-localca.
//
// It is a normal package so that tests of other packages (the CLI, the
// server, conformance) can import it. swtpm and swtpm-tools must be
// installed (`make deps`); when they are missing the test fails with a
// message saying so, it is never skipped.
package swtpmtest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TPM is one swtpm process and its state directory. The state outlives
// [TPM.Stop], so [TPM.Restart] brings back the same TPM, as a reboot
// would. Its methods are not safe for concurrent use.
type TPM struct {
	// Socket is the Unix socket swtpm serves TPM commands on
	// (tpm:swtpm=<Socket>).
	Socket string
	// State is swtpm's state directory.
	State string
	// CA issued the TPM's endorsement key certificates; nil unless the TPM
	// was started [WithEKCertificate].
	CA *CA

	tb      testing.TB
	startup bool // send TPM2_Startup(CLEAR) when swtpm starts
	cmd     *exec.Cmd
	log     lockedBuffer
}

// Option configures [Start].
type Option func(*TPM)

// WithEKCertificate manufactures the TPM with swtpm_setup before it starts:
// an RSA-2048 endorsement key persisted at 0x81010001 with its certificate
// in NV index 0x01c00002, an ECC P-384 one at 0x81010016 with its
// certificate at 0x01c00016, and a platform certificate, all issued by ca.
// Only the SHA-256 PCR bank is active, as swtpm_setup's default
// configuration has it. Manufacturing takes about two seconds.
func WithEKCertificate(ca *CA) Option { return func(s *TPM) { s.CA = ca } }

// WithoutStartup starts swtpm without sending TPM2_Startup, as firmware
// that never started the TPM would leave it: the first command gets
// TPM_RC_INITIALIZE.
func WithoutStartup() Option { return func(s *TPM) { s.startup = false } }

// Start runs swtpm on a fresh state directory and stops it when the test
// ends. It fails the test when swtpm (or, for [WithEKCertificate],
// swtpm_setup) is not installed or does not start.
func Start(tb testing.TB, opts ...Option) *TPM {
	tb.Helper()
	need(tb, "swtpm")
	dir := tb.TempDir()
	s := &TPM{tb: tb, State: filepath.Join(dir, "state"), Socket: filepath.Join(dir, "tpm.sock"), startup: true}
	for _, o := range opts {
		o(s)
	}
	if err := os.Mkdir(s.State, 0o700); err != nil {
		tb.Fatalf("swtpmtest: %v", err)
	}
	if s.CA != nil {
		s.CA.manufacture(tb, s.State)
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

// URI returns the cryptoplug URI of a TPM backend on this swtpm with its
// key files in dir.
func (s *TPM) URI(dir string) string { return "tpm:swtpm=" + s.Socket + ";dir=" + dir }

// Restart starts swtpm on the same state, stopping it first if it runs.
// The sockets accept connections when Restart returns: they are made here
// and handed to swtpm, so there is nothing to wait for.
func (s *TPM) Restart() {
	s.tb.Helper()
	s.Stop()
	data, ctrl := s.listen(s.Socket), s.listen(s.Socket+".ctrl")
	defer data.Close()
	defer ctrl.Close()
	flags := "not-need-init"
	if s.startup {
		flags += ",startup-clear"
	}
	// ExtraFiles[i] is fd 3+i in the child. The control channel is what
	// tpm2-tss's swtpm TCTI (tpm2-openssl, tpm2-tools) expects next to the
	// data socket, at <socket>.ctrl.
	s.cmd = exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+s.State,
		"--server", "type=unixio,fd=3",
		"--ctrl", "type=unixio,fd=4",
		"--flags", flags)
	s.cmd.ExtraFiles = []*os.File{data, ctrl}
	// swtpm logs every client disconnect, and linuxudstpm connects per
	// command: the output is kept for a failing test only.
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		s.tb.Fatalf("swtpmtest: start swtpm: %v", err)
	}
}

// listen makes a fresh listening Unix socket at path for swtpm and
// returns it as a file to hand over.
func (s *TPM) listen(path string) *os.File {
	s.tb.Helper()
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		s.tb.Fatalf("swtpmtest: %v", err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		s.tb.Fatalf("swtpmtest: listen on %s: %v", path, err)
	}
	// swtpm owns the socket from now on; closing our copy must not unlink
	// it, and once swtpm dies nothing listens: clients get "connection
	// refused", as with a crashed daemon, instead of waiting in a backlog.
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	l.Close()
	if err != nil {
		s.tb.Fatalf("swtpmtest: %v", err)
	}
	return f
}

// Env returns the environment variables that point tpm2-tss tools at this
// TPM: TPM2OPENSSL_TCTI for tpm2-openssl, TPM2TOOLS_TCTI for tpm2-tools.
func (s *TPM) Env() []string {
	tcti := "swtpm:path=" + s.Socket
	return []string{"TPM2OPENSSL_TCTI=" + tcti, "TPM2TOOLS_TCTI=" + tcti}
}

// Stop kills swtpm, as a crash would; the state directory stays. It does
// nothing when swtpm is not running.
func (s *TPM) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Signal sends sig to the running swtpm (SIGSTOP and SIGCONT make a hung
// TPM). It fails the test when swtpm is not running.
func (s *TPM) Signal(sig syscall.Signal) {
	s.tb.Helper()
	if s.cmd == nil {
		s.tb.Fatalf("swtpmtest: swtpm is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("swtpmtest: signal swtpm: %v", err)
	}
}

// CA is a private swtpm_localca certificate authority: a root certificate
// and an intermediate issuer, created in a temporary directory the first
// time a TPM is manufactured with it. TPMs manufactured with one CA share
// it; a TPM of another CA is "from an untrusted CA" to verifiers given
// this one's [CA.Roots].
type CA struct {
	Dir string // the CA's state directory

	tb       testing.TB
	setupCfg string // swtpm_setup's configuration, pointing at ours
	mu       sync.Mutex
}

// NewCA prepares a CA in a temporary directory. Its keys are created by
// swtpm_localca when the first TPM is manufactured with it.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	need(tb, "swtpm_setup")
	need(tb, "swtpm_localca")
	dir := tb.TempDir()
	ca := &CA{Dir: filepath.Join(dir, "ca"), tb: tb, setupCfg: filepath.Join(dir, "swtpm_setup.conf")}
	localcaCfg := filepath.Join(dir, "swtpm-localca.conf")
	localcaOpts := filepath.Join(dir, "swtpm-localca.options")
	files := map[string]string{
		localcaCfg:  fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca.Dir),
		localcaOpts: "--platform-manufacturer cryptoplug\n--platform-version 2.1\n--platform-model swtpmtest\n",
		ca.setupCfg: fmt.Sprintf("create_certs_tool = %s\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n",
			mustLookPath(tb, "swtpm_localca"), localcaCfg, localcaOpts),
	}
	if err := os.Mkdir(ca.Dir, 0o700); err != nil {
		tb.Fatalf("swtpmtest: %v", err)
	}
	for name, content := range files {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			tb.Fatalf("swtpmtest: %v", err)
		}
	}
	return ca
}

// manufacture runs swtpm_setup on state with this CA.
func (ca *CA) manufacture(tb testing.TB, state string) {
	tb.Helper()
	ca.mu.Lock() // swtpm_localca keeps a serial-number file
	defer ca.mu.Unlock()
	logFile := filepath.Join(filepath.Dir(state), "swtpm_setup.log")
	out, err := exec.Command("swtpm_setup", "--tpm2", "--tpmstate", state,
		"--create-ek-cert", "--create-platform-cert", "--overwrite",
		"--config", ca.setupCfg, "--logfile", logFile).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(logFile)
		tb.Fatalf("swtpmtest: swtpm_setup: %v\n%s\n%s", err, out, log)
	}
}

// Root is the CA's self-signed root certificate. It fails the test before
// a TPM was manufactured with the CA.
func (ca *CA) Root() *x509.Certificate {
	return ca.cert("swtpm-localca-rootca-cert.pem")
}

// Issuer is the intermediate certificate that signs the EK certificates.
func (ca *CA) Issuer() *x509.Certificate { return ca.cert("issuercert.pem") }

// Roots is a pool holding [CA.Root].
func (ca *CA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root())
	return p
}

// Intermediates is a pool holding [CA.Issuer].
func (ca *CA) Intermediates() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Issuer())
	return p
}

func (ca *CA) cert(name string) *x509.Certificate {
	ca.tb.Helper()
	data, err := os.ReadFile(filepath.Join(ca.Dir, name))
	if err != nil {
		ca.tb.Fatalf("swtpmtest: CA certificate (manufacture a TPM with the CA first): %v", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		ca.tb.Fatalf("swtpmtest: %s holds no PEM block", name)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		ca.tb.Fatalf("swtpmtest: parse %s: %v", name, err)
	}
	return c
}

func need(tb testing.TB, tool string) { tb.Helper(); mustLookPath(tb, tool) }

func mustLookPath(tb testing.TB, tool string) string {
	tb.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		tb.Fatalf("swtpmtest: %s is not installed (%v): run `make deps` (Debian packages swtpm and swtpm-tools)", tool, err)
	}
	return p
}

// lockedBuffer collects a child's output, written by exec's copying
// goroutines and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}
