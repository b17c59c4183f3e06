package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cryptoplug/cryptoplug/backend"
)

// signPKCS1v15Check returns the check of RSA PKCS #1 v1.5 signatures with
// hash h: through Sign and SignContext (and SignMessage when the Signer
// offers it), each of modulus length and verified by crypto/rsa. SHA-256 is
// the baseline.
func signPKCS1v15Check(h crypto.Hash) func(*runner, *cell, backend.Algorithm) {
	return func(r *runner, c *cell, a backend.Algorithm) {
		k, s := r.signer(c, a)
		pub := k.Public().(*rsa.PublicKey)
		v := &variants{c: c}
		v.run(fmt.Sprintf("PKCS#1 v1.5 with %v", h), h == crypto.SHA256, func() error {
			for _, withCtx := range []bool{false, true} {
				digest := randomDigest(h)
				sig, err := sign(c, s, digest, h, withCtx)
				if err != nil {
					return err
				}
				checkRSASignature(c, pub, digest, sig, h, "")
			}
			return nil
		})
		signMessageHashed(c, v, s, pub, h, h, h == crypto.SHA256)
		v.finish()
	}
}

// signPSSCheck returns the check of RSA-PSS signatures with hash h, for each
// salt-length rule: PSSSaltLengthEqualsHash (verified with exactly that, as
// TLS 1.3 and X.509 verify), PSSSaltLengthAuto and 0 (verified with Auto),
// and an explicit 20-byte salt. SHA-256 with EqualsHash and Auto is the
// baseline.
func signPSSCheck(h crypto.Hash) func(*runner, *cell, backend.Algorithm) {
	return func(r *runner, c *cell, a backend.Algorithm) {
		k, s := r.signer(c, a)
		pub := k.Public().(*rsa.PublicKey)
		v := &variants{c: c}
		cases := []struct {
			name     string
			salt     int
			verify   int
			baseline bool
		}{
			{"PSSSaltLengthEqualsHash", rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthEqualsHash, true},
			{"PSSSaltLengthAuto", rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthAuto, true},
			{"salt length 0 (Auto)", 0, rsa.PSSSaltLengthAuto, true},
			{"salt length 20", 20, 20, false},
		}
		for i, tc := range cases {
			v.run(fmt.Sprintf("PSS %v %s", h, tc.name), tc.baseline && h == crypto.SHA256, func() error {
				opts := &rsa.PSSOptions{SaltLength: tc.salt, Hash: h}
				digest := randomDigest(h)
				sig, err := sign(c, s, digest, opts, i%2 == 1)
				if err != nil {
					return err
				}
				checkRSASignature(c, pub, digest, sig, &rsa.PSSOptions{SaltLength: tc.verify, Hash: h}, tc.name)
				return nil
			})
		}
		signMessageHashed(c, v, s, pub, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h},
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}, h == crypto.SHA256)
		v.finish()
	}
}

// checkRSASignature checks an RSA signature's length and verifies it.
func checkRSASignature(c *cell, pub *rsa.PublicKey, digest, sig []byte, verifyOpts crypto.SignerOpts, what string) {
	c.t.Helper()
	if len(sig) != pub.Size() {
		c.failf(FaultStore, fmt.Sprintf("a %d-byte signature", pub.Size()), fmt.Sprintf("%d bytes", len(sig)),
			"%s signature is %d bytes, want the modulus size %d", what, len(sig), pub.Size())
		return
	}
	if err := verify(pub, digest, sig, verifyOpts); err != nil {
		c.badSignature(what+" signature", describeOpts(verifyOpts), err)
	}
}

func describeOpts(o crypto.SignerOpts) string {
	if p, ok := o.(*rsa.PSSOptions); ok {
		switch p.SaltLength {
		case rsa.PSSSaltLengthEqualsHash:
			return fmt.Sprintf("PSS %v with PSSSaltLengthEqualsHash", p.Hash)
		case rsa.PSSSaltLengthAuto:
			return fmt.Sprintf("PSS %v with any salt length", p.Hash)
		}
		return fmt.Sprintf("PSS %v with salt length %d", p.Hash, p.SaltLength)
	}
	if o == nil {
		return "nil options"
	}
	return o.HashFunc().String()
}

// signMessageHashed checks SignMessage on an RSA or ECDSA Signer that
// offers crypto.MessageSigner: crypto/x509 and crypto/tls call it instead of
// Sign when it is there, so it must hash the message with opts' hash.
func signMessageHashed(c *cell, v *variants, s backend.Signer, pub crypto.PublicKey, opts, verifyOpts crypto.SignerOpts, baseline bool) {
	c.t.Helper()
	ms, ok := s.(crypto.MessageSigner)
	if !ok {
		return
	}
	v.run("SignMessage with "+describeOpts(opts), baseline, func() error {
		msg := randomBytes(100)
		sig, err := ms.SignMessage(rand.Reader, msg, opts)
		if err != nil {
			return err
		}
		if err := verify(pub, hashOf(opts.HashFunc(), msg), sig, verifyOpts); err != nil {
			c.badSignature(fmt.Sprintf("SignMessage signature over the message's %v hash", opts.HashFunc()), describeOpts(verifyOpts), err)
		}
		return nil
	})
}

