package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"

	// Hashes a workload may name (ECDSA curve hashes, OAEP).
	_ "crypto/sha1"
	_ "crypto/sha512"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Op names a measured operation. It is the first part of every result's
// name ("op=Sign").
type Op string

// The operations [Run] measures.
const (
	Sign        Op = "Sign"        // crypto.Signer.Sign
	Decrypt     Op = "Decrypt"     // crypto.Decrypter.Decrypt with OAEP
	Decapsulate Op = "Decapsulate" // crypto.Decapsulator.Decapsulate
	Generate    Op = "Generate"    // Backend.GenerateKey, then DeleteKey
)

// A Workload is one operation on one algorithm with a fixed input, which
// every implementation performs alike. A Workload is read-only once [Run]
// hands it out.
type Workload struct {
	Op        Op
	Algorithm backend.Algorithm
	// Key is the backend's key the operation uses; nil for Generate.
	Key backend.Key
	// Private is Key's private key when the run imported it from a
	// [KeyMaker], and nil when the backend generated the key.
	Private crypto.PrivateKey
	// Message is what Sign signs: a digest made with SignerOpts' hash for
	// RSA and ECDSA, the message itself for Ed25519, Ed448 and ML-DSA.
	Message []byte
	// SignerOpts are Sign's options: the digest's hash (PKCS #1 v1.5 for
	// RSA), or crypto.Hash(0) for algorithms that sign whole messages.
	SignerOpts crypto.SignerOpts
	// DecrypterOpts are Decrypt's options: OAEP with SHA-256, or SHA-1 when
	// the backend refuses SHA-256 (SoftHSM2 does).
	DecrypterOpts *rsa.OAEPOptions
	// Plaintext is what Decrypt's ciphertexts hold.
	Plaintext []byte
}

// String names the workload as in results: "op=Sign/alg=ECDSA-P256".
func (w *Workload) String() string { return "op=" + string(w.Op) + "/alg=" + string(w.Algorithm) }

// Verify checks that sig is a signature of w.Message by the key whose public
// key is pub, as its algorithm's verifier in the standard library or circl
// sees it. ECDSA signatures must be ASN.1 DER.
func (w *Workload) Verify(pub crypto.PublicKey, sig []byte) error {
	ok := false
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, w.Message, sig)
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, w.SignerOpts.HashFunc(), w.Message, sig); err != nil {
			return fmt.Errorf("%s signature does not verify: %w", w.Algorithm, err)
		}
		ok = true
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, w.Message, sig)
	case ed448.PublicKey:
		ok = ed448.Verify(pub, w.Message, sig, "")
	case *mldsa44.PublicKey:
		ok = mldsa44.Verify(pub, w.Message, nil, sig)
	case *mldsa65.PublicKey:
		ok = mldsa65.Verify(pub, w.Message, nil, sig)
	case *mldsa87.PublicKey:
		ok = mldsa87.Verify(pub, w.Message, nil, sig)
	default:
		return fmt.Errorf("cannot verify a signature by a %T", pub)
	}
	if !ok {
		return fmt.Errorf("%s signature does not verify", w.Algorithm)
	}
	return nil
}

// Ciphertext returns an input for Decrypt or Decapsulate by the key whose
// public key is pub, and the output the operation must return for it: w's
// Plaintext encrypted with w's OAEP options, or a fresh ML-KEM
// encapsulation and its shared key.
func (w *Workload) Ciphertext(pub crypto.PublicKey) (ciphertext, want []byte, err error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		o := w.DecrypterOpts
		if o == nil {
			return nil, nil, errors.New("workload has no OAEP options")
		}
		ct, err := rsa.EncryptOAEP(o.Hash.New(), rand.Reader, pub, w.Plaintext, o.Label)
		return ct, w.Plaintext, err
	case *mlkem.EncapsulationKey768:
		shared, ct := pub.Encapsulate()
		return ct, shared, nil
	case *mlkem.EncapsulationKey1024:
		shared, ct := pub.Encapsulate()
		return ct, shared, nil
	}
	return nil, nil, fmt.Errorf("cannot encrypt to a %T", pub)
}

