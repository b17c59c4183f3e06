package backend

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
)

// SignScheme is a signature scheme, as chosen by a key's algorithm and the
// caller's options.
type SignScheme uint8

// The signature schemes a [SignRequest] can carry.
const (
	// SchemePKCS1v15 is RSASSA-PKCS1-v1_5 over a digest.
	SchemePKCS1v15 SignScheme = iota + 1
	// SchemePSS is RSASSA-PSS over a digest, MGF1 with the digest's hash.
	SchemePSS
	// SchemeECDSA is ECDSA over a digest; signatures are ASN.1 DER.
	SchemeECDSA
	// SchemeEd25519 is pure Ed25519 over a message, or Ed25519ctx when the
	// request has a context (RFC 8032).
	SchemeEd25519
	// SchemeEd25519ph is Ed25519ph (HashEdDSA) over a SHA-512 digest.
	SchemeEd25519ph
	// SchemeEd448 is pure Ed448 over a message, with an optional context.
	SchemeEd448
	// SchemeEd448ph is Ed448ph over a message: the store hashes it with
	// SHAKE256, as circl's ed448.SignPh does.
	SchemeEd448ph
	// SchemeMLDSA is pure ML-DSA (FIPS 204) over a message, with an
	// optional context.
	SchemeMLDSA
)

var signSchemeNames = [...]string{
	SchemePKCS1v15:  "PKCS1v15",
	SchemePSS:       "PSS",
	SchemeECDSA:     "ECDSA",
	SchemeEd25519:   "Ed25519",
	SchemeEd25519ph: "Ed25519ph",
	SchemeEd448:     "Ed448",
	SchemeEd448ph:   "Ed448ph",
	SchemeMLDSA:     "ML-DSA",
}

// String returns the scheme's name, such as "PSS" or "Ed25519ph".
func (s SignScheme) String() string {
	if int(s) < len(signSchemeNames) && signSchemeNames[s] != "" {
		return signSchemeNames[s]
	}
	return fmt.Sprintf("SignScheme(%d)", s)
}

// ParseSignScheme returns the scheme String names, or an error wrapping
// [ErrInvalidInput].
func ParseSignScheme(name string) (SignScheme, error) {
	for s, n := range signSchemeNames {
		if n != "" && n == name {
			return SignScheme(s), nil
		}
	}
	return 0, fmt.Errorf("unknown signature scheme %q: %w", name, ErrInvalidInput)
}

// Digest reports whether the scheme signs a digest the caller computed
// (PKCS #1 v1.5, PSS, ECDSA, Ed25519ph) rather than a whole message.
func (s SignScheme) Digest() bool {
	switch s {
	case SchemePKCS1v15, SchemePSS, SchemeECDSA, SchemeEd25519ph:
		return true
	}
	return false
}

// MaxSignContextLen is the longest context Ed25519ctx, Ed25519ph, Ed448 and
// ML-DSA accept (RFC 8032, FIPS 204).
const MaxSignContextLen = 255

// MLDSAOptions selects an ML-DSA context string (FIPS 204, at most
// [MaxSignContextLen] bytes). Pass it, as a value or a pointer, to a key's
// Sign or SignMessage; crypto.Hash(0) or nil signs with the empty context.
// HashFunc returns 0: ML-DSA signs whole messages.
type MLDSAOptions struct {
	Context []byte
}

// HashFunc returns 0.
func (MLDSAOptions) HashFunc() crypto.Hash { return 0 }