// signECDSACheck returns the check of ECDSA signatures with hash h on any
// curve, the hash/curve mismatches (P-256 with SHA-512, P-521 with SHA-256)
// included: verified by ecdsa.VerifyASN1, which truncates the digest as the
// standard says. The curve's own hash is the baseline.
func signECDSACheck(h crypto.Hash) func(*runner, *cell, backend.Algorithm) {
	return func(r *runner, c *cell, a backend.Algorithm) {
		k, s := r.signer(c, a)
		pub := k.Public().(*ecdsa.PublicKey)
		v := &variants{c: c}
		v.run(fmt.Sprintf("ECDSA %s with %v", a, h), h == a.CurveHash(), func() error {
			for _, withCtx := range []bool{false, true} {
				digest := randomDigest(h)
				sig, err := sign(c, s, digest, h, withCtx)
				if err != nil {
					return err
				}
				if err := checkECDSAEncoding(pub, sig); err != nil {
					c.failf(FaultCryptoplug, "canonical ASN.1 DER", err.Error(), "signature encoding: %v", err)
				} else if err := verify(pub, digest, sig, h); err != nil {
					c.badSignature("signature", describeOpts(h), err)
				}
			}
			return nil
		})
		signMessageHashed(c, v, s, pub, h, h, h == a.CurveHash())
		v.finish()
	}
}

// checkECDSAEncoding checks that sig is the canonical ASN.1 DER
// SEQUENCE { r, s } crypto/ecdsa produces, with r and s in [1, N-1].
func checkECDSAEncoding(pub *ecdsa.PublicKey, sig []byte) error {
	var r, s big.Int
	var inner cryptobyte.String
	in := cryptobyte.String(sig)
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) || !inner.Empty() {
		return fmt.Errorf("not a canonical ASN.1 DER SEQUENCE of two minimal INTEGERs (%d bytes; raw r||s would be %d)",
			len(sig), 2*((pub.Curve.Params().BitSize+7)/8))
	}
	n := pub.Curve.Params().N
	if r.Sign() <= 0 || r.Cmp(n) >= 0 || s.Sign() <= 0 || s.Cmp(n) >= 0 {
		return fmt.Errorf("r or s outside [1, N-1]")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(&r)
		b.AddASN1BigInt(&s)
	})
	canonical, err := b.Bytes()
	if err != nil {
		return err
	}
	if !bytes.Equal(canonical, sig) {
		return fmt.Errorf("DER is not canonical: re-encoding r and s gives different bytes")
	}
	return nil
}

// checkSignMessage checks pure signatures (Ed25519, Ed448, ML-DSA): empty,
// short and long messages through SignMessage, SignMessageContext and
// crypto.SignMessage, each verified by the standard library or circl. Every
// path is baseline: pure signing is what these keys are for. Sign with
// crypto.Hash(0) may sign the message (as the standard library's keys do) or
// refuse; it must not return anything else.
func checkSignMessage(r *runner, c *cell, a backend.Algorithm) {
	k, ms := r.messageSigner(c, a)
	pub := k.Public()
	for i, msg := range [][]byte{{}, randomBytes(33), randomBytes(4096)} {
		sig, err := signMessage(c, ms, msg, crypto.Hash(0), i%2 == 1)
		if err != nil {
			c.callFailed(fmt.Sprintf("SignMessage of a %d-byte message", len(msg)), err)
		} else if err := verify(pub, msg, sig, crypto.Hash(0)); err != nil {
			c.badSignature(fmt.Sprintf("SignMessage of a %d-byte message", len(msg)), "pure "+string(a), err)
		}
	}
	msg := randomBytes(200)
	if sig, err := crypto.SignMessage(ms, rand.Reader, msg, crypto.Hash(0)); err != nil {
		c.callFailed("crypto.SignMessage", err)
	} else if err := verify(pub, msg, sig, crypto.Hash(0)); err != nil {
		c.badSignature("crypto.SignMessage", "pure "+string(a), err)
	}
	// The standard library's keys sign the message passed to Sign when the
	// hash is zero; crypto.MessageSigner also allows Sign to refuse. Either
	// is accepted, a wrong signature is not. (crypto/x509 and crypto/tls
	// call SignMessage when it is there.)
	sig, err := sign(c, ms, msg, crypto.Hash(0), false)
	switch {
	case err != nil && (errors.Is(err, backend.ErrInvalidInput) || errors.Is(err, backend.ErrUnsupported)):
		c.Notef("Sign with crypto.Hash(0) refused (%v); SignMessage is the way", err)
	case err != nil:
		c.failf(FaultCryptoplug, "a pure signature, or ErrInvalidInput or ErrUnsupported", gotErr(err),
			"Sign with crypto.Hash(0): %v; want a pure signature of the message, or ErrInvalidInput or ErrUnsupported", err)
	default:
		if err := verify(pub, msg, sig, crypto.Hash(0)); err != nil {
			c.badSignature("Sign with crypto.Hash(0) returned a signature that is not the pure signature of the message", "pure "+string(a), err)
		} else {
			c.Notef("Sign with crypto.Hash(0) signs the message, as the standard library's key does")
		}
	}
}