// checkEqual returns a Check that wants exactly want.
func checkEqual(want []byte) func([]byte) error {
	return func(got []byte) error {
		if !bytes.Equal(got, want) {
			return fmt.Errorf("output is %x, want %x", got, want)
		}
		return nil
	}
}

// opsFor lists the operations measured for alg on a backend with caps.
func opsFor(alg backend.Algorithm, caps backend.Capabilities, generate bool) []Op {
	var ops []Op
	if alg.Signs() && caps.Supports(alg, backend.OpGenerate|backend.OpSign) {
		ops = append(ops, Sign)
	}
	if alg.Decrypts() && caps.Supports(alg, backend.OpGenerate|backend.OpDecrypt) {
		ops = append(ops, Decrypt)
	}
	if alg.Decapsulates() && caps.Supports(alg, backend.OpGenerate|backend.OpDecapsulate) {
		ops = append(ops, Decapsulate)
	}
	if generate && alg.Family() != backend.FamilyRSA && caps.Supports(alg, backend.OpGenerate) {
		ops = append(ops, Generate)
	}
	return ops
}

// newWorkload prepares op on alg: a key in be (for every op but Generate)
// and the input. The key is imported from km when km is not nil and be can
// import alg, and generated in be otherwise. The returned cleanup deletes
// it. Decrypt probes which OAEP hash the backend takes, SHA-256 first.
func newWorkload(ctx context.Context, be backend.Backend, km KeyMaker, op Op, alg backend.Algorithm, label string) (*Workload, func(), error) {
	w := &Workload{Op: op, Algorithm: alg}
	if op == Generate {
		return w, func() {}, nil
	}
	spec := backend.KeySpec{Algorithm: alg, Label: label}
	if op == Decrypt {
		spec.Usage = backend.UsageDecrypt
	}
	var (
		k   backend.Key
		err error
	)
	imp, canImport := be.(backend.Importer)
	if km != nil && canImport && be.Capabilities().Supports(alg, backend.OpImport) {
		if w.Private, err = km.MakeKey(alg); err != nil {
			return nil, nil, fmt.Errorf("make %s key: %w", alg, err)
		}
		if k, err = imp.ImportKey(ctx, spec, w.Private); err != nil {
			return nil, nil, fmt.Errorf("import %s key: %w", alg, err)
		}
	} else if k, err = be.GenerateKey(ctx, spec); err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	cleanup := func() { _ = be.DeleteKey(context.Background(), backend.ByID(k.ID())) }
	w.Key = k
	switch op {
	case Sign:
		if alg.SignsMessages() {
			w.Message = []byte("cryptoplug benchmark message: the quick brown fox jumps over the lazy dog")
			w.SignerOpts = crypto.Hash(0)
		} else {
			h := crypto.SHA256
			if alg.Family() == backend.FamilyECDSA {
				h = alg.CurveHash()
			}
			d := h.New()
			d.Write([]byte("cryptoplug benchmark message"))
			w.Message = d.Sum(nil)
			w.SignerOpts = h
		}
	case Decrypt:
		w.Plaintext = sha256.New().Sum([]byte("cryptoplug session key"))[:32]
		if err := w.chooseOAEP(); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return w, cleanup, nil
}

// chooseOAEP sets DecrypterOpts to OAEP with SHA-256, or SHA-1 when the
// backend refuses SHA-256 with backend.ErrUnsupported.
func (w *Workload) chooseOAEP() error {
	d, err := w.Key.Decrypter()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1} {
		w.DecrypterOpts = &rsa.OAEPOptions{Hash: h}
		ct, want, err := w.Ciphertext(w.Key.Public())
		if err != nil {
			return err
		}
		got, err := d.Decrypt(rand.Reader, ct, w.DecrypterOpts)
		if errors.Is(err, backend.ErrUnsupported) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("OAEP-%v decrypt: %w", h, err)
		}
		return checkEqual(want)(got)
	}
	return fmt.Errorf("backend takes neither OAEP hash: %w", errors.Join(errs...))
}
