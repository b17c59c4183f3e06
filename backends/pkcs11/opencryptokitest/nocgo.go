//go:build !cgo

// Package opencryptokitest gives tests an opencryptoki soft token. It needs
// cgo; in a build without cgo every function fails the test.
package opencryptokitest

import "testing"

// ModulePath is opencryptoki's PKCS #11 module as Debian installs it.
const ModulePath = "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so"

// MaxSessions is the max-sessions value in the URIs this package returns.
const MaxSessions = 4

// Token is the opencryptoki soft token of this test process.
type Token struct {
	Label, PIN, SOPIN, PINFile, URI string
}

const noCgo = "opencryptokitest: this test binary was built without cgo (CGO_ENABLED=0); PKCS #11 tests need CGO_ENABLED=1 and a C compiler"

// Shared fails the test: PKCS #11 needs cgo.
func Shared(tb testing.TB) *Token { tb.Helper(); tb.Fatal(noCgo); return nil }

// Installed reports false in a build without cgo.
func Installed() (bool, string) { return false, noCgo }

// URIWith returns "" in a build without cgo.
func (t *Token) URIWith(query string) string { return "" }

// Environ returns "" in a build without cgo.
func (t *Token) Environ() string { return "" }
