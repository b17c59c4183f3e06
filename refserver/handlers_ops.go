//lint:file-ignore SA1019 PKCS #1 v1.5 encryption is part of the API the issue asks for

package refserver

import (
	"context"
	"crypto"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strconv"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

func (s *Server) opContext(rq *request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(rq.r.Context(), s.opts.OpTimeout)
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

// checkSignBounds bounds a sign or verify request's numbers and lengths
// before any work.
func checkSignBounds(req *wire.SignRequest) error {
	if len(req.Context) > wire.MaxContextLen {
		return invalid("context must be at most %d bytes", wire.MaxContextLen)
	}
	if req.SaltLength < -1 || req.SaltLength > wire.MaxSaltLength {
		return invalid("salt_length must be -1 to %d", wire.MaxSaltLength)
	}
	return nil
}

// checkSessionKeyLen bounds a PKCS #1 v1.5 session key by the key's modulus
// size: a decrypter allocates that many bytes before it knows whether the
// padding is good.
func checkSessionKeyLen(k backend.Key, n int) error {
	if n == 0 {
		return nil
	}
	pub, ok := k.Public().(*rsa.PublicKey)
	if !ok {
		return backend.Errorf("decrypt", "", k.Label(), backend.ErrUnsupported)
	}
	if n < 0 || n > pub.Size() {
		return invalid("session_key_len must be 0 to the key's modulus size, %d", pub.Size())
	}
	return nil
}

func (s *Server) sign(rq *request) error {
	var req wire.SignRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	if err := checkSignBounds(&req); err != nil {
		return err
	}
	id, err := wire.KeyID(req.ID)
	if err != nil {
		return invalid("%v", err)
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	var sig []byte
	err = s.withKey(rq, req.Label, id, func(k backend.Key) error {
		call, err := prepareSign(k, &req)
		if err != nil {
			return err
		}
		if err := s.gateUse(rq, k, wire.OpSign, func() ([]authn.TaskParam, any, error) { return signTask(k, &req, call) }); err != nil {
			return err
		}
		sig, err = call.run(ctx, k)
		return err
	})
	if errors.Is(err, errParked) {
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.SignResponse{Signature: sig})
	return nil
}

// signCall is a sign request checked against its key: what to sign and
// how.
type signCall struct {
	opts  crypto.SignerOpts
	input []byte
	isMsg bool
}

// prepareSign turns req into a signCall for k, refusing what does not fit
// the key.
func prepareSign(k backend.Key, req *wire.SignRequest) (signCall, error) {
	opts, err := req.Options(k.Algorithm())
	if err != nil {
		return signCall{}, invalid("%v", err)
	}
	input, isMsg, err := signInput(k, req, opts)
	if err != nil {
		return signCall{}, err
	}
	return signCall{opts: opts, input: input, isMsg: isMsg}, nil
}

// run signs with k.
func (c signCall) run(ctx context.Context, k backend.Key) ([]byte, error) {
	sg, err := k.Signer()
	if err != nil {
		return nil, err
	}
	if ms, ok := sg.(backend.MessageSigner); ok && c.isMsg {
		return ms.SignMessageContext(ctx, rand.Reader, c.input, c.opts)
	}
	return sg.SignContext(ctx, rand.Reader, c.input, c.opts)
}

// verify checks a signature under exactly the scheme, hash, salt length
// and context a sign request with the same fields would have used.
func (s *Server) verify(rq *request) error {
	var req wire.VerifyRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	if err := checkSignBounds(&req.SignRequest); err != nil {
		return err
	}
	id, err := wire.KeyID(req.ID)
	if err != nil {
		return invalid("%v", err)
	}
	var valid bool
	err = s.withKey(rq, req.Label, id, func(k backend.Key) error {
		opts, err := req.Options(k.Algorithm())
		if err != nil {
			return invalid("%v", err)
		}
		input, isMsg, err := signInput(k, &req.SignRequest, opts)
		if err != nil {
			return err
		}
		parsed, err := backend.ParseSignOptions(k.Algorithm(), k.Public(), input, opts, isMsg)
		if err != nil {
			return err
		}
		valid = backend.VerifySignature(k.Public(), &parsed, req.Signature)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.VerifyResponse{Valid: valid})
	return nil
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
	err := s.withKey(rq, req.Label, nil, func(k backend.Key) error {
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
	opts, err := decryptOptions(&req)
	if err != nil {
		return err
	}
	id, err := wire.KeyID(req.ID)
	if err != nil {
		return invalid("%v", err)
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	var pt []byte
	err = s.withKey(rq, req.Label, id, func(k backend.Key) error {
		if err := checkSessionKeyLen(k, req.SessionKeyLen); err != nil {
			return err
		}
		d, err := k.Decrypter()
		if err != nil {
			return err
		}
		if err := s.gateUse(rq, k, wire.OpDecrypt, func() ([]authn.TaskParam, any, error) { return decryptTask(k, &req, opts) }); err != nil {
			return err
		}
		pt, err = d.DecryptContext(ctx, rand.Reader, req.Ciphertext, opts)
		return err
	})
	if errors.Is(err, errParked) {
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.DecryptResponse{Plaintext: pt})
	return nil
}

// decryptOptions returns the decrypter options req asks for.
func decryptOptions(req *wire.DecryptRequest) (crypto.DecrypterOpts, error) {
	switch req.Scheme {
	case wire.SchemeOAEP:
		return oaepOptions(req.Hash, req.MGFHash, req.OAEPLabel)
	case wire.SchemeRSAPKCS1v15, "":
		if req.SessionKeyLen < 0 {
			return nil, invalid("session_key_len must not be negative")
		}
		if req.SessionKeyLen > 0 {
			return &rsa.PKCS1v15DecryptOptions{SessionKeyLen: req.SessionKeyLen}, nil
		}
		return nil, nil
	}
	return nil, invalid("unknown encryption scheme %q", req.Scheme)
}

func (s *Server) decapsulate(rq *request) error {
	var req wire.DecapsulateRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	id, err := wire.KeyID(req.ID)
	if err != nil {
		return invalid("%v", err)
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	var key []byte
	err = s.withKey(rq, req.Label, id, func(k backend.Key) error {
		d, err := k.Decapsulator()
		if err != nil {
			return err
		}
		if err := s.gateUse(rq, k, wire.OpDecapsulate, func() ([]authn.TaskParam, any, error) { return decapsulateTask(k, &req) }); err != nil {
			return err
		}
		key, err = d.DecapsulateContext(ctx, req.Ciphertext)
		return err
	})
	if errors.Is(err, errParked) {
		return nil
	}
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
	err := s.withKey(rq, req.Label, nil, func(k backend.Key) error {
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
