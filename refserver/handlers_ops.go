//lint:file-ignore SA1019 PKCS #1 v1.5 encryption is part of the API the issue asks for

package refserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strconv"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

func (s *Server) opContext(rq *request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(rq.r.Context(), s.opts.OpTimeout)
}

// signerOpts builds the crypto.SignerOpts a sign or verify request
// describes. The scheme must fit the key's family; an empty scheme picks the
// family's usual one. A message with no hash on a hashing scheme is hashed
// with SHA-256 (RSA) or the curve's hash (ECDSA).
func signerOpts(a backend.Algorithm, req *wire.SignRequest) (crypto.SignerOpts, error) {
	h, err := wire.ParseHash(req.Hash)
	if err != nil {
		return nil, invalid("%v", err)
	}
	scheme := req.Scheme
	fam := a.Family()
	if scheme == "" {
		switch {
		case fam == backend.FamilyRSA:
			scheme = wire.SchemePKCS1v15
		case fam == backend.FamilyECDSA:
			scheme = wire.SchemeECDSA
		case a == backend.Ed25519:
			scheme = wire.SchemeEd25519
		default:
			scheme = wire.SchemePure
		}
	}
	if h == 0 && req.Message != nil && req.Digest == nil {
		switch fam {
		case backend.FamilyRSA:
			h = crypto.SHA256
		case backend.FamilyECDSA:
			h = a.CurveHash()
		}
	}
	fits := func(ok bool) error {
		if !ok {
			return invalid("scheme %q does not fit a %s key", scheme, a)
		}
		return nil
	}
	switch scheme {
	case wire.SchemePKCS1v15:
		return h, fits(fam == backend.FamilyRSA)
	case wire.SchemePSS:
		return &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: h}, fits(fam == backend.FamilyRSA)
	case wire.SchemeECDSA:
		return h, fits(fam == backend.FamilyECDSA)
	case wire.SchemeEd25519:
		if len(req.Context) == 0 {
			return h, fits(a == backend.Ed25519)
		}
		return &ed25519.Options{Hash: h, Context: string(req.Context)}, fits(a == backend.Ed25519)
	case wire.SchemePure:
		return h, fits(a.SignsMessages())
	}
	return nil, invalid("unknown signature scheme %q", scheme)
}

// signInput returns the digest to sign (or verify), hashing a message for a
// hashing scheme; msg reports that the input is a whole message for a
// MessageSigner.
func signInput(k backend.Key, req *wire.SignRequest, opts crypto.SignerOpts) (input []byte, msg bool, err error) {
	switch {
	case (req.Message == nil) == (req.Digest == nil):
		return nil, false, badRequest("exactly one of message and digest is required")
	case req.Digest != nil:
		return req.Digest, false, nil
	case k.Algorithm().SignsMessages():
		return req.Message, true, nil
	}
	h := opts.HashFunc()
	if h == 0 {
		return nil, false, invalid("a message to sign with %s needs a hash", k.Algorithm())
	}
	if !backend.SignatureHashAllowed(h) || !h.Available() {
		return nil, false, backend.Errorf("sign", "", k.Label(), backend.ErrUnsupported)
	}
	hh := h.New()
	hh.Write(req.Message)
	return hh.Sum(nil), false, nil
}

