//go:build cgo

// Package opencryptokitest gives tests an opencryptoki soft token: Debian's
// opencryptoki 3.8 with its slot daemon, pkcsslotd, started by the test
// process, and the soft token (libpkcs11_sw.so) initialised with random PINs
// and a random label. It is a normal package so that tests of other
// packages can import it, beside [softhsmtest].
//
// opencryptoki 3.8 keeps its state in fixed system paths — the soft
// token's data in /var/lib/opencryptoki/swtok, the daemon's socket and PID
// file in /var/run, lock files in /var/lock/opencryptoki, shared memory in
// /dev/shm and System V shared memory — and honours no environment variable
// that moves them (3.8's PKCS_APP_STORE writes the token's files to "/").
// So the harness takes the soft token to itself for the life of the test
// process and gives everything back afterwards:
//
//   - it refuses to run while any pkcsslotd it did not start is running
//     (someone may be using the token), and one test process at a time
//     holds an exclusive lock on /tmp/cryptoplug-opencryptoki.lock;
//   - it moves the existing token directory aside, gives the soft token an
//     empty one, and starts pkcsslotd;
//   - after the test process exits, however it exits, a reaper process
//     (see internal/reaper) stops pkcsslotd, puts the token directory
//     back and removes every file, lock and shared memory segment that
//     opencryptoki created meanwhile. The configuration file is only read.
//
// The daemon and the token last as long as the test process because the
// opencryptoki module, once initialised, stays so (see internal/module),
// and pkcsslotd refuses to stop while a process using it lives. There is
// one soft token per machine, so every test in the process shares the one
// [Shared] returns; tests keep apart by key label.
//
// It must run as root (pkcsslotd requires it). When opencryptoki is
// missing, tests fail with a message saying to run `make deps`; they are
// never skipped.
package opencryptokitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/testtoken"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/reaper"
	"github.com/miekg/pkcs11"
	"golang.org/x/sys/unix"
)

// ModulePath is opencryptoki's PKCS #11 module as Debian installs it.
const ModulePath = "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so"

// MaxSessions is the max-sessions value in the URIs this package returns.
const MaxSessions = 4

// The system paths opencryptoki 3.8 uses (compiled in).
const (
	slotDaemon  = "/usr/sbin/pkcsslotd"
	softToken   = "/usr/lib/x86_64-linux-gnu/opencryptoki/stdll/libpkcs11_sw.so"
	configFile  = "/etc/opencryptoki/opencryptoki.conf"
	dataDir     = "/var/lib/opencryptoki"
	tokenDir    = dataDir + "/swtok"
	lockDir     = "/var/lock/opencryptoki"
	logDir      = "/var/log/opencryptoki"
	daemonPID   = "/var/run/pkcsslotd.pid"
	runGlob     = "/var/run/pkcsslotd.*"
	shmGlob     = "/dev/shm/var.lib.opencryptoki.*"
	defaultSO   = "87654321" // the SO PIN of a soft token that was never initialised
	softModel   = "IBM SoftTok"
	machineLock = "/tmp/cryptoplug-opencryptoki.lock"
	statePrefix = "cryptoplug-opencryptoki-"
)

// Token is the opencryptoki soft token of this test process.
type Token struct {
	Label   string // CKA token label, random
	PIN     string // user PIN (opencryptoki allows 4 to 8 characters)
	SOPIN   string // security officer PIN
	PINFile string // file holding PIN, mode 0600
	// URI opens the token: pkcs11:token=LABEL?module-path=…&pin-source=file:PINFile&max-sessions=4
	URI string
}

// Environ returns the environment entry that lets a child process (a test
// binary run again, for instance) use this token through [Shared]
// while this process keeps pkcsslotd running. opencryptoki serves several
// processes; the child must not outlive this process.
func (t *Token) Environ() string {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err) // a struct of strings
	}
	return envToken + "=" + string(b)
}

// URIWith returns the token's URI without max-sessions, followed by query
// (such as "&max-sessions=2").
func (t *Token) URIWith(query string) string {
	return fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", t.Label, ModulePath, t.PINFile) + query
}

