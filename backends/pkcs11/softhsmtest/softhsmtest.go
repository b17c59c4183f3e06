//go:build cgo

// Package softhsmtest gives tests a fresh SoftHSM2 token each: a private
// SoftHSM2 configuration and token directory for the test process, a new
// uniquely labelled token per call, and a cryptoplug URI that opens it. It
// is a normal package so that tests of other packages (conformance,
// benchmarks, servers) can import it.
//
// SoftHSM2 must be installed (Debian: softhsm2, plus opensc for the
// pkcs11-tool interoperability tests; `make deps` installs both). When it is
// missing, tests fail with a message saying so: they are never skipped.
//
// The package sets SOFTHSM2_CONF for the whole process the first time it is
// used, so call it before anything in the process loads the SoftHSM2
// module with another configuration.
package softhsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/testtoken"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/miekg/pkcs11"
)

// ModulePath is the SoftHSM2 module as Debian installs it.
const ModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// MaxSessions is the max-sessions value in the URIs this package returns.
const MaxSessions = 4

// Token is a freshly initialised SoftHSM2 token.
type Token struct {
	Label   string // CKA token label, unique in the process
	PIN     string // user PIN
	SOPIN   string // security officer PIN
	PINFile string // file holding PIN, mode 0600
	Dir     string // the process-wide token directory
	// URI opens the token: pkcs11:token=LABEL?module-path=…&pin-source=file:PINFile&max-sessions=4
	URI string
}

var (
	setupOnce sync.Once
	setupDir  string
	setupErr  error

	createMu sync.Mutex // one token initialisation at a time
)

// NewToken creates a token (see [Create]) and returns its URI.
func NewToken(tb testing.TB) (uri string) {
	tb.Helper()
	return Create(tb).URI
}

// Create initialises a new token with a random label, user PIN and SO PIN
// in the process's private token directory and deletes it when the test
// ends. It fails the test (never skips it) when SoftHSM2 is not installed.
//
// The token is initialised through the module in this process
// (C_InitToken, C_InitPIN), not with softhsm2-util: SoftHSM2 reads its
// token directory when the module is initialised, so a token made by
// another process would stay invisible to a process that already has the
// module loaded. Tokens made here are visible to other processes
// (softhsm2-util, pkcs11-tool) at once.
func Create(tb testing.TB) *Token {
	tb.Helper()
	dir := setup(tb)
	createMu.Lock()
	defer createMu.Unlock()

	t := &Token{
		Label: "cp-" + randomHex(tb, 6),
		PIN:   randomHex(tb, 8),
		SOPIN: randomHex(tb, 8),
		Dir:   dir,
	}
	t.PINFile = filepath.Join(dir, t.Label+".pin")
	if err := os.WriteFile(t.PINFile, []byte(t.PIN+"\n"), 0o600); err != nil {
		tb.Fatalf("softhsmtest: write PIN file: %v", err)
	}
	if err := initToken(t); err != nil {
		tb.Fatalf("softhsmtest: initialise token %s: %v", t.Label, err)
	}
	t.URI = t.URIWith(fmt.Sprintf("&max-sessions=%d", MaxSessions))
	tb.Cleanup(func() {
		out, err := exec.Command("softhsm2-util", "--delete-token", "--token", t.Label).CombinedOutput()
		if err != nil {
			tb.Errorf("softhsmtest: softhsm2-util --delete-token --token %s: %v\n%s", t.Label, err, out)
		}
		_ = os.Remove(t.PINFile)
	})
	return t
}

// URIWith returns the token's URI without max-sessions, followed by query
// (such as "&max-sessions=2&timeout=1s").
func (t *Token) URIWith(query string) string {
	return fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", t.Label, ModulePath, t.PINFile) + query
}

// initToken initialises the token through a handle of its own on the
// module. When nothing in the process had initialised SoftHSM2, it
// finalises it again afterwards (SoftHSM2, unlike opencryptoki, can be
// initialised again), so that a library that must initialise the module
// itself, such as crypto11, still can; otherwise it leaves it alone.
func initToken(t *Token) error {
	p := pkcs11.New(ModulePath)
	if p == nil {
		return fmt.Errorf("cannot load %s", ModulePath)
	}
	defer p.Destroy()
	switch err := p.Initialize(); {
	case err == nil:
		defer p.Finalize()
	case errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
	default:
		return fmt.Errorf("C_Initialize: %w", err)
	}
	return testtoken.InitFree(p, "SoftHSM2", t.Label, t.SOPIN, t.PIN)
}

// SlotByLabel returns the slot holding the token labelled label.
func SlotByLabel(p *pkcs11.Ctx, label string) (uint, error) { return testtoken.SlotByLabel(p, label) }

// Installed reports whether SoftHSM2 (module and softhsm2-util) is present,
// with a message naming what is missing and how to install it.
func Installed() (bool, string) {
	var missing []string
	if _, err := os.Stat(ModulePath); err != nil {
		missing = append(missing, ModulePath)
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		missing = append(missing, "softhsm2-util")
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("SoftHSM2 is not installed (missing %s): run `make deps` (or `apt-get install softhsm2 opensc`)", strings.Join(missing, ", "))
}

// setup creates the process's token directory and configuration once and
// points SOFTHSM2_CONF at it.
func setup(tb testing.TB) string {
	tb.Helper()
	if ok, msg := Installed(); !ok {
		tb.Fatal("softhsmtest: " + msg)
	}
	setupOnce.Do(func() {
		removeStale()
		dir, err := os.MkdirTemp("", fmt.Sprintf("cryptoplug-softhsm-%d-", os.Getpid()))
		if err != nil {
			setupErr = err
			return
		}
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			setupErr = err
			return
		}
		conf := filepath.Join(dir, "softhsm2.conf")
		body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			setupErr = err
			return
		}
		if module.Loaded(ModulePath) {
			setupErr = errors.New("the SoftHSM2 module was loaded before softhsmtest set SOFTHSM2_CONF; create tokens first")
			return
		}
		setupErr = os.Setenv("SOFTHSM2_CONF", conf)
		setupDir = dir
	})
	if setupErr != nil {
		tb.Fatalf("softhsmtest: set up token directory: %v", setupErr)
	}
	return setupDir
}

// removeStale deletes token directories left by test processes that died
// before they could clean up (the directory name carries the process ID).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "cryptoplug-softhsm-*-*"))
	for _, d := range dirs {
		parts := strings.Split(filepath.Base(d), "-")
		if len(parts) < 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(d)
		}
	}
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("softhsmtest: %v", err)
	}
	return hex.EncodeToString(b)
}