func (s *Server) sign(rq *request) error {
	var req wire.SignRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	var sig []byte
	err := s.withKey(rq, req.Label, func(k backend.Key) error {
		opts, err := signerOpts(k.Algorithm(), &req)
		if err != nil {
			return err
		}
		input, isMsg, err := signInput(k, &req, opts)
		if err != nil {
			return err
		}
		sg, err := k.Signer()
		if err != nil {
			return err
		}
		if ms, ok := sg.(backend.MessageSigner); ok && isMsg {
			sig, err = ms.SignMessageContext(ctx, rand.Reader, input, opts)
		} else {
			sig, err = sg.SignContext(ctx, rand.Reader, input, opts)
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.SignResponse{Signature: sig})
	return nil
}

func (s *Server) verify(rq *request) error {
	var req wire.VerifyRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	var valid bool
	err := s.withKey(rq, req.Label, func(k backend.Key) error {
		opts, err := signerOpts(k.Algorithm(), &req.SignRequest)
		if err != nil {
			return err
		}
		input, _, err := signInput(k, &req.SignRequest, opts)
		if err != nil {
			return err
		}
		valid, err = verifySignature(k.Public(), input, req.Signature, opts, req.Context)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.VerifyResponse{Valid: valid})
	return nil
}

// verifySignature checks sig with the standard library (circl for Ed448 and
// ML-DSA). Options that cannot be valid are an error, not "invalid".
func verifySignature(pub crypto.PublicKey, input, sig []byte, opts crypto.SignerOpts, sigCtx []byte) (bool, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if o, ok := opts.(*rsa.PSSOptions); ok {
			if err := backend.CheckDigest(input, o.Hash); err != nil {
				return false, err
			}
			return rsa.VerifyPSS(k, o.Hash, input, sig, o) == nil, nil
		}
		if err := backend.CheckDigest(input, opts); err != nil {
			return false, err
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), input, sig) == nil, nil
	case *ecdsa.PublicKey:
		if err := backend.CheckDigest(input, opts); err != nil {
			return false, err
		}
		return ecdsa.VerifyASN1(k, input, sig), nil
	case ed25519.PublicKey:
		o := &ed25519.Options{Hash: opts.HashFunc(), Context: string(sigCtx)}
		if _, err := backend.CheckEd25519Options(input, o); err != nil {
			return false, err
		}
		return ed25519.VerifyWithOptions(k, input, sig, o) == nil, nil
	}
	if opts.HashFunc() != 0 {
		return false, invalid("pure signature schemes take no hash")
	}
	switch k := pub.(type) {
	case ed448.PublicKey:
		return ed448.Verify(k, input, sig, string(sigCtx)), nil
	case *mldsa44.PublicKey:
		return mldsa44.Verify(k, input, sigCtx, sig), nil
	case *mldsa65.PublicKey:
		return mldsa65.Verify(k, input, sigCtx, sig), nil
	case *mldsa87.PublicKey:
		return mldsa87.Verify(k, input, sigCtx, sig), nil
	}
	return false, backend.ErrUnsupported
}

// oaepOptions builds OAEP options from wire names; the hash defaults to
// SHA-256 for encryption.
func oaepOptions(hash, mgf string, label []byte) (*rsa.OAEPOptions, error) {
	h, err := wire.ParseHash(hash)
	if err != nil {
		return nil, invalid("%v", err)
	}
	m, err := wire.ParseHash(mgf)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return &rsa.OAEPOptions{Hash: h, MGFHash: m, Label: label}, nil
}

func (s *Server) encrypt(rq *request) error {
	var req wire.EncryptRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	var ct []byte
	err := s.withKey(rq, req.Label, func(k backend.Key) error {
		pub, ok := k.Public().(*rsa.PublicKey)
		if !ok {
			return backend.Errorf("encrypt", "", k.Label(), backend.ErrUnsupported)
		}
		var err error
		switch req.Scheme {
		case wire.SchemeOAEP:
			if req.Hash == "" {
				req.Hash = crypto.SHA256.String()
			}
			var o *rsa.OAEPOptions
			if o, err = oaepOptions(req.Hash, req.MGFHash, req.OAEPLabel); err != nil {
				return err
			}
			if _, err = backend.CheckOAEP(o); err != nil {
				return err
			}
			ct, err = rsa.EncryptOAEPWithOptions(rand.Reader, pub, req.Plaintext, o)
		case wire.SchemeRSAPKCS1v15:
			ct, err = rsa.EncryptPKCS1v15(rand.Reader, pub, req.Plaintext)
		default:
			return invalid("unknown encryption scheme %q", req.Scheme)
		}
		if err != nil {
			return invalid("%v", err) // message too long for the key
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.EncryptResponse{Ciphertext: ct})
	return nil
}

func (s *Server) decrypt(rq *request) error {
	var req wire.DecryptRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	var opts crypto.DecrypterOpts
	switch req.Scheme {
	case wire.SchemeOAEP:
		o, err := oaepOptions(req.Hash, req.MGFHash, req.OAEPLabel)
		if err != nil {
			return err
		}
		opts = o
	case wire.SchemeRSAPKCS1v15, "":
		if req.SessionKeyLen < 0 {
			return invalid("session_key_len must not be negative")
		}
		if req.SessionKeyLen > 0 {
			opts = &rsa.PKCS1v15DecryptOptions{SessionKeyLen: req.SessionKeyLen}
		}
	default:
		return invalid("unknown encryption scheme %q", req.Scheme)
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	var pt []byte
	err := s.withKey(rq, req.Label, func(k backend.Key) error {
		d, err := k.Decrypter()
		if err != nil {
			return err
		}
		pt, err = d.DecryptContext(ctx, rand.Reader, req.Ciphertext, opts)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.DecryptResponse{Plaintext: pt})
	return nil
}

func (s *Server) decapsulate(rq *request) error {
	var req wire.DecapsulateRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	var key []byte
	err := s.withKey(rq, req.Label, func(k backend.Key) error {
		d, err := k.Decapsulator()
		if err != nil {
			return err
		}
		key, err = d.DecapsulateContext(ctx, req.Ciphertext)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.DecapsulateResponse{SharedKey: key})
	return nil
}

func (s *Server) encapsulate(rq *request) error {
	var req wire.EncapsulateRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	var out wire.EncapsulateResponse
	err := s.withKey(rq, req.Label, func(k backend.Key) error {
		switch pub := k.Public().(type) {
		case *mlkem.EncapsulationKey768:
			out.SharedKey, out.Ciphertext = pub.Encapsulate()
		case *mlkem.EncapsulationKey1024:
			out.SharedKey, out.Ciphertext = pub.Encapsulate()
		default:
			return backend.Errorf("encapsulate", "", k.Label(), backend.ErrUnsupported)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) generateRandom(rq *request) error {
	n, err := strconv.Atoi(rq.r.PathValue("length"))
	if err != nil || n < 1 || n > wire.MaxRandomLength {
		return invalid("length must be an integer from 1 to %d", wire.MaxRandomLength)
	}
	b := make([]byte, n)
	rand.Read(b)
	writeJSON(rq.w, http.StatusOK, wire.RandomResponse{Random: b})
	return nil
}