var shared struct {
	once  sync.Once
	token *Token
	err   error
}

// envToken, in a child process's environment, hands it the parent's token
// (see [Token.Environ]).
const envToken = "CRYPTOPLUG_OPENCRYPTOKI_TOKEN"

// Shared returns the process's soft token, setting it up on first use (see
// the package documentation). In a process started with [Token.Environ]
// it returns the parent's token, which the parent keeps running. It fails
// tb, never skips it, when opencryptoki is missing or cannot start.
func Shared(tb testing.TB) *Token {
	tb.Helper()
	shared.once.Do(func() {
		if v := os.Getenv(envToken); v != "" {
			shared.token = new(Token)
			shared.err = json.Unmarshal([]byte(v), shared.token)
			return
		}
		shared.token, shared.err = setup()
	})
	if shared.err != nil {
		tb.Fatalf("opencryptokitest: %v", shared.err)
	}
	return shared.token
}

// Installed reports whether opencryptoki's slot daemon, module and soft
// token are present, with a message naming what is missing and how to
// install it.
func Installed() (bool, string) {
	var missing []string
	for _, p := range []string{slotDaemon, ModulePath, softToken, configFile} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("opencryptoki is not installed (missing %s): run `make deps` (or `apt-get install opencryptoki`)", strings.Join(missing, ", "))
}

