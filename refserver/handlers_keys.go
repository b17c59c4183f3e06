package refserver

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// keyJSON describes k, owned by group. A key's usage is what its accessors
// grant.
func keyJSON(k backend.Key, group string) (wire.Key, error) {
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
	return wire.Key{Label: k.Label(), ID: k.ID().String(), Algorithm: k.Algorithm().String(), Usage: wire.UsageNames(u),
		PublicKey: pemText, Group: group}, nil
}

func (s *Server) createKey(rq *request) error {
	var req wire.KeySpec
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	spec, group, policy, err := keySpec(req)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, err := s.createInGroup(ctx, rq, spec, group, policy, func(spec backend.KeySpec) (backend.Key, error) {
		return s.opts.Backend.GenerateKey(ctx, spec)
	})
	if err != nil {
		return err
	}
	out, err := keyJSON(k, group)
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
	spec, group, policy, err := keySpec(req.KeySpec)
	if err != nil {
		return err
	}
	imp, ok := s.opts.Backend.(backend.Importer)
	if !ok {
		return backend.Errorf("import key", "", "", backend.ErrUnsupported)
	}
	priv, err := wire.ParsePrivateKey(spec.Algorithm, req.PrivateKey)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, err := s.createInGroup(ctx, rq, spec, group, policy, func(spec backend.KeySpec) (backend.Key, error) {
		return imp.ImportKey(ctx, spec, priv)
	})
	if err != nil {
		return err
	}
	out, err := keyJSON(k, group)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, out)
	return nil
}

// keyIDLen is the length of the IDs the server gives keys created without
// one: 128 random bits.
const keyIDLen = 16

// createInGroup makes a key (create generates or imports it) owned by group.
// The caller must hold keyManagement in the group. The key's ID is
// recorded as the group's before the key exists, so that there is no moment
// at which the new key sits in the default group; a key the backend refuses
// to make is forgotten again.
func (s *Server) createInGroup(ctx context.Context, rq *request, spec backend.KeySpec, group string, policy authn.KeyPolicy,
	create func(backend.KeySpec) (backend.Key, error)) (backend.Key, error) {
	if err := s.opts.Auth.AuthorizeGroup(ctx, rq.principal, group, authn.RoleKeyManagement); err != nil {
		if errors.Is(err, authn.ErrNotFound) {
			return nil, newError(wire.CodeNotFound, "no such group, or the caller is not a member")
		}
		return nil, err
	}
	if spec.ID == nil {
		spec.ID = make([]byte, keyIDLen)
		rand.Read(spec.ID)
	} else if _, err := s.opts.Backend.Key(ctx, backend.ByID(spec.ID)); err == nil {
		// An ID of an existing key, perhaps of another group: assigning it
		// would hand that key to this one.
		return nil, backend.Errorf("create key", "", "", backend.ErrKeyExists)
	}
	id := spec.ID.String()
	if err := s.opts.Auth.AssignKey(ctx, id, group); err != nil {
		if errors.Is(err, authn.ErrAlreadyExists) {
			return nil, backend.Errorf("create key", "", "", backend.ErrKeyExists)
		}
		return nil, err
	}
	if err := s.setInitialPolicy(ctx, id, policy); err != nil {
		s.forgetKey(ctx, id)
		return nil, err
	}
	k, err := create(spec)
	if err != nil {
		s.forgetKey(ctx, id)
		return nil, err
	}
	s.keys.forget(spec.Label)
	rq.key = k.Label()
	if got := k.ID().String(); got != id {
		// A backend that chose its own ID: move the records to it.
		if err := s.opts.Auth.AssignKey(ctx, got, group); err != nil {
			return nil, err
		}
		if err := s.setInitialPolicy(ctx, got, policy); err != nil {
			return nil, err
		}
		s.forgetKey(ctx, id)
	}
	return k, nil
}

// setInitialPolicy records a new key's policy under the ID it will have,
// before it exists: no moment passes in which it could be used without.
func (s *Server) setInitialPolicy(ctx context.Context, id string, p authn.KeyPolicy) error {
	if p.IsZero() {
		return nil
	}
	_, err := s.opts.Auth.SetKeyState(ctx, id, 0, authn.KeyState{Policy: p})
	if errors.Is(err, authn.ErrNotFound) {
		return backend.Errorf("create key", "", "", backend.ErrKeyExists)
	}
	return err
}

// forgetKey drops a key's group record and its state (policy, blocked
// flag; its open approval tasks end); a failure leaves records for an ID
// no key has, which only a new key given that very ID would inherit (the
// stricter way round: a policy it did not ask for), so it is only logged.
func (s *Server) forgetKey(ctx context.Context, id string) {
	if err := s.opts.Auth.ForgetKey(ctx, id); err != nil {
		s.audit.LogAttrs(ctx, slog.LevelWarn, "forget key group", slog.String("key_id", id), slog.String("reason", logText(err.Error())))
	}
	if err := s.opts.Auth.ForgetKeyState(ctx, id); err != nil {
		s.audit.LogAttrs(ctx, slog.LevelWarn, "forget key state", slog.String("key_id", id), slog.String("reason", logText(err.Error())))
	}
}

// keySpec converts and validates a wire KeySpec, and returns the group
// that is to own the key and the key's policy.
func keySpec(req wire.KeySpec) (backend.KeySpec, string, authn.KeyPolicy, error) {
	spec, group, err := keySpecOnly(req)
	if err != nil || req.Policy == nil {
		return spec, group, authn.KeyPolicy{}, err
	}
	pol, err := checkPolicy(*req.Policy)
	return spec, group, pol, err
}

