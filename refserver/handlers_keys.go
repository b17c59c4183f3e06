package refserver

import (
	"errors"
	"net/http"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// keyJSON describes k. A key's usage is what its accessors grant.
func keyJSON(k backend.Key) (wire.Key, error) {
	pemText, err := wire.MarshalPublicKey(k.Public())
	if err != nil {
		return wire.Key{}, err
	}
	var u backend.Usage
	if _, err := k.Signer(); err == nil {
		u |= backend.UsageSign
	}
	if _, err := k.Decrypter(); err == nil {
		u |= backend.UsageDecrypt
	}
	if _, err := k.Decapsulator(); err == nil {
		u |= backend.UsageDecapsulate
	}
	return wire.Key{Label: k.Label(), ID: k.ID().String(), Algorithm: k.Algorithm().String(), Usage: wire.UsageNames(u), PublicKey: pemText}, nil
}

func (s *Server) createKey(rq *request) error {
	var req wire.KeySpec
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	rq.key = req.Label
	spec, err := keySpec(req)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, err := s.opts.Backend.GenerateKey(ctx, spec)
	if err != nil {
		return err
	}
	s.keys.forget(spec.Label)
	out, err := keyJSON(k)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, out)
	return nil
}

// importKey stores a caller's private key (POST /v1/key/import). The body
// holds key material: nothing here logs or echoes it, errors name only the
// label and algorithm, and the decoded bytes are cleared.
func (s *Server) importKey(rq *request) error {
	var req wire.ImportKeyRequest
	err := decodeJSON(rq.r, &req)
	defer clear(req.PrivateKey)
	if err != nil {
		return err
	}
	rq.key = req.Label
	spec, err := keySpec(req.KeySpec)
	if err != nil {
		return err
	}
	imp, ok := s.opts.Backend.(backend.Importer)
	if !ok {
		return backend.Errorf("import key", "", spec.Label, backend.ErrUnsupported)
	}
	priv, err := wire.ParsePrivateKey(spec.Algorithm, req.PrivateKey)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, err := imp.ImportKey(ctx, spec, priv)
	if err != nil {
		return err
	}
	s.keys.forget(spec.Label)
	out, err := keyJSON(k)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, out)
	return nil
}

// keySpec converts and validates a wire KeySpec.
func keySpec(req wire.KeySpec) (backend.KeySpec, error) {
	alg, err := backend.ParseAlgorithm(req.Algorithm)
	if err != nil {
		return backend.KeySpec{}, err
	}
	spec := backend.KeySpec{Algorithm: alg, Label: req.Label}
	if req.ID != "" {
		if spec.ID, err = backend.ParseKeyID(req.ID); err != nil {
			return backend.KeySpec{}, err
		}
	}
	if spec.Usage, err = wire.ParseUsage(req.Usage); err != nil {
		return backend.KeySpec{}, invalid("%v", err)
	}
	return spec, spec.Validate()
}

func (s *Server) listKeys(rq *request) error {
	ctx, cancel := s.opContext(rq)
	defer cancel()
	q := rq.r.URL.Query()
	for name := range q {
		if name != "id" {
			return badRequest("unknown query parameter %q", name)
		}
	}
	var (
		keys []backend.Key
		err  error
	)
	if idHex := q.Get("id"); idHex != "" {
		id, perr := backend.ParseKeyID(idHex)
		if perr != nil {
			return perr
		}
		k, kerr := s.opts.Backend.Key(ctx, backend.ByID(id))
		if kerr != nil && !errors.Is(kerr, backend.ErrKeyNotFound) {
			return kerr
		}
		if k != nil {
			keys = append(keys, k)
		}
	} else {
		keys, err = s.opts.Backend.Keys(ctx)
		if err != nil && !errors.Is(err, backend.ErrCorrupt) {
			return err
		}
	}
	out := wire.KeyList{Keys: []wire.Key{}}
	if err != nil {
		out.Warnings = append(out.Warnings, err.Error())
	}
	for _, k := range keys {
		kj, err := keyJSON(k)
		if err != nil {
			out.Warnings = append(out.Warnings, "key "+k.Label()+": "+err.Error())
			continue
		}
		out.Keys = append(out.Keys, kj)
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) getKey(rq *request) error {
	label := rq.r.PathValue("label")
	ctx, cancel := s.opContext(rq)
	defer cancel()
	rq.key = label
	if err := backend.ValidateLabel(label); err != nil {
		return err
	}
	k, err := s.opts.Backend.Key(ctx, backend.ByLabel(label))
	if err != nil {
		return err
	}
	out, err := keyJSON(k)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteKey(rq *request) error {
	label := rq.r.PathValue("label")
	rq.key = label
	if err := backend.ValidateLabel(label); err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	err := s.opts.Backend.DeleteKey(ctx, backend.ByLabel(label))
	s.keys.forget(label)
	if err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