func setup() (*Token, error) {
	if ok, msg := Installed(); !ok {
		return nil, errors.New(msg)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the opencryptoki tests must run as root: pkcsslotd refuses to run otherwise")
	}
	grp, err := user.LookupGroup("pkcs11")
	if err != nil {
		return nil, fmt.Errorf("group pkcs11 (created by the opencryptoki package) is missing: %w", err)
	}
	gid, _ := strconv.Atoi(grp.Gid)
	if module.Loaded(ModulePath) {
		return nil, errors.New("the opencryptoki module was loaded before the harness started its daemon; call Shared first")
	}

	// One test process at a time owns the soft token: the lock is held
	// until this process and its reaper have both exited. The descriptor
	// is never closed (an *os.File would be, by its finalizer).
	fd, err := syscall.Open(machineLock, syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", machineLock, err)
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", machineLock, err)
	}
	reaperFd, err := syscall.Dup(fd)
	if err != nil {
		return nil, err
	}
	lock := os.NewFile(uintptr(reaperFd), machineLock)
	defer lock.Close() // the reaper has its own copy
	if err := reaper.Orphans(filepath.Join("/tmp", statePrefix+"*", "plan.json")); err != nil {
		return nil, fmt.Errorf("cleaning up after an earlier test process: %w", err)
	}
	if pid := runningDaemon(); pid != 0 {
		return nil, fmt.Errorf("a pkcsslotd these tests did not start is running (pid %d), so someone may be using the soft token; stop it (systemctl stop pkcsslotd) and run the tests again", pid)
	}

	state, err := os.MkdirTemp("/tmp", fmt.Sprintf("%s%d-", statePrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	plan := &reaper.Plan{
		Stop:    []reaper.Proc{{PIDFile: daemonPID, Name: "pkcsslotd"}},
		Remove:  []string{state},
		Restore: []reaper.Rename{{Backup: filepath.Join(dataDir, ".swtok.cryptoplug-"+strconv.Itoa(os.Getpid())), Original: tokenDir}},
	}
	for _, s := range []struct{ root, glob string }{{root: dataDir}, {root: lockDir}, {root: logDir}, {glob: runGlob}, {glob: shmGlob}} {
		snap, err := reaper.TakeSnapshot(s.root, s.glob)
		if err != nil {
			return nil, err
		}
		plan.Created = append(plan.Created, snap)
	}
	if key, err := slotManagerShmKey(); err == nil && !shmExists(key) {
		plan.SysVShm = []int{key} // removed after the daemon stops, if it could not remove it
	}
	planPath := filepath.Join(state, "plan.json")
	if err := reaper.Start(planPath, plan, lock); err != nil {
		return nil, err
	}

	// Nothing has changed yet; from here the reaper undoes it all.
	if _, err := os.Stat(tokenDir); err == nil {
		if err := os.Rename(tokenDir, plan.Restore[0].Backup); err != nil {
			return nil, fmt.Errorf("move the soft token's directory aside: %w", err)
		}
	}
	for _, d := range []string{tokenDir, filepath.Join(tokenDir, "TOK_OBJ")} {
		if err := os.Mkdir(d, 0o770); err != nil {
			return nil, err
		}
		if err := os.Chown(d, 0, gid); err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o770); err != nil { // past the umask
			return nil, err
		}
	}
	if err := startDaemon(state); err != nil {
		return nil, err
	}

	t := &Token{Label: "cp-" + randomHex(6), PIN: randomHex(4), SOPIN: randomHex(4)}
	t.PINFile = filepath.Join(state, "user.pin")
	if err := os.WriteFile(t.PINFile, []byte(t.PIN+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := initToken(t); err != nil {
		return nil, fmt.Errorf("initialise the soft token: %w", err)
	}
	t.URI = t.URIWith(fmt.Sprintf("&max-sessions=%d", MaxSessions))
	return t, nil
}

// startDaemon runs pkcsslotd, which forks, and waits for the daemon to
// write its PID file.
func startDaemon(state string) error {
	logPath := filepath.Join(state, "pkcsslotd.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(slotDaemon)
	cmd.Stdout, cmd.Stderr = log, log
	runErr := cmd.Run()
	output := func() string { b, _ := os.ReadFile(logPath); return strings.TrimSpace(string(b)) }
	if runErr != nil {
		return fmt.Errorf("pkcsslotd: %v: %s", runErr, output())
	}
	deadline := time.Now().Add(10 * time.Second)
	for runningDaemon() == 0 || !fileExists(daemonPID) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pkcsslotd did not start within 10s: %s", output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// runningDaemon returns the PID of a live pkcsslotd, or 0.
func runningDaemon() int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && reaper.Running(reaper.Proc{PID: pid, Name: "pkcsslotd"}) {
			return pid
		}
	}
	return 0
}

// initToken initialises the soft token in this process (C_InitToken with
// the default SO PIN of a fresh token, then new SO and user PINs).
func initToken(t *Token) error {
	m, err := module.Open(context.Background(), ModulePath)
	if err != nil {
		return err
	}
	defer m.Release()
	p := m.Ctx
	slot, err := softSlot(p)
	if err != nil {
		return err
	}
	if err := p.InitToken(slot, defaultSO, t.Label); err != nil {
		return fmt.Errorf("C_InitToken: %w", err)
	}
	return testtoken.AsSO(p, slot, defaultSO, func(sh pkcs11.SessionHandle) error {
		if err := p.SetPIN(sh, defaultSO, t.SOPIN); err != nil {
			return fmt.Errorf("C_SetPIN (SO): %w", err)
		}
		if err := p.InitPIN(sh, t.PIN); err != nil {
			return fmt.Errorf("C_InitPIN: %w", err)
		}
		return nil
	})
}

// softSlot finds the slot of the soft token.
func softSlot(p *pkcs11.Ctx) (uint, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && strings.TrimRight(ti.Model, " \x00") == softModel {
			return s, nil
		}
	}
	return 0, fmt.Errorf("no soft token among slots %v: %s needs a `slot N { stdll = libpkcs11_sw.so }` stanza", slots, configFile)
}

// slotManagerShmKey is the System V key of pkcsslotd's shared memory:
// ftok(pkcsslotd's path, 'b').
func slotManagerShmKey() (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(slotDaemon, &st); err != nil {
		return 0, err
	}
	return int('b')<<24 | int(st.Dev&0xff)<<16 | int(st.Ino&0xffff), nil
}

func shmExists(key int) bool {
	_, err := unix.SysvShmGet(key, 0, 0)
	return !errors.Is(err, unix.ENOENT)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
