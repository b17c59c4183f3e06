//go:build !cgo

// Package softhsmtest gives tests a fresh SoftHSM2 token each. It needs
// cgo; in a build without cgo every function fails the test.
package softhsmtest

import "testing"

// ModulePath is the SoftHSM2 module as Debian installs it.
const ModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// MaxSessions is the max-sessions value in the URIs this package returns.
const MaxSessions = 4

// Token is a freshly initialised SoftHSM2 token.
type Token struct {
	Label, PIN, SOPIN, PINFile, Dir, URI string
}

const noCgo = "softhsmtest: this test binary was built without cgo (CGO_ENABLED=0); PKCS #11 tests need CGO_ENABLED=1 and a C compiler"

// NewToken fails the test: PKCS #11 needs cgo.
func NewToken(tb testing.TB) string { tb.Helper(); tb.Fatal(noCgo); return "" }

// Create fails the test: PKCS #11 needs cgo.
func Create(tb testing.TB) *Token { tb.Helper(); tb.Fatal(noCgo); return nil }

// Installed reports false in a build without cgo.
func Installed() (bool, string) { return false, noCgo }

// URIWith returns "" in a build without cgo.
func (t *Token) URIWith(query string) string { return "" }
