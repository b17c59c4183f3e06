//go:build cgo

// Package tpm2pkcs11test gives tests tpm2-pkcs11 tokens: Debian's
// tpm2-pkcs11 1.9 over a software TPM, each token fresh with a random
// label and PINs. It is a normal package so that tests of other packages
// can import it, beside [softhsmtest].
//
// tpm2-pkcs11 needs a resource manager (without one it runs out of TPM
// object slots), so the first use in a test process starts, in a private
// temporary directory:
//
//   - swtpm, on a Unix socket;
//   - a private D-Bus bus (dbus-daemon with the session configuration);
//   - tpm2-abrmd --session on that bus, in front of swtpm;
//
// and points the module at them and at a private store through the
// process environment (TPM2_PKCS11_TCTI, TPM2_PKCS11_STORE,
// DBUS_SESSION_BUS_ADDRESS), then creates the store's primary key with
// tpm2_ptool init. Nothing outside the directory is touched.
//
// The daemons last as long as the test process, because the module, once
// initialised, stays so (see internal/module) and reads its store and TCTI
// once: after the process exits, however it exits, a reaper process (see
// internal/reaper) stops them and removes the directory. Tokens are made
// with C_InitToken in this process, since tpm2-pkcs11 reads its store when
// it is initialised and would not see a token tpm2_ptool added later.
//
// When a piece is missing, tests fail with a message saying to run
// `make deps`; they are never skipped.
package tpm2pkcs11test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/testtoken"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/reaper"
)

// ModulePath is tpm2-pkcs11's PKCS #11 module as Debian installs it.
const ModulePath = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"

// MaxSessions is the max-sessions value in the URIs this package returns.
const MaxSessions = 4

const (
	statePrefix = "cryptoplug-tpm2pkcs11-"
	sessionConf = "/usr/share/dbus-1/session.conf"
	tabrmdName  = "com.intel.tss2.Tabrmd"
)

// tools are the executables the harness runs, with their Debian packages.
var tools = []struct{ name, pkg string }{
	{"swtpm", "swtpm"},
	{"dbus-daemon", "dbus-daemon"},
	{"dbus-send", "dbus-bin"},
	{"tpm2-abrmd", "tpm2-abrmd"},
	{"tpm2_ptool", "libtpm2-pkcs11-tools"},
}

// Token is a fresh tpm2-pkcs11 token.
type Token struct {
	Label   string // CKA token label, unique in the process
	PIN     string // user PIN
	SOPIN   string // security officer PIN
	PINFile string // file holding PIN, mode 0600
	// URI opens the token: pkcs11:token=LABEL?module-path=…&pin-source=file:PINFile&max-sessions=4
	URI string
}

// URIWith returns the token's URI without max-sessions, followed by query
// (such as "&max-sessions=1").
func (t *Token) URIWith(query string) string {
	return fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", t.Label, ModulePath, t.PINFile) + query
}

// Stack is the process's software TPM, bus and resource manager.
type Stack struct {
	Dir    string // the private directory holding everything
	Socket string // swtpm's Unix socket (its control socket is Socket + ".ctrl")
	Bus    string // the private D-Bus address
	Store  string // TPM2_PKCS11_STORE
}

var (
	shared struct {
		once  sync.Once
		stack *Stack
		err   error
	}
	createMu sync.Mutex // one C_InitToken at a time
)

// NewToken creates a token (see [Create]) and returns its URI.
func NewToken(tb testing.TB) string {
	tb.Helper()
	return Create(tb).URI
}

// Create initialises a new token with a random label, user PIN and SO PIN
// on the process's stack, starting it on first use. The token stays until
// the process ends (PKCS #11 has no call to delete a token). It fails tb,
// never skips it, when tpm2-pkcs11 or a daemon is missing.
func Create(tb testing.TB) *Token {
	tb.Helper()
	s := Shared(tb)
	createMu.Lock()
	defer createMu.Unlock()
	t := &Token{Label: "cp-" + randomHex(6), PIN: randomHex(8), SOPIN: randomHex(8)}
	t.PINFile = filepath.Join(s.Dir, t.Label+".pin")
	if err := os.WriteFile(t.PINFile, []byte(t.PIN+"\n"), 0o600); err != nil {
		tb.Fatalf("tpm2pkcs11test: write PIN file: %v", err)
	}
	if err := initToken(t); err != nil {
		tb.Fatalf("tpm2pkcs11test: initialise token %s: %v", t.Label, err)
	}
	t.URI = t.URIWith(fmt.Sprintf("&max-sessions=%d", MaxSessions))
	return t
}

// Shared returns the process's stack, starting it on first use.
func Shared(tb testing.TB) *Stack {
	tb.Helper()
	shared.once.Do(func() { shared.stack, shared.err = start() })
	if shared.err != nil {
		tb.Fatalf("tpm2pkcs11test: %v", shared.err)
	}
	return shared.stack
}

// Installed reports whether the module and every daemon and tool are
// present, with a message naming what is missing and how to install it.
func Installed() (bool, string) {
	var missing []string
	if _, err := os.Stat(ModulePath); err != nil {
		missing = append(missing, ModulePath+" (libtpm2-pkcs11-1)")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t.name); err != nil {
			missing = append(missing, t.name+" ("+t.pkg+")")
		}
	}
	if _, err := os.Stat(sessionConf); err != nil {
		missing = append(missing, sessionConf+" (dbus-session-bus-common)")
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("tpm2-pkcs11 cannot run here (missing %s): run `make deps`", strings.Join(missing, ", "))
}

