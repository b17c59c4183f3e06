package conformance

import (
	"crypto"
	"strings"

	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// mldsaVerifyContext verifies an ML-DSA signature made with a context.
func mldsaVerifyContext(pub crypto.PublicKey, msg, ctx, sig []byte) bool {
	switch k := pub.(type) {
	case *mldsa44.PublicKey:
		return mldsa44.Verify(k, msg, ctx, sig)
	case *mldsa65.PublicKey:
		return mldsa65.Verify(k, msg, ctx, sig)
	case *mldsa87.PublicKey:
		return mldsa87.Verify(k, msg, ctx, sig)
	}
	return false
}

// mldsaContextCases are the ML-DSA context forms: backend.MLDSAOptions as a
// value and as a pointer, the 255-byte context (allowed) and the 256-byte
// one (ErrInvalidInput). A store without contexts refuses them with
// ErrUnsupported; it must not return a signature with the empty context.
func mldsaContextCases(a backend.Algorithm, pub crypto.PublicKey, msg []byte) []optionCase {
	verifyCtx := func(ctx []byte) func([]byte) error {
		return func(sig []byte) error {
			if !mldsaVerifyContext(pub, msg, ctx, sig) {
				return errBadSignature
			}
			return nil
		}
	}
	is := func(sig []byte) string {
		if mldsaVerifyContext(pub, msg, nil, sig) {
			return "an " + string(a) + " signature with the empty context"
		}
		return ""
	}
	ctx := []byte(ctxShort)
	long := []byte(strings.Repeat("c", 255))
	over := []byte(strings.Repeat("c", 256))
	inv := []error{backend.ErrInvalidInput}
	return []optionCase{
		{name: "backend.MLDSAOptions with a context (value)", input: msg, opts: backend.MLDSAOptions{Context: ctx},
			verifyAs: verifyCtx(ctx), optional: true, alsoIs: is},
		{name: "*backend.MLDSAOptions with a context (pointer)", input: msg, opts: &backend.MLDSAOptions{Context: ctx},
			verifyAs: verifyCtx(ctx), optional: true, alsoIs: is},
		{name: "backend.MLDSAOptions with a 255-byte context", input: msg, opts: backend.MLDSAOptions{Context: long},
			verifyAs: verifyCtx(long), optional: true, alsoIs: is},
		{name: "backend.MLDSAOptions with a 256-byte context", input: msg, opts: backend.MLDSAOptions{Context: over}, refuse: inv, alsoIs: is},
		{name: "*backend.MLDSAOptions with a 256-byte context", input: msg, opts: &backend.MLDSAOptions{Context: over}, refuse: inv, alsoIs: is},
		{name: "(*backend.MLDSAOptions)(nil)", input: msg, opts: (*backend.MLDSAOptions)(nil), refuse: inv,
			verifyAs: func(sig []byte) error { return verify(pub, msg, sig, crypto.Hash(0)) }, alsoIs: is},
	}
}