// SignRequest is a signing request with the caller's options parsed and
// checked against the key: what every store works from. Make one with
// [ParseSignOptions] (the adapters from [NewSigner] do); a store reads it and
// never looks at [crypto.SignerOpts] itself.
type SignRequest struct {
	// Scheme is the signature scheme.
	Scheme SignScheme
	// Hash is the hash the digest was made with (PKCS #1 v1.5, PSS, ECDSA;
	// SHA-512 for Ed25519ph), and 0 for schemes that sign messages.
	Hash crypto.Hash
	// SaltLength is the PSS salt length to sign with, in bytes: the hash's
	// size for [rsa.PSSSaltLengthEqualsHash], the caller's count, or the
	// largest salt that fits for [rsa.PSSSaltLengthAuto].
	SaltLength int
	// SaltAuto reports that the caller asked for [rsa.PSSSaltLengthAuto]: a
	// verifier given Auto accepts any salt length, so a store that cannot
	// use SaltLength may sign with another, such as the hash's size.
	SaltAuto bool
	// Context is the Ed25519ctx/Ed25519ph, Ed448 or ML-DSA context; empty
	// for none. At most [MaxSignContextLen] bytes. It aliases the caller's
	// options and must not be modified.
	Context []byte
	// Input is the digest for schemes where [SignScheme.Digest] is true,
	// and the message otherwise. It aliases the caller's argument and must
	// not be modified.
	Input []byte
}

// Options returns standard options that ask for req's scheme, the inverse
// of [ParseSignOptions]: a [crypto.Hash], [*rsa.PSSOptions],
// [*ed25519.Options], [ed448.SignerOptions] or [MLDSAOptions]. Servers use it
// to turn a request received over the wire back into a call on a key.
func (req *SignRequest) Options() crypto.SignerOpts {
	switch req.Scheme {
	case SchemePSS:
		salt := req.SaltLength
		if req.SaltAuto {
			salt = rsa.PSSSaltLengthAuto
		}
		return &rsa.PSSOptions{SaltLength: salt, Hash: req.Hash}
	case SchemeEd25519, SchemeEd25519ph:
		if req.Scheme == SchemeEd25519 && len(req.Context) == 0 {
			return crypto.Hash(0)
		}
		return &ed25519.Options{Hash: req.Hash, Context: string(req.Context)}
	case SchemeEd448:
		return ed448.SignerOptions{Scheme: ed448.ED448, Context: string(req.Context)}
	case SchemeEd448ph:
		return ed448.SignerOptions{Scheme: ed448.ED448Ph, Context: string(req.Context)}
	case SchemeMLDSA:
		if len(req.Context) == 0 {
			return crypto.Hash(0)
		}
		return MLDSAOptions{Context: req.Context}
	}
	return req.Hash
}

// ParseSignOptions checks a signing request for a key of algorithm alg with
// public key pub and returns it parsed. input is the argument of Sign (a
// digest, or for pure schemes the message, as the standard library reads
// it); message is true when it comes from SignMessage, which for Ed25519ph
// hashes the message with SHA-512 first, as [crypto.SignMessage] would.
//
// The options accepted are what the standard library (or circl) accepts for
// such a key, and nothing meant for another key type:
//
//   - RSA: a [crypto.Hash] (PKCS #1 v1.5) or [*rsa.PSSOptions]; the hash must
//     be allowed ([SignatureHashAllowed]) and the digest its size; PSS salt
//     lengths as [PSSSaltLength] resolves them.
//   - ECDSA: a [crypto.Hash], with the same digest rules.
//   - Ed25519: crypto.Hash(0) or [*ed25519.Options] (a context makes
//     Ed25519ctx; Hash crypto.SHA512 makes Ed25519ph over a 64-byte digest).
//   - Ed448: crypto.Hash(0) or [ed448.SignerOptions], as a value or a pointer
//     (Scheme ed448.ED448 or ed448.ED448Ph, optional context).
//   - ML-DSA: nil, crypto.Hash(0) or [MLDSAOptions], as a value or a pointer.
//
// Nil options (where not listed above), typed nil pointers, options for
// another key type, contexts over [MaxSignContextLen] bytes and digests of
// the wrong length fail with [ErrInvalidInput]; a hash outside the
// allow-list fails with [ErrUnsupported]. ParseSignOptions never panics and
// allocates only for Ed25519ph's digest when message is true.
func ParseSignOptions(alg Algorithm, pub crypto.PublicKey, input []byte, opts crypto.SignerOpts, message bool) (SignRequest, error) {
	if nilOpts(opts) && !(opts == nil && alg.Family() == FamilyMLDSA) {
		return SignRequest{}, fmt.Errorf("nil signer options: %w", ErrInvalidInput)
	}
	switch alg.Family() {
	case FamilyRSA:
		return parseRSASign(pub, input, opts)
	case FamilyECDSA:
		if err := checkNotForeign(opts, "ECDSA"); err != nil {
			return SignRequest{}, err
		}
		h, err := digestHash(input, opts)
		if err != nil {
			return SignRequest{}, err
		}
		return SignRequest{Scheme: SchemeECDSA, Hash: h, Input: input}, nil
	case FamilyEdDSA:
		if alg == Ed448 {
			return parseEd448(input, opts)
		}
		return parseEd25519(input, opts, message)
	case FamilyMLDSA:
		return parseMLDSA(input, opts)
	}
	return SignRequest{}, fmt.Errorf("%s keys do not sign: %w", alg, ErrUnsupported)
}