// checkSignEd25519Options checks the Ed25519 variants chosen with
// *ed25519.Options: Ed25519ctx (a context string), Ed25519ph (a SHA-512
// digest, through *ed25519.Options or a bare crypto.SHA512) and Ed25519ph
// with a context. None is baseline; a store that refuses them with
// ErrUnsupported is noted.
func checkSignEd25519Options(r *runner, c *cell, a backend.Algorithm) {
	k, ms := r.messageSigner(c, a)
	pub := k.Public()
	v := &variants{c: c}
	msg := randomBytes(77)
	digest := hashOf(crypto.SHA512, msg)
	type variant struct {
		name    string
		opts    crypto.SignerOpts
		input   []byte
		message bool // through SignMessage rather than Sign
	}
	for _, tc := range []variant{
		{"Ed25519ctx via Sign", &ed25519.Options{Context: "cryptoplug conformance"}, msg, false},
		{"Ed25519ctx via SignMessage", &ed25519.Options{Context: "cryptoplug conformance"}, msg, true},
		{"Ed25519ph via Sign with *ed25519.Options", &ed25519.Options{Hash: crypto.SHA512}, digest, false},
		{"Ed25519ph via Sign with crypto.SHA512", crypto.SHA512, digest, false},
		{"Ed25519ph via SignMessage, which hashes the message", &ed25519.Options{Hash: crypto.SHA512}, msg, true},
		{"Ed25519ph with a context", &ed25519.Options{Hash: crypto.SHA512, Context: "cryptoplug conformance"}, digest, false},
	} {
		v.run(tc.name, false, func() error {
			var sig []byte
			var err error
			if tc.message {
				sig, err = signMessage(c, ms, tc.input, tc.opts, true)
			} else {
				sig, err = sign(c, ms, tc.input, tc.opts, false)
			}
			if err != nil {
				return err
			}
			input := tc.input
			if tc.message && tc.opts.HashFunc() == crypto.SHA512 {
				input = digest // crypto.SignMessage semantics: SignMessage hashes first
			}
			if err := verify(pub, input, sig, tc.opts); err != nil {
				c.failf(FaultStore, "a signature that verifies as "+tc.name, whatEd25519Signed(pub, msg, digest, sig),
					"%s: %v", tc.name, err)
			}
			return nil
		})
	}
	v.finish()
}

