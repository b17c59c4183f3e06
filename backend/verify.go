package backend

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// VerifySignature reports whether sig is a valid signature by pub under
// exactly the scheme, hash, salt length and context req describes (a
// request from [ParseSignOptions]), over req.Input. It is how a signature
// that must not leave a store unchecked is checked (a token that may ignore
// parameters), and how a server verifies. A request whose scheme does not
// fit pub's type reports false. It never panics.
func VerifySignature(pub crypto.PublicKey, req *SignRequest, sig []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	switch p := pub.(type) {
	case *rsa.PublicKey:
		switch req.Scheme {
		case SchemePKCS1v15:
			return rsa.VerifyPKCS1v15(p, req.Hash, req.Input, sig) == nil
		case SchemePSS:
			salt := req.SaltLength
			if req.SaltAuto {
				salt = rsa.PSSSaltLengthAuto
			}
			return rsa.VerifyPSS(p, req.Hash, req.Input, sig, &rsa.PSSOptions{SaltLength: salt, Hash: req.Hash}) == nil
		}
	case *ecdsa.PublicKey:
		return req.Scheme == SchemeECDSA && ecdsa.VerifyASN1(p, req.Input, sig)
	case ed25519.PublicKey:
		switch req.Scheme {
		case SchemeEd25519, SchemeEd25519ph:
			return ed25519.VerifyWithOptions(p, req.Input, sig, &ed25519.Options{Hash: req.Hash, Context: string(req.Context)}) == nil
		}
	case ed448.PublicKey:
		switch req.Scheme {
		case SchemeEd448:
			return ed448.Verify(p, req.Input, sig, string(req.Context))
		case SchemeEd448ph:
			return ed448.VerifyPh(p, req.Input, sig, string(req.Context))
		}
	case *mldsa44.PublicKey:
		return req.Scheme == SchemeMLDSA && mldsa44.Verify(p, req.Input, req.Context, sig)
	case *mldsa65.PublicKey:
		return req.Scheme == SchemeMLDSA && mldsa65.Verify(p, req.Input, req.Context, sig)
	case *mldsa87.PublicKey:
		return req.Scheme == SchemeMLDSA && mldsa87.Verify(p, req.Input, req.Context, sig)
	}
	return false
}