func parseRSASign(pub crypto.PublicKey, input []byte, opts crypto.SignerOpts) (SignRequest, error) {
	if err := checkNotForeign(opts, "RSA"); err != nil {
		return SignRequest{}, err
	}
	h, err := digestHash(input, opts)
	if err != nil {
		return SignRequest{}, err
	}
	pss, ok := opts.(*rsa.PSSOptions)
	if !ok {
		return SignRequest{Scheme: SchemePKCS1v15, Hash: h, Input: input}, nil
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return SignRequest{}, fmt.Errorf("PSS needs an *rsa.PublicKey, the key has %T: %w", pub, ErrInvalidInput)
	}
	salt, err := PSSSaltLength(rsaPub, pss)
	if err != nil {
		return SignRequest{}, err
	}
	return SignRequest{Scheme: SchemePSS, Hash: h, SaltLength: salt, SaltAuto: pss.SaltLength == rsa.PSSSaltLengthAuto, Input: input}, nil
}

func parseEd25519(input []byte, opts crypto.SignerOpts, message bool) (SignRequest, error) {
	var context string
	switch o := opts.(type) {
	case *ed25519.Options:
		context = o.Context
	case ed448.SignerOptions, *ed448.SignerOptions, MLDSAOptions, *MLDSAOptions, *rsa.PSSOptions:
		return SignRequest{}, fmt.Errorf("%T given to an Ed25519 key: %w", opts, ErrInvalidInput)
	}
	if len(context) > MaxSignContextLen {
		return SignRequest{}, fmt.Errorf("Ed25519 context is %d bytes, at most %d: %w", len(context), MaxSignContextLen, ErrInvalidInput)
	}
	h, err := hashFunc(opts)
	if err != nil {
		return SignRequest{}, err
	}
	req := SignRequest{Scheme: SchemeEd25519, Input: input, Context: contextBytes(context)}
	switch h {
	case 0:
		return req, nil
	case crypto.SHA512:
		if message {
			d := sha512.Sum512(input)
			req.Input = d[:]
		}
		if len(req.Input) != sha512.Size {
			return SignRequest{}, fmt.Errorf("Ed25519ph digest is %d bytes, need 64: %w", len(req.Input), ErrInvalidInput)
		}
		req.Scheme, req.Hash = SchemeEd25519ph, crypto.SHA512
		return req, nil
	}
	return SignRequest{}, fmt.Errorf("Ed25519 with hash %v: only SHA-512 (Ed25519ph) or none: %w", h, ErrInvalidInput)
}