// checkSignInvalid sends malformed requests and checks each fails with the
// contract's error: a digest that does not match the hash, nil or zero
// options, hashes off the allow-list (ErrUnsupported), PSS salts that do not
// fit; for pure schemes, a hash where none belongs and an overlong Ed25519
// context. After every refused call, a valid one on the same key must
// succeed, and no call may modify its input.
func checkSignInvalid(r *runner, c *cell, a backend.Algorithm) {
	k, s := r.signer(c, a)
	pub := k.Public()
	type tc struct {
		name  string
		input []byte
		opts  crypto.SignerOpts
		msg   bool // SignMessage rather than Sign
		want  []error
	}
	inv := []error{backend.ErrInvalidInput}
	d256 := randomDigest(crypto.SHA256)
	var cases []tc
	switch a.Family() {
	case backend.FamilyRSA, backend.FamilyECDSA:
		cases = []tc{
			{"nil options", d256, nil, false, inv},
			{"crypto.Hash(0) (sign raw bytes)", d256, crypto.Hash(0), false, inv},
			{"SHA-256 digest with crypto.SHA384", d256, crypto.SHA384, false, inv},
			{"33-byte digest with crypto.SHA256", append(bytes.Clone(d256), 1), crypto.SHA256, false, inv},
			{"empty digest with crypto.SHA256", []byte{}, crypto.SHA256, false, inv},
			{"SHA-1 (not on the allow-list)", randomDigest(crypto.SHA1), crypto.SHA1, false, []error{backend.ErrUnsupported}},
			{"MD5 (not on the allow-list)", randomDigest(crypto.MD5), crypto.MD5, false, []error{backend.ErrUnsupported}},
		}
		if p, ok := pub.(*rsa.PublicKey); ok {
			maxSalt := backend.PSSMaxSaltLength(p, crypto.SHA256)
			cases = append(cases,
				tc{"PSS salt one byte longer than fits", d256, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: maxSalt + 1}, false, inv},
				tc{"PSS salt length -3", d256, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: -3}, false, inv},
				tc{"PSS options without a hash", d256, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}, false, inv},
				tc{"PSS with SHA-384 and a SHA-256 digest", d256, &rsa.PSSOptions{Hash: crypto.SHA384, SaltLength: rsa.PSSSaltLengthEqualsHash}, false, inv},
			)
		}
	case backend.FamilyEdDSA, backend.FamilyMLDSA:
		if _, ok := s.(backend.MessageSigner); !ok {
			c.fatalf(FaultCryptoplug, "a backend.MessageSigner", fmt.Sprintf("%T", s), "the Signer of a %s key does not implement backend.MessageSigner", a)
		}
		either := []error{backend.ErrInvalidInput, backend.ErrUnsupported}
		hashed := inv
		if a != backend.Ed25519 {
			hashed = either // pre-hashed variants are outside the contract for Ed448 and ML-DSA
		}
		msg := randomBytes(40)
		cases = []tc{
			{"SignMessage with crypto.SHA256", msg, crypto.SHA256, true, hashed},
			{"Sign with crypto.SHA256 and a SHA-256 digest", d256, crypto.SHA256, false, hashed},
		}
		if a == backend.Ed25519 {
			cases = append(cases,
				tc{"nil options", msg, nil, false, inv},
				tc{"Ed25519ph with a 32-byte digest", d256, crypto.SHA512, false, inv},
				tc{"Ed25519 context of 256 bytes", msg, &ed25519.Options{Context: string(bytes.Repeat([]byte{'c'}, 256))}, true, inv},
			)
		} else {
			cases = append(cases, tc{"Sign with crypto.SHA512 and a SHA-512 digest", randomDigest(crypto.SHA512), crypto.SHA512, false, either})
		}
	}
	for _, tc := range cases {
		for _, withCtx := range []bool{false, true} {
			var err error
			name := tc.name
			if withCtx {
				name += " (context variant)"
			}
			if tc.msg {
				_, err = signMessage(c, s.(backend.MessageSigner), tc.input, tc.opts, withCtx)
			} else {
				_, err = sign(c, s, tc.input, tc.opts, withCtx)
			}
			wantErr(c, name, err, tc.want...)
			signValid(c, a, s, pub, "after "+name)
		}
	}
	c.Notef("%d malformed requests refused", 2*len(cases))
}

// signValid makes and verifies one valid signature with s; checks call it
// after a refused request to show the key still works.
func signValid(c *cell, a backend.Algorithm, s backend.Signer, pub crypto.PublicKey, when string) {
	c.t.Helper()
	var (
		sig, input []byte
		opts       crypto.SignerOpts
		err        error
	)
	switch a.Family() {
	case backend.FamilyRSA:
		input, opts = randomDigest(crypto.SHA256), crypto.SHA256
		sig, err = s.SignContext(c.ctx, rand.Reader, input, opts)
	case backend.FamilyECDSA:
		input, opts = randomDigest(a.CurveHash()), a.CurveHash()
		sig, err = s.SignContext(c.ctx, rand.Reader, input, opts)
	default:
		input, opts = randomBytes(30), crypto.Hash(0)
		sig, err = s.(backend.MessageSigner).SignMessageContext(c.ctx, rand.Reader, input, opts)
	}
	if err != nil {
		c.callFailed("a valid signature "+when, err)
	} else if err := verify(pub, input, sig, opts); err != nil {
		c.badSignature("a valid signature "+when, describeOpts(opts), err)
	}
}

// whatEd25519Signed names what an Ed25519 signature that failed to verify
// as the variant asked for is instead, for a result's Got: a store that
// ignores a context or a pre-hash flag returns a signature of another
// variant.
func whatEd25519Signed(pub crypto.PublicKey, msg, digest, sig []byte) string {
	pk, ok := pub.(ed25519.PublicKey)
	if !ok {
		return "a signature that does not verify"
	}
	for _, cand := range []struct {
		name  string
		input []byte
		opts  *ed25519.Options
	}{
		{"a pure Ed25519 signature of the message", msg, &ed25519.Options{}},
		{"a pure Ed25519 signature of the SHA-512 digest", digest, &ed25519.Options{}},
		{"an Ed25519ph signature without the context", digest, &ed25519.Options{Hash: crypto.SHA512}},
	} {
		if ed25519.VerifyWithOptions(pk, cand.input, sig, cand.opts) == nil {
			return cand.name
		}
	}
	return "a signature that verifies as no Ed25519 variant tried"
}
