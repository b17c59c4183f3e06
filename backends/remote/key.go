//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
package remote

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"io"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// Key is a handle to a key on the server. It holds the label, ID, algorithm
// and public key the server reported; each operation is one request by
// label. It is safe for concurrent use.
type Key struct {
	b     *Backend
	label string
	id    backend.KeyID
	alg   backend.Algorithm
	pub   crypto.PublicKey
	usage backend.Usage
}

// ID returns the key's ID.
func (k *Key) ID() backend.KeyID { return k.id }

// Label returns the key's label.
func (k *Key) Label() string { return k.label }

// Algorithm returns the key's algorithm.
func (k *Key) Algorithm() backend.Algorithm { return k.alg }

// Public returns the public key the server reported.
func (k *Key) Public() crypto.PublicKey { return k.pub }

func (k *Key) unsupported(op string) error {
	return backend.Errorf(op, Scheme, k.label, fmt.Errorf("%w: a %s key created for %v", backend.ErrUnsupported, k.alg, wire.UsageNames(k.usage)))
}

// Signer returns the key as a backend.Signer, and a backend.MessageSigner
// for pure schemes.
func (k *Key) Signer() (backend.Signer, error) {
	if k.usage&backend.UsageSign == 0 || !k.alg.Signs() {
		return nil, k.unsupported("signer")
	}
	s := &Signer{k: k}
	if k.alg.SignsMessages() {
		return &MessageSigner{s}, nil
	}
	return s, nil
}

// Decrypter returns the key as a backend.Decrypter (RSA keys created for
// decryption).
func (k *Key) Decrypter() (backend.Decrypter, error) {
	if k.usage&backend.UsageDecrypt == 0 || !k.alg.Decrypts() {
		return nil, k.unsupported("decrypter")
	}
	return &Decrypter{k: k}, nil
}

// Decapsulator returns the key as a backend.Decapsulator (ML-KEM keys).
func (k *Key) Decapsulator() (backend.Decapsulator, error) {
	if k.usage&backend.UsageDecapsulate == 0 || !k.alg.Decapsulates() {
		return nil, k.unsupported("decapsulator")
	}
	enc, ok := k.pub.(crypto.Encapsulator)
	if !ok {
		return nil, k.unsupported("decapsulator")
	}
	return &Decapsulator{k: k, enc: enc}, nil
}

// Signer signs over POST /v1/sign.
type Signer struct{ k *Key }

// Public returns the key's public key.
func (s *Signer) Public() crypto.PublicKey { return s.k.pub }

// Sign is SignContext bounded by the backend's timeout.
func (s *Signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := s.k.b.opContext()
	defer cancel()
	return s.SignContext(ctx, rand, digest, opts)
}

// SignContext signs digest on the server with the scheme opts select. rand
// is ignored.
func (s *Signer) SignContext(ctx context.Context, _ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.sign(ctx, digest, nil, opts)
}

// MessageSigner is the Signer of a pure-scheme key.
type MessageSigner struct{ *Signer }

// SignMessage is SignMessageContext bounded by the backend's timeout.
func (s *MessageSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := s.k.b.opContext()
	defer cancel()
	return s.SignMessageContext(ctx, rand, msg, opts)
}

// SignMessageContext signs the whole message on the server. rand is
// ignored.
func (s *MessageSigner) SignMessageContext(ctx context.Context, _ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.sign(ctx, nil, msg, opts)
}

// nonNil keeps an empty input distinguishable from an absent one on the wire.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (k *Key) sign(ctx context.Context, digest, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	const op = "sign"
	if err := k.b.check(ctx, op, k.label); err != nil {
		return nil, err
	}
	if opts == nil {
		return nil, backend.Errorf(op, Scheme, k.label, fmt.Errorf("%w: nil options", backend.ErrInvalidInput))
	}
	req := wire.SignRequest{Label: k.label, Hash: wire.HashName(opts.HashFunc())}
	if msg != nil {
		req.Message = nonNil(msg)
	} else {
		req.Digest = nonNil(digest)
	}
	switch o := opts.(type) {
	case *rsa.PSSOptions:
		req.Scheme, req.SaltLength = wire.SchemePSS, o.SaltLength
	case *ed25519.Options:
		req.Scheme, req.Context = wire.SchemeEd25519, []byte(o.Context)
		if o.Context != "" && k.alg != backend.Ed25519 {
			return nil, backend.Errorf(op, Scheme, k.label, fmt.Errorf("%w: Ed25519 options for a %s key", backend.ErrInvalidInput, k.alg))
		}
	default:
		switch {
		case k.alg.Family() == backend.FamilyRSA:
			req.Scheme = wire.SchemePKCS1v15
		case k.alg.Family() == backend.FamilyECDSA:
			req.Scheme = wire.SchemeECDSA
		case k.alg == backend.Ed25519:
			req.Scheme = wire.SchemeEd25519
		default:
			req.Scheme = wire.SchemePure
		}
	}
	sig, err := k.b.c.Sign(ctx, req)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, k.label, err)
	}
	return sig, nil
}

