//go:build cgo

package pkcs11

/*
#include <stdlib.h>
#include <string.h>

// CK_EDDSA_PARAMS from PKCS #11 3.0 (CK_BBOOL, CK_ULONG, CK_BYTE_PTR).
typedef struct {
	unsigned char phFlag;
	unsigned long ulContextDataLen;
	unsigned char *pContextData;
} cp_eddsa_params;
*/
import "C"

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"fmt"
	"io"
	"unsafe"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// edSigner signs with an Ed25519 or Ed448 key through CKM_EDDSA. Pure
// signatures use the mechanism without parameters; Ed25519ph, Ed25519ctx
// and Ed448 contexts pass CK_EDDSA_PARAMS, which tokens that do not
// implement them (SoftHSM2 2.6) refuse: those calls fail with
// [backend.ErrUnsupported].
type edSigner struct{ k *key }

var _ backend.MessageSigner = (*edSigner)(nil)

func (s *edSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign accepts what the standard library's key accepts: for Ed25519, a
// message with crypto.Hash(0) (or *ed25519.Options without a hash) or a
// SHA-512 digest with crypto.SHA512 (Ed25519ph); for Ed448, a message with
// crypto.Hash(0) or *ed448.SignerOptions.
func (s *edSigner) Sign(rand io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(useTimeout, message, opts)
}

// SignContext is Sign bounded by ctx.
func (s *edSigner) SignContext(ctx context.Context, rand io.Reader, message []byte, opts crypto.SignerOpts) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return s.sign(ctx, message, opts)
}

// SignMessage signs msg. With a SHA-512 hash (Ed25519 only) it hashes msg
// and signs the digest as Ed25519ph, as [crypto.SignMessage] would.
func (s *edSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.signMessage(useTimeout, msg, opts)
}

// SignMessageContext is SignMessage bounded by ctx.
func (s *edSigner) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return s.signMessage(ctx, msg, opts)
}

func (s *edSigner) signMessage(ctx context.Context, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() == crypto.SHA512 && s.k.alg == backend.Ed25519 {
		d := sha512.Sum512(msg)
		msg = d[:]
	}
	return s.sign(ctx, msg, opts)
}

func (s *edSigner) sign(ctx context.Context, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	const op = "sign"
	k := s.k
	if err := k.b.checkOpen(ctx, op, k.name()); err != nil {
		return nil, err
	}
	var (
		prehash bool
		context string
	)
	switch k.alg {
	case backend.Ed25519:
		var err error
		if prehash, err = backend.CheckEd25519Options(msg, opts); err != nil {
			return nil, backend.Errorf(op, k.b.name, k.name(), err)
		}
		if o, ok := opts.(*ed25519.Options); ok {
			context = o.Context
		}
	case backend.Ed448:
		switch o := opts.(type) {
		case *ed448.SignerOptions:
			if o.Scheme == ed448.ED448Ph {
				return nil, backend.Errorf(op, k.b.name, k.name(), fmt.Errorf("Ed448ph: %w", backend.ErrUnsupported))
			}
			context = o.Context
		case nil:
			return nil, backend.Errorf(op, k.b.name, k.name(), fmt.Errorf("nil signer options; pass crypto.Hash(0): %w", backend.ErrInvalidInput))
		default:
			if o.HashFunc() != 0 {
				return nil, backend.Errorf(op, k.b.name, k.name(), fmt.Errorf("Ed448 signs messages, not %v digests: %w", o.HashFunc(), backend.ErrInvalidInput))
			}
		}
		if len(context) > 255 {
			return nil, backend.Errorf(op, k.b.name, k.name(), fmt.Errorf("Ed448 context longer than 255 bytes: %w", backend.ErrInvalidInput))
		}
	}
	variant := prehash || context != ""
	if variant && k.b.edParamsIgnored.Load() {
		return nil, backend.Errorf(op, k.b.name, k.name(), errEdDSAVariant)
	}
	mech := mechEdDSA
	if variant {
		params, free := eddsaParams(prehash, context)
		defer free()
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, params)}
	}
	sig, err := k.sign(ctx, mech, msg)
	if err != nil {
		return nil, backend.Errorf(op, k.b.name, k.name(), err)
	}
	if variant && !verifyEdDSA(k.pub, msg, sig, prehash, context) {
		// Some tokens (SoftHSM2 2.6) accept CK_EDDSA_PARAMS and ignore
		// them, returning a pure signature: check, and remember.
		k.b.edParamsIgnored.Store(true)
		return nil, backend.Errorf(op, k.b.name, k.name(), errEdDSAVariant)
	}
	return sig, nil
}

var errEdDSAVariant = fmt.Errorf("the token does not implement Ed25519ph, Ed25519ctx or EdDSA contexts (it ignores CK_EDDSA_PARAMS): %w", backend.ErrUnsupported)

// verifyEdDSA checks a signature made with CK_EDDSA_PARAMS in software.
func verifyEdDSA(pub crypto.PublicKey, msg, sig []byte, prehash bool, context string) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		opts := &ed25519.Options{Context: context}
		if prehash {
			opts.Hash = crypto.SHA512
		}
		return ed25519.VerifyWithOptions(p, msg, sig, opts) == nil
	case ed448.PublicKey:
		return ed448.Verify(p, msg, sig, context)
	}
	return false
}

// eddsaParams encodes CK_EDDSA_PARAMS. The context bytes live in C memory,
// since the structure holds a pointer to them; free releases it after the
// operation.
func eddsaParams(prehash bool, context string) (params []byte, free func()) {
	var p C.cp_eddsa_params
	if prehash {
		p.phFlag = 1
	}
	var ctxData unsafe.Pointer
	if context != "" {
		ctxData = C.CBytes([]byte(context))
		p.pContextData = (*C.uchar)(ctxData)
		p.ulContextDataLen = C.ulong(len(context))
	}
	params = C.GoBytes(unsafe.Pointer(&p), C.int(unsafe.Sizeof(p)))
	return params, func() {
		if ctxData != nil {
			C.free(ctxData)
		}
	}
}
