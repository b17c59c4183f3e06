//go:build !cgo

// Package tpm2pkcs11test gives tests tpm2-pkcs11 tokens. It needs cgo; in
// a build without cgo every function fails the test.
package tpm2pkcs11test

import "testing"

// ModulePath is tpm2-pkcs11's PKCS #11 module as Debian installs it.
const ModulePath = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"

// MaxSessions is the max-sessions value in the URIs this package returns.
const MaxSessions = 4

// Token is a fresh tpm2-pkcs11 token.
type Token struct {
	Label, PIN, SOPIN, PINFile, URI string
}

// Stack is the process's software TPM, bus and resource manager.
type Stack struct {
	Dir, Socket, Bus, Store string
}

const noCgo = "tpm2pkcs11test: this test binary was built without cgo (CGO_ENABLED=0); PKCS #11 tests need CGO_ENABLED=1 and a C compiler"

// NewToken fails the test: PKCS #11 needs cgo.
func NewToken(tb testing.TB) string { tb.Helper(); tb.Fatal(noCgo); return "" }

// Create fails the test: PKCS #11 needs cgo.
func Create(tb testing.TB) *Token { tb.Helper(); tb.Fatal(noCgo); return nil }

// Shared fails the test: PKCS #11 needs cgo.
func Shared(tb testing.TB) *Stack { tb.Helper(); tb.Fatal(noCgo); return nil }

// Installed reports false in a build without cgo.
func Installed() (bool, string) { return false, noCgo }

// URIWith returns "" in a build without cgo.
func (t *Token) URIWith(query string) string { return "" }