func parseEd448(input []byte, opts crypto.SignerOpts) (SignRequest, error) {
	var o ed448.SignerOptions
	switch v := opts.(type) {
	case ed448.SignerOptions:
		o = v
	case *ed448.SignerOptions:
		o = *v
	case *ed25519.Options, MLDSAOptions, *MLDSAOptions, *rsa.PSSOptions:
		return SignRequest{}, fmt.Errorf("%T given to an Ed448 key: %w", opts, ErrInvalidInput)
	default:
		h, err := hashFunc(opts)
		if err != nil {
			return SignRequest{}, err
		}
		if h != 0 {
			return SignRequest{}, fmt.Errorf("Ed448 signs whole messages; pass crypto.Hash(0) or ed448.SignerOptions, not %v: %w", h, ErrInvalidInput)
		}
	}
	if len(o.Context) > MaxSignContextLen {
		return SignRequest{}, fmt.Errorf("Ed448 context is %d bytes, at most %d: %w", len(o.Context), MaxSignContextLen, ErrInvalidInput)
	}
	req := SignRequest{Scheme: SchemeEd448, Input: input, Context: contextBytes(o.Context)}
	switch o.Scheme {
	case ed448.ED448:
	case ed448.ED448Ph:
		req.Scheme = SchemeEd448ph
	default:
		return SignRequest{}, fmt.Errorf("unknown Ed448 scheme %d: %w", o.Scheme, ErrInvalidInput)
	}
	return req, nil
}

func parseMLDSA(input []byte, opts crypto.SignerOpts) (SignRequest, error) {
	var context []byte
	switch o := opts.(type) {
	case nil:
	case MLDSAOptions:
		context = o.Context
	case *MLDSAOptions:
		context = o.Context
	case *ed25519.Options, ed448.SignerOptions, *ed448.SignerOptions, *rsa.PSSOptions:
		return SignRequest{}, fmt.Errorf("%T given to an ML-DSA key: %w", opts, ErrInvalidInput)
	default:
		h, err := hashFunc(opts)
		if err != nil {
			return SignRequest{}, err
		}
		if h != 0 {
			return SignRequest{}, fmt.Errorf("ML-DSA signs whole messages; pass crypto.Hash(0) or MLDSAOptions, not %v: %w", h, ErrInvalidInput)
		}
	}
	if len(context) > MaxSignContextLen {
		return SignRequest{}, fmt.Errorf("ML-DSA context is %d bytes, at most %d: %w", len(context), MaxSignContextLen, ErrInvalidInput)
	}
	if len(context) == 0 {
		context = nil
	}
	return SignRequest{Scheme: SchemeMLDSA, Input: input, Context: context}, nil
}

// checkNotForeign refuses the option types made for pure schemes when a
// digest scheme was asked for: their HashFunc would otherwise select PKCS
// #1 v1.5 or ECDSA over whatever hash they carry.
func checkNotForeign(opts crypto.SignerOpts, family string) error {
	switch opts.(type) {
	case *ed25519.Options, ed448.SignerOptions, *ed448.SignerOptions, MLDSAOptions, *MLDSAOptions:
		return fmt.Errorf("%T given to an %s key: %w", opts, family, ErrInvalidInput)
	case *rsa.PSSOptions:
		if family != "RSA" {
			return fmt.Errorf("%T given to an %s key: %w", opts, family, ErrInvalidInput)
		}
	}
	return nil
}

// digestHash applies [CheckDigest] and returns the digest's hash.
func digestHash(digest []byte, opts crypto.SignerOpts) (crypto.Hash, error) {
	h, err := hashFunc(opts)
	if err != nil {
		return 0, err
	}
	if err := checkDigest(digest, h); err != nil {
		return 0, err
	}
	return h, nil
}

// hashFunc returns opts.HashFunc(). Options of a type this package does not
// know could be typed nil pointers whose method dereferences its receiver;
// such a panic is turned into an error wrapping [ErrInvalidInput].
func hashFunc(opts crypto.SignerOpts) (h crypto.Hash, err error) {
	switch o := opts.(type) {
	case crypto.Hash:
		return o, nil
	case *rsa.PSSOptions:
		return o.Hash, nil
	case *ed25519.Options:
		return o.Hash, nil
	}
	defer func() {
		if recover() != nil {
			h, err = 0, fmt.Errorf("signer options %T: HashFunc panicked: %w", opts, ErrInvalidInput)
		}
	}()
	return opts.HashFunc(), nil
}

// contextBytes returns the bytes of a non-empty context string, nil for an
// empty one.
func contextBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
