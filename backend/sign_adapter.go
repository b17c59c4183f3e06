package backend

import (
	"context"
	"crypto"
	"io"
)

// SignFunc is a store's signing operation: it signs req with the key,
// returning the signature in the scheme's standard encoding (ASN.1 DER for
// ECDSA). req has been checked against the key; ctx is live and not nil;
// rand is the caller's, possibly nil (crypto/ecdsa then signs
// deterministically, as RFC 6979 describes; elsewhere it means crypto/rand),
// and stores that draw their own randomness ignore it. Errors are returned
// unwrapped: the adapter wraps them.
type SignFunc func(ctx context.Context, rand io.Reader, req SignRequest) ([]byte, error)

// NewSigner returns a [Signer] for the key k describes that signs through
// sign: a [MessageSigner] for algorithms that sign whole messages (Ed25519,
// Ed448, ML-DSA). The methods parse the caller's options with
// [ParseSignOptions], so every backend accepts and refuses the same inputs;
// every error they return is an [*Error] for op "sign". The result is safe
// for concurrent use if sign is.
func NewSigner(k StoreKey, sign SignFunc) Signer {
	s := &signer{k: k, sign: sign}
	if k.Algorithm.SignsMessages() {
		return &messageSigner{s}
	}
	return s
}

type signer struct {
	k    StoreKey
	sign SignFunc
}

// Public returns the key's public key.
func (s *signer) Public() crypto.PublicKey { return s.k.Public }

// Sign is SignContext bounded by the store's timeout.
func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := s.k.opContext()
	defer cancel()
	return s.do(ctx, rand, digest, opts, false)
}

// SignContext signs digest (for pure schemes, the message) as opts ask.
func (s *signer) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.do(ctx, rand, digest, opts, false)
}

func (s *signer) do(ctx context.Context, rand io.Reader, input []byte, opts crypto.SignerOpts, message bool) (sig []byte, err error) {
	const op = "sign"
	if err := s.k.begin(ctx); err != nil {
		return nil, s.k.fail(op, err)
	}
	req, err := ParseSignOptions(s.k.Algorithm, s.k.Public, input, opts, message)
	if err != nil {
		return nil, s.k.fail(op, err)
	}
	defer s.k.recoverPanic(op, &err)
	sig, err = s.sign(ctx, rand, req)
	if err != nil {
		return nil, s.k.fail(op, err)
	}
	return sig, nil
}

// messageSigner adds the [crypto.MessageSigner] methods.
type messageSigner struct{ *signer }

// SignMessage is SignMessageContext bounded by the store's timeout.
func (s *messageSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := s.k.opContext()
	defer cancel()
	return s.do(ctx, rand, msg, opts, true)
}

// SignMessageContext signs the whole message msg; for Ed25519ph (opts with
// SHA-512) it hashes msg first, as [crypto.SignMessage] would.
func (s *messageSigner) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.do(ctx, rand, msg, opts, true)
}
