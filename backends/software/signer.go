package software

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	// Hashes the allow-list names, so that a digest's crypto.Hash can be
	// instantiated (PSS, RFC 6979, Ed25519ph via SignMessage).
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/cryptoplug/cryptoplug/backend"
)

const opSign = "sign"

var (
	_ backend.Signer        = (*rsaSigner)(nil)
	_ backend.Signer        = (*ecdsaSigner)(nil)
	_ backend.MessageSigner = (*ed25519Signer)(nil)
	_ backend.MessageSigner = (*ed448Signer)(nil)
	_ backend.MessageSigner = (*mldsaSigner)(nil)
)

// hashOf returns opts.HashFunc(), refusing nil options and the typed nil
// pointers for which HashFunc would panic.
func hashOf(opts crypto.SignerOpts) (crypto.Hash, error) {
	nilOpts := false
	switch o := opts.(type) {
	case nil:
		nilOpts = true
	case *rsa.PSSOptions:
		nilOpts = o == nil
	case *ed25519.Options:
		nilOpts = o == nil
	case *ed448.SignerOptions:
		nilOpts = o == nil
	}
	if nilOpts {
		return 0, fmt.Errorf("nil signer options: %w", backend.ErrInvalidInput)
	}
	return opts.HashFunc(), nil
}

// rsaSigner signs with PKCS #1 v1.5, or PSS when opts is *rsa.PSSOptions.
type rsaSigner struct {
	k    *key
	priv *rsa.PrivateKey
}

// Public returns the *rsa.PublicKey.
func (s *rsaSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign signs digest like (*rsa.PrivateKey).Sign, after [backend.CheckDigest]
// and, for PSS, [backend.PSSSaltLength], whose salt length it signs with.
// The PSS salt comes from rand, or crypto/rand when rand is nil (where
// crypto/rsa would panic); PKCS #1 v1.5 ignores rand.
func (s *rsaSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.enter(opSign); err != nil {
		return nil, err
	}
	defer s.k.leave()
	sig, err := s.sign(rand, digest, opts)
	if err != nil {
		return nil, s.k.fail(opSign, err)
	}
	return sig, nil
}

// SignContext is Sign after a check of ctx.
func (s *rsaSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.ctxErr(ctx, opSign); err != nil {
		return nil, err
	}
	return s.Sign(rand, digest, opts)
}

func (s *rsaSigner) sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, err := hashOf(opts); err != nil {
		return nil, err
	}
	if err := backend.CheckDigest(digest, opts); err != nil {
		return nil, err
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		salt, err := backend.PSSSaltLength(&s.priv.PublicKey, pss)
		if err != nil {
			return nil, err
		}
		if rand == nil {
			rand = cryptorand.Reader // crypto/rsa would dereference it
		}
		return rsa.SignPSS(rand, s.priv, pss.Hash, digest, &rsa.PSSOptions{SaltLength: salt, Hash: pss.Hash})
	}
	return rsa.SignPKCS1v15(rand, s.priv, opts.HashFunc(), digest)
}

// ecdsaSigner signs with ECDSA, ASN.1 DER encoded.
type ecdsaSigner struct {
	k    *key
	priv *ecdsa.PrivateKey
}

// Public returns the *ecdsa.PublicKey.
func (s *ecdsaSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign signs digest like (*ecdsa.PrivateKey).Sign (randomized, or RFC 6979
// deterministic when rand is nil), after [backend.CheckDigest]: unlike
// crypto/ecdsa, a digest whose length does not match opts is refused.
func (s *ecdsaSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.enter(opSign); err != nil {
		return nil, err
	}
	defer s.k.leave()
	if _, err := hashOf(opts); err != nil {
		return nil, s.k.fail(opSign, err)
	}
	if err := backend.CheckDigest(digest, opts); err != nil {
		return nil, s.k.fail(opSign, err)
	}
	sig, err := s.priv.Sign(rand, digest, opts)
	if err != nil {
		return nil, s.k.fail(opSign, err)
	}
	return sig, nil
}

// SignContext is Sign after a check of ctx.
func (s *ecdsaSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.ctxErr(ctx, opSign); err != nil {
		return nil, err
	}
	return s.Sign(rand, digest, opts)
}

// ed25519Signer signs with Ed25519, Ed25519ctx and Ed25519ph.
type ed25519Signer struct {
	k    *key
	priv ed25519.PrivateKey
}

// Public returns the ed25519.PublicKey.
func (s *ed25519Signer) Public() crypto.PublicKey { return s.k.pub }

// Sign signs like ed25519.PrivateKey.Sign: msg is the message for
// crypto.Hash(0), or a SHA-512 digest for Ed25519ph (*ed25519.Options with
// Hash crypto.SHA512); *ed25519.Options may carry a context. Options are
// checked with [backend.CheckEd25519Options].
func (s *ed25519Signer) Sign(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.enter(opSign); err != nil {
		return nil, err
	}
	defer s.k.leave()
	if _, err := hashOf(opts); err != nil {
		return nil, s.k.fail(opSign, err)
	}
	if _, err := backend.CheckEd25519Options(msg, opts); err != nil {
		return nil, s.k.fail(opSign, err)
	}
	sig, err := s.priv.Sign(rand, msg, opts)
	if err != nil {
		return nil, s.k.fail(opSign, fmt.Errorf("%w: %w", err, backend.ErrInvalidInput))
	}
	return sig, nil
}

// SignContext is Sign after a check of ctx.
func (s *ed25519Signer) SignContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.ctxErr(ctx, opSign); err != nil {
		return nil, err
	}
	return s.Sign(rand, msg, opts)
}

// SignMessage signs the whole message msg, as [crypto.SignMessage] would with
// the standard library's key: with a zero hash that is Sign itself; with
// SHA-512 (Ed25519ph) msg is hashed first.
func (s *ed25519Signer) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	h, err := hashOf(opts)
	if err != nil {
		return nil, s.k.fail(opSign, err)
	}
	if h == crypto.SHA512 {
		d := h.New()
		d.Write(msg)
		msg = d.Sum(nil)
	}
	return s.Sign(rand, msg, opts)
}