func keySpecOnly(req wire.KeySpec) (backend.KeySpec, string, error) {
	if err := checkLabel(req.Label); err != nil {
		return backend.KeySpec{}, "", err
	}
	alg, err := backend.ParseAlgorithm(req.Algorithm)
	if err != nil {
		return backend.KeySpec{}, "", invalid("unknown algorithm")
	}
	spec := backend.KeySpec{Algorithm: alg, Label: req.Label}
	if req.ID != "" {
		if spec.ID, err = backend.ParseKeyID(req.ID); err != nil {
			return backend.KeySpec{}, "", invalid("id must be 1 to %d bytes of lowercase hex", backend.MaxKeyIDLen)
		}
	}
	if err := maxCount("usage", len(req.Usage), 8); err != nil {
		return backend.KeySpec{}, "", err
	}
	if spec.Usage, err = wire.ParseUsage(req.Usage); err != nil {
		return backend.KeySpec{}, "", invalid("unknown usage")
	}
	group := req.Group
	if group == "" {
		group = authn.DefaultGroupID
	}
	return spec, group, spec.Validate()
}

func (s *Server) listKeys(rq *request) error {
	ctx, cancel := s.opContext(rq)
	defer cancel()
	q := rq.r.URL.Query()
	for name := range q {
		if name != "id" {
			return badRequest("unknown query parameter")
		}
	}
	var (
		keys []backend.Key
		err  error
	)
	if idHex := q.Get("id"); idHex != "" {
		id, perr := backend.ParseKeyID(idHex)
		if perr != nil {
			return invalid("id must be 1 to %d bytes of lowercase hex", backend.MaxKeyIDLen)
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
	visible, err2 := s.managedGroups(ctx, rq)
	if err2 != nil {
		return err2
	}
	owners, err2 := s.opts.Auth.KeyGroups(ctx)
	if err2 != nil {
		return err2
	}
	out := wire.KeyList{Keys: []wire.Key{}}
	if err != nil {
		// The error names files; the caller learns only that some entry is
		// unreadable, the server log which.
		out.Warnings = append(out.Warnings, "some stored keys could not be read; the server log names them")
		s.audit.LogAttrs(ctx, slog.LevelWarn, "list keys: unreadable entries", slog.String("request_id", rq.id), slog.String("reason", logText(err.Error())))
	}
	for _, k := range keys {
		group, ok := owners[k.ID().String()]
		if !ok {
			group = authn.DefaultGroupID
		}
		if !visible[group] {
			continue
		}
		kj, err := keyJSON(k, group)
		if err != nil {
			out.Warnings = append(out.Warnings, "a key's public key could not be encoded; the server log names it")
			s.audit.LogAttrs(ctx, slog.LevelWarn, "list keys: encode public key", slog.String("request_id", rq.id),
				slog.String("key", k.ID().String()), slog.String("reason", logText(err.Error())))
			continue
		}
		out.Keys = append(out.Keys, kj)
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

// managedGroups returns the groups in which the caller holds keyManagement.
func (s *Server) managedGroups(ctx context.Context, rq *request) (map[string]bool, error) {
	ms, err := s.opts.Auth.MembershipsOf(ctx, rq.principal)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range ms {
		if m.Roles.Has(authn.RoleKeyManagement) && rq.principal.HasRole(authn.RoleKeyManagement) {
			out[m.GroupID] = true
		}
	}
	return out, nil
}

// keyByPath finds the key the route's {label} names and checks the caller
// may manage it, returning it with its group.
func (s *Server) keyByPath(ctx context.Context, rq *request) (backend.Key, string, error) {
	label := rq.r.PathValue("label")
	if err := checkLabel(label); err != nil {
		return nil, "", err
	}
	k, err := s.opts.Backend.Key(ctx, backend.ByLabel(label))
	if err != nil {
		return nil, "", err
	}
	group, err := s.authorizeKey(rq, k)
	return k, group, err
}

func (s *Server) getKey(rq *request) error {
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, group, err := s.keyByPath(ctx, rq)
	if err != nil {
		return err
	}
	out, err := keyJSON(k, group)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

// deleteKey destroys a key, or parks the deletion under the key's delete
// rules.
func (s *Server) deleteKey(rq *request) error {
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, _, err := s.keyByPath(ctx, rq)
	if err != nil {
		return err
	}
	st, err := s.opts.Auth.KeyState(ctx, k.ID().String())
	if err != nil {
		return err
	}
	if len(st.Policy.Delete) > 0 {
		return parked(s.park(rq, k, wire.OpDelete, authn.ClassDelete, st, []authn.TaskParam{}, struct{}{}))
	}
	if err := s.destroyKey(ctx, k); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// moveKey gives a key to another group; the caller needs keyManagement in
// both.
func (s *Server) moveKey(rq *request) error {
	var req wire.MoveKey
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, from, err := s.keyByPath(ctx, rq)
	if err != nil {
		return err
	}
	if err := s.opts.Auth.AuthorizeGroup(ctx, rq.principal, req.Group, authn.RoleKeyManagement); err != nil {
		if errors.Is(err, authn.ErrNotFound) {
			return newError(wire.CodeNotFound, "no such group, or the caller is not a member")
		}
		return err
	}
	if err := s.opts.Auth.MoveKey(ctx, k.ID().String(), from, req.Group); err != nil {
		if errors.Is(err, authn.ErrNotFound) {
			return newError(wire.CodeConflict, "the key changed group meanwhile; retry")
		}
		return err
	}
	out, err := keyJSON(k, req.Group)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}