func start() (*Stack, error) {
	if ok, msg := Installed(); !ok {
		return nil, errors.New(msg)
	}
	if module.Loaded(ModulePath) {
		return nil, errors.New("the tpm2-pkcs11 module was loaded before the harness set its environment; call Shared or Create first")
	}
	if err := reaper.Orphans(filepath.Join("/tmp", statePrefix+"*", "plan.json")); err != nil {
		return nil, fmt.Errorf("cleaning up after an earlier test process: %w", err)
	}
	// /tmp rather than $TMPDIR: Unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("/tmp", fmt.Sprintf("%s%d-", statePrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	s := &Stack{
		Dir:    dir,
		Socket: filepath.Join(dir, "tpm.sock"),
		Bus:    "unix:path=" + filepath.Join(dir, "bus"),
		Store:  filepath.Join(dir, "store"),
	}
	plan := &reaper.Plan{Remove: []string{dir}}
	planPath := filepath.Join(dir, "plan.json")
	if err := reaper.Start(planPath, plan); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// started records a daemon in the plan at once, so the reaper stops
	// it even if this process dies in the next step.
	started := func(name string, cmd *exec.Cmd) error {
		plan.Stop = append(plan.Stop, reaper.Proc{PID: cmd.Process.Pid, Name: name})
		go cmd.Wait() // collect it if it exits early; its log says why
		return plan.Write(planPath)
	}

	if err := os.Mkdir(filepath.Join(dir, "tpmstate"), 0o700); err != nil {
		return nil, err
	}
	if err := os.Mkdir(s.Store, 0o700); err != nil {
		return nil, err
	}
	swtpm := s.command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+filepath.Join(dir, "tpmstate"),
		"--server", "type=unixio,path="+s.Socket,
		"--ctrl", "type=unixio,path="+s.Socket+".ctrl",
		"--flags", "not-need-init,startup-clear")
	if err := s.startDaemon(swtpm, started, func() bool { return isSocket(s.Socket) }); err != nil {
		return nil, err
	}
	bus := s.command("dbus-daemon", "--config-file="+sessionConf, "--address="+s.Bus, "--nofork", "--nopidfile")
	if err := s.startDaemon(bus, started, func() bool { return isSocket(strings.TrimPrefix(s.Bus, "unix:path=")) }); err != nil {
		return nil, err
	}
	abrmd := s.command("tpm2-abrmd", "--session", "--allow-root", "--flush-all", "--tcti=swtpm:path="+s.Socket)
	if err := s.startDaemon(abrmd, started, s.tabrmdOnBus); err != nil {
		return nil, err
	}

	// Everything in this process that loads the module (tpm2-pkcs11) and
	// every tool started from here finds the stack through these.
	for k, v := range s.env() {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	if out, err := s.command("tpm2_ptool", "init").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tpm2_ptool init: %v\n%s", err, out)
	}
	return s, nil
}

// env is the environment that points tpm2-pkcs11 and its tools at s.
func (s *Stack) env() map[string]string {
	return map[string]string{
		"DBUS_SESSION_BUS_ADDRESS": s.Bus,
		"TPM2_PKCS11_TCTI":         "tabrmd:bus_type=session",
		"TPM2TOOLS_TCTI":           "tabrmd:bus_type=session",
		"TPM2_PKCS11_STORE":        s.Store,
	}
}

// command prepares one of the stack's programs with the stack's
// environment, its output appended to DIR/NAME.log.
func (s *Stack) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	cmd.Env = os.Environ()
	for k, v := range s.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// startDaemon starts cmd (logging to DIR/NAME.log) and waits until ready
// reports true, for at most 10 seconds.
func (s *Stack) startDaemon(cmd *exec.Cmd, started func(string, *exec.Cmd) error, ready func() bool) error {
	name := filepath.Base(cmd.Path)
	logPath := filepath.Join(s.Dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if err := started(name, cmd); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !ready() {
		if time.Now().After(deadline) || !reaper.Running(reaper.Proc{PID: cmd.Process.Pid, Name: procName(name)}) {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s did not start: %s", name, strings.TrimSpace(string(out)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// procName is the kernel's name of a process started from file name (the
// first 15 bytes).
func procName(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

// tabrmdOnBus reports whether tpm2-abrmd has claimed its name on the bus.
func (s *Stack) tabrmdOnBus() bool {
	out, err := s.command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
		"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:"+tabrmdName).Output()
	return err == nil && strings.Contains(string(out), "boolean true")
}

func isSocket(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&os.ModeSocket != 0
}

// initToken initialises a token in the free slot, in this process (see
// the package documentation), and sets its user PIN.
func initToken(t *Token) error {
	m, err := module.Open(context.Background(), ModulePath)
	if err != nil {
		return err
	}
	defer m.Release()
	p := m.Ctx
	return testtoken.InitFree(p, "tpm2-pkcs11", t.Label, t.SOPIN, t.PIN)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