// Decrypter decrypts over POST /v1/decrypt.
type Decrypter struct{ k *Key }

// Public returns the key's public key.
func (d *Decrypter) Public() crypto.PublicKey { return d.k.pub }

// Decrypt is DecryptContext bounded by the backend's timeout.
func (d *Decrypter) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	ctx, cancel := d.k.b.opContext()
	defer cancel()
	return d.DecryptContext(ctx, rand, ciphertext, opts)
}

// DecryptContext decrypts on the server: nil or *rsa.PKCS1v15DecryptOptions
// for PKCS #1 v1.5, *rsa.OAEPOptions for OAEP. rand is ignored.
func (d *Decrypter) DecryptContext(ctx context.Context, _ io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	const op = "decrypt"
	k := d.k
	if err := k.b.check(ctx, op, k.label); err != nil {
		return nil, err
	}
	req := wire.DecryptRequest{Label: k.label, Ciphertext: nonNil(ciphertext), Scheme: wire.SchemeRSAPKCS1v15}
	switch o := opts.(type) {
	case nil:
	case *rsa.PKCS1v15DecryptOptions:
		if o != nil {
			req.SessionKeyLen = o.SessionKeyLen
		}
	case *rsa.OAEPOptions:
		if o == nil {
			return nil, backend.Errorf(op, Scheme, k.label, fmt.Errorf("%w: nil OAEP options", backend.ErrInvalidInput))
		}
		req.Scheme, req.Hash, req.MGFHash, req.OAEPLabel = wire.SchemeOAEP, wire.HashName(o.Hash), wire.HashName(o.MGFHash), o.Label
	default:
		return nil, backend.Errorf(op, Scheme, k.label, fmt.Errorf("%w: decrypter options of type %T", backend.ErrInvalidInput, opts))
	}
	pt, err := k.b.c.Decrypt(ctx, req)
	if err != nil {
		return nil, backend.Errorf(op, Scheme, k.label, err)
	}
	return pt, nil
}

// Decapsulator decapsulates over POST /v1/decapsulate.
type Decapsulator struct {
	k   *Key
	enc crypto.Encapsulator
}

// Encapsulator returns the key's ML-KEM encapsulation key.
func (d *Decapsulator) Encapsulator() crypto.Encapsulator { return d.enc }

// Decapsulate is DecapsulateContext bounded by the backend's timeout.
func (d *Decapsulator) Decapsulate(ciphertext []byte) ([]byte, error) {
	ctx, cancel := d.k.b.opContext()
	defer cancel()
	return d.DecapsulateContext(ctx, ciphertext)
}

// DecapsulateContext recovers the shared key on the server.
func (d *Decapsulator) DecapsulateContext(ctx context.Context, ciphertext []byte) ([]byte, error) {
	const op = "decapsulate"
	if err := d.k.b.check(ctx, op, d.k.label); err != nil {
		return nil, err
	}
	key, err := d.k.b.c.Decapsulate(ctx, d.k.label, nonNil(ciphertext))
	if err != nil {
		return nil, backend.Errorf(op, Scheme, d.k.label, err)
	}
	return key, nil
}

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.Importer      = (*Backend)(nil)
	_ backend.Key           = (*Key)(nil)
	_ backend.Signer        = (*Signer)(nil)
	_ backend.MessageSigner = (*MessageSigner)(nil)
	_ backend.Decrypter     = (*Decrypter)(nil)
	_ backend.Decapsulator  = (*Decapsulator)(nil)
)
