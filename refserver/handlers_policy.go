package refserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// A key's policy and blocked state (keyManagement in the key's group).
// Changing either obeys the key's current policy: with rules for the
// class, the change is parked as an approval task (202) and made when its
// requester collects it.

func policyOf(p wire.KeyPolicy) authn.KeyPolicy {
	conv := func(rs []wire.ApprovalRule) []authn.ApprovalRule {
		var out []authn.ApprovalRule
		for _, r := range rs {
			out = append(out, authn.ApprovalRule{Quorum: r.Quorum, Approvers: r.Approvers})
		}
		return out
	}
	return authn.KeyPolicy{Use: conv(p.Use), Block: conv(p.Block), Delete: conv(p.Delete), ChangePolicy: conv(p.ChangePolicy)}
}

func policyJSON(p authn.KeyPolicy) wire.KeyPolicy {
	conv := func(rs []authn.ApprovalRule) []wire.ApprovalRule {
		if len(rs) == 0 {
			return nil
		}
		return rulesJSON(rs)
	}
	return wire.KeyPolicy{Use: conv(p.Use), Block: conv(p.Block), Delete: conv(p.Delete), ChangePolicy: conv(p.ChangePolicy)}
}

func keyStateJSON(k backend.Key, st authn.KeyState) wire.KeyState {
	return wire.KeyState{Label: k.Label(), ID: k.ID().String(), Policy: policyJSON(st.Policy), Blocked: st.Blocked, Version: st.Version}
}

// checkPolicy converts and checks a policy a caller sent, before any
// lookup: its bounds (authn.NormalizePolicy) come first.
func checkPolicy(p wire.KeyPolicy) (authn.KeyPolicy, error) {
	for _, rs := range [][]wire.ApprovalRule{p.Use, p.Block, p.Delete, p.ChangePolicy} {
		if err := maxCount("rules", len(rs), wire.MaxApprovalRules); err != nil {
			return authn.KeyPolicy{}, err
		}
		for _, r := range rs {
			if err := maxCount("approvers", len(r.Approvers), wire.MaxRuleApprovers); err != nil {
				return authn.KeyPolicy{}, err
			}
		}
	}
	return authn.NormalizePolicy(policyOf(p))
}

// setKeyState changes k's state from version from; a state that moved
// meanwhile is a conflict the caller may retry.
func (s *Server) setKeyState(ctx context.Context, k backend.Key, from int64, next authn.KeyState) (wire.KeyState, error) {
	st, err := s.opts.Auth.SetKeyState(ctx, k.ID().String(), from, next)
	if errors.Is(err, authn.ErrNotFound) {
		return wire.KeyState{}, newError(wire.CodeConflict, "the key's policy or blocked state changed meanwhile; retry")
	}
	if err != nil {
		return wire.KeyState{}, err
	}
	return keyStateJSON(k, st), nil
}

func (s *Server) getKeyPolicy(rq *request) error {
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
	writeJSON(rq.w, http.StatusOK, keyStateJSON(k, st))
	return nil
}

func (s *Server) putKeyPolicy(rq *request) error {
	var req wire.KeyPolicy
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	pol, err := checkPolicy(req)
	if err != nil {
		return err
	}
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
	next := st
	next.Policy = pol
	if len(st.Policy.ChangePolicy) == 0 {
		return s.applyKeyState(ctx, rq, k, st, next)
	}
	return parked(s.park(rq, k, wire.OpChangePolicy, authn.ClassChangePolicy, st, policyTask(pol), policyJSON(pol)))
}

// applyKeyState moves k from st to next and answers with the new state.
func (s *Server) applyKeyState(ctx context.Context, rq *request, k backend.Key, st, next authn.KeyState) error {
	out, err := s.setKeyState(ctx, k, st.Version, next)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

// parked turns park's errParked (the answer, 202, is written) into success.
func parked(err error) error {
	if errors.Is(err, errParked) {
		return nil
	}
	return err
}

func (s *Server) blockKey(rq *request) error   { return s.setBlocked(rq, true) }
func (s *Server) unblockKey(rq *request) error { return s.setBlocked(rq, false) }

// setBlocked blocks or unblocks the key the path names, or parks the
// change under the key's block rules. Blocking a blocked key (or
// unblocking an unblocked one) changes nothing and ends no task.
func (s *Server) setBlocked(rq *request, blocked bool) error {
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
	if st.Blocked == blocked {
		writeJSON(rq.w, http.StatusOK, keyStateJSON(k, st))
		return nil
	}
	if len(st.Policy.Block) == 0 {
		next := st
		next.Blocked = blocked
		return s.applyKeyState(ctx, rq, k, st, next)
	}
	op := wire.OpUnblock
	if blocked {
		op = wire.OpBlock
	}
	return parked(s.park(rq, k, op, authn.ClassBlock, st, []authn.TaskParam{}, struct{}{}))
}

// destroyKey deletes k from the backend, then what the server keeps about
// it: its group and its state (which ends its open approval tasks).
func (s *Server) destroyKey(ctx context.Context, k backend.Key) error {
	err := s.opts.Backend.DeleteKey(ctx, backend.KeyRef{ID: k.ID(), Label: k.Label()})
	s.keys.forget(k.Label())
	if err != nil {
		return err
	}
	s.forgetKey(ctx, k.ID().String())
	return nil
}