// SignMessageContext is SignMessage after a check of ctx.
func (s *ed25519Signer) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.ctxErr(ctx, opSign); err != nil {
		return nil, err
	}
	return s.SignMessage(rand, msg, opts)
}

// ed448Signer signs with Ed448 or Ed448ph (circl).
type ed448Signer struct {
	k    *key
	priv ed448.PrivateKey
}

// Public returns the ed448.PublicKey.
func (s *ed448Signer) Public() crypto.PublicKey { return s.k.pub }

// Sign signs the message msg. opts is crypto.Hash(0) for pure Ed448 with an
// empty context, or ed448.SignerOptions (value or pointer) to choose a
// context of at most 255 bytes and the Ed448 or Ed448ph scheme; Ed448ph
// hashes msg itself. A non-zero hash, a longer context or options made for
// another key type fail with [backend.ErrInvalidInput].
func (s *ed448Signer) Sign(rand io.Reader, msg []byte, opts crypto.SignerOpts) (sig []byte, err error) {
	if err := s.k.enter(opSign); err != nil {
		return nil, err
	}
	defer s.k.leave()
	defer func() {
		if recover() != nil {
			sig, err = nil, s.k.fail(opSign, errors.New("circl Ed448 signing failed"))
		}
	}()
	if sig, err = s.sign(msg, opts); err != nil {
		return nil, s.k.fail(opSign, err)
	}
	return sig, nil
}

func (s *ed448Signer) sign(msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	h, err := hashOf(opts)
	if err != nil {
		return nil, err
	}
	if h != 0 {
		return nil, fmt.Errorf("Ed448 signs whole messages; pass crypto.Hash(0) or ed448.SignerOptions, not %v: %w", h, backend.ErrInvalidInput)
	}
	var o ed448.SignerOptions
	switch v := opts.(type) {
	case ed448.SignerOptions:
		o = v
	case *ed448.SignerOptions:
		o = *v
	case *ed25519.Options:
		return nil, fmt.Errorf("ed25519.Options given to an Ed448 key: %w", backend.ErrInvalidInput)
	}
	if len(o.Context) > ed448.ContextMaxSize {
		return nil, fmt.Errorf("Ed448 context longer than %d bytes: %w", ed448.ContextMaxSize, backend.ErrInvalidInput)
	}
	switch o.Scheme {
	case ed448.ED448:
		return ed448.Sign(s.priv, msg, o.Context), nil
	case ed448.ED448Ph:
		return ed448.SignPh(s.priv, msg, o.Context), nil
	}
	return nil, fmt.Errorf("unknown Ed448 scheme %d: %w", o.Scheme, backend.ErrInvalidInput)
}

// SignContext is Sign after a check of ctx.
func (s *ed448Signer) SignContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.ctxErr(ctx, opSign); err != nil {
		return nil, err
	}
	return s.Sign(rand, msg, opts)
}

// SignMessage is Sign: Ed448 always signs the whole message.
func (s *ed448Signer) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.Sign(rand, msg, opts)
}

// SignMessageContext is SignContext.
func (s *ed448Signer) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(ctx, rand, msg, opts)
}

// mldsaSigner signs with ML-DSA-44, -65 or -87 (circl).
type mldsaSigner struct {
	k    *key
	priv crypto.Signer // *mldsa44.PrivateKey, *mldsa65.PrivateKey or *mldsa87.PrivateKey
}

// Public returns the *mldsaNN.PublicKey.
func (s *mldsaSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign signs the message msg with ML-DSA (FIPS 204, deterministic, empty
// context), as circl's key does for a nil or crypto.Hash(0) opts; rand is
// ignored. A non-zero hash, or options made for another key type, fail with
// [backend.ErrInvalidInput].
func (s *mldsaSigner) Sign(rand io.Reader, msg []byte, opts crypto.SignerOpts) (sig []byte, err error) {
	if err := s.k.enter(opSign); err != nil {
		return nil, err
	}
	defer s.k.leave()
	defer func() {
		if recover() != nil {
			sig, err = nil, s.k.fail(opSign, errors.New("circl ML-DSA signing failed"))
		}
	}()
	switch o := opts.(type) {
	case *ed25519.Options, ed448.SignerOptions, *ed448.SignerOptions:
		return nil, s.k.fail(opSign, fmt.Errorf("%T given to an ML-DSA key: %w", o, backend.ErrInvalidInput))
	}
	if opts != nil && opts.HashFunc() != 0 {
		return nil, s.k.fail(opSign, fmt.Errorf("ML-DSA signs whole messages; pass crypto.Hash(0), not %v: %w", opts.HashFunc(), backend.ErrInvalidInput))
	}
	sig, err = s.priv.Sign(rand, msg, crypto.Hash(0))
	if err != nil {
		return nil, s.k.fail(opSign, err)
	}
	return sig, nil
}

// SignContext is Sign after a check of ctx.
func (s *mldsaSigner) SignContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.k.ctxErr(ctx, opSign); err != nil {
		return nil, err
	}
	return s.Sign(rand, msg, opts)
}

// SignMessage is Sign: ML-DSA always signs the whole message.
func (s *mldsaSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.Sign(rand, msg, opts)
}

// SignMessageContext is SignContext.
func (s *mldsaSigner) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(ctx, rand, msg, opts)
}
