package refserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// Approvers' routes: the tasks they may decide, and their decisions.

func (s *Server) listApprovalTasks(rq *request) error {
	ts, err := s.opts.Auth.ApprovalTasksFor(rq.r.Context(), rq.principal)
	if err != nil {
		return err
	}
	out := wire.ApprovalTaskList{Tasks: []wire.ApprovalTask{}}
	for i := range ts {
		out.Tasks = append(out.Tasks, s.taskJSON(&ts[i]))
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) getApprovalTask(rq *request) error {
	t, err := s.opts.Auth.ApprovalTaskFor(rq.r.Context(), rq.principal, rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	rq.key = t.KeyLabel
	writeJSON(rq.w, http.StatusOK, s.taskJSON(&t))
	return nil
}

// decideApprovalTask records an approver's signed decision. The body is
// checked before the task is looked up; the signature is verified over
// the task's encoding as stored when it was made, never over anything the
// caller sent.
func (s *Server) decideApprovalTask(rq *request) error {
	var req wire.ApprovalDecision
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	if req.Decision != wire.DecisionApprove && req.Decision != wire.DecisionReject {
		return invalid(`decision must be "approve" or "reject"`)
	}
	if len(req.Signature) == 0 || len(req.Signature) > wire.MaxApprovalSignature {
		return invalid("signature must be 1 to %d bytes", wire.MaxApprovalSignature)
	}
	id := rq.r.PathValue("id")
	t, err := s.opts.Auth.DecideApprovalTask(rq.r.Context(), rq.principal, id, req.Decision == wire.DecisionApprove, req.Signature, verifyApproval)
	if err != nil {
		return err
	}
	rq.key = t.KeyLabel
	s.auditApproval(rq, "decided", t, slog.String("approver", rq.principal.ID), slog.String("decision", req.Decision))
	switch t.Status {
	case authn.TaskApproved:
		s.auditApproval(rq, "approved", t)
	case authn.TaskRejected:
		s.auditApproval(rq, "rejected", t)
	}
	writeJSON(rq.w, http.StatusOK, s.taskJSON(&t))
	return nil
}

// Requesters' routes: follow, cancel and collect their own requests.

func (s *Server) getApprovalRequest(rq *request) error {
	t, err := s.opts.Auth.ApprovalRequest(rq.r.Context(), rq.principal, rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	rq.key = t.KeyLabel
	writeJSON(rq.w, http.StatusOK, s.taskJSON(&t))
	return nil
}

func (s *Server) cancelApprovalRequest(rq *request) error {
	t, err := s.opts.Auth.CancelApprovalTask(rq.r.Context(), rq.principal, rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	rq.key = t.KeyLabel
	s.auditApproval(rq, "cancelled", t)
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// collectApprovalRequest runs the caller's approved request and returns
// its result, once: the claim decides which of racing collections (on
// this instance or another) runs it, and the others are refused. The
// outcome is recorded even when the caller has gone.
func (s *Server) collectApprovalRequest(rq *request) error {
	ctx := rq.r.Context()
	t, err := s.opts.Auth.ClaimApprovalTask(ctx, rq.principal, rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	rq.key, rq.role = t.KeyLabel, t.RequesterRole // the key's group is checked again, for the role the request was made with
	res, err := s.runTask(rq, &t)
	if ferr := s.opts.Auth.FinishApprovalTask(context.WithoutCancel(ctx), t.ID, err == nil); ferr != nil {
		s.audit.LogAttrs(ctx, slog.LevelError, "finish approval task", slog.String("request_id", rq.id), slog.String("task", t.ID), slog.String("reason", logText(ferr.Error())))
	}
	if err != nil {
		s.auditApproval(rq, "failed", t, slog.String("reason", auditReason(err, t.KeyLabel)))
		return err
	}
	t.Status = authn.TaskDone
	s.auditApproval(rq, "executed", t)
	writeJSON(rq.w, http.StatusOK, res)
	return nil
}

// runTask runs a claimed task's stored request, on the key it names (by
// label and ID), through the code a direct request runs.
func (s *Server) runTask(rq *request, t *authn.ApprovalTask) (wire.ApprovalResult, error) {
	res := wire.ApprovalResult{RequestID: t.ID, Operation: t.Operation}
	id, err := backend.ParseKeyID(t.KeyID)
	if err != nil {
		return res, err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	err = s.withKey(rq, t.KeyLabel, id, func(k backend.Key) error {
		st, err := s.checkTaskKey(ctx, k, t)
		if err != nil {
			return err
		}
		switch t.Operation {
		case wire.OpSign:
			var req wire.SignRequest
			if err := json.Unmarshal(t.Request, &req); err != nil {
				return err
			}
			call, err := prepareSign(k, &req)
			if err != nil {
				return err
			}
			res.Signature, err = call.run(ctx, k)
			return err
		case wire.OpDecrypt:
			var req wire.DecryptRequest
			if err := json.Unmarshal(t.Request, &req); err != nil {
				return err
			}
			opts, err := decryptOptions(&req)
			if err != nil {
				return err
			}
			d, err := k.Decrypter()
			if err != nil {
				return err
			}
			res.Plaintext, err = d.DecryptContext(ctx, rand.Reader, req.Ciphertext, opts)
			return err
		case wire.OpDecapsulate:
			var req wire.DecapsulateRequest
			if err := json.Unmarshal(t.Request, &req); err != nil {
				return err
			}
			d, err := k.Decapsulator()
			if err != nil {
				return err
			}
			res.SharedKey, err = d.DecapsulateContext(ctx, req.Ciphertext)
			return err
		case wire.OpBlock, wire.OpUnblock:
			next := st
			next.Blocked = t.Operation == wire.OpBlock
			ks, err := s.setKeyState(ctx, k, st.Version, next)
			res.Key = &ks
			return err
		case wire.OpChangePolicy:
			var req wire.KeyPolicy
			if err := json.Unmarshal(t.Request, &req); err != nil {
				return err
			}
			next := st
			next.Policy = policyOf(req)
			ks, err := s.setKeyState(ctx, k, st.Version, next)
			res.Key = &ks
			return err
		case wire.OpDelete:
			return s.destroyKey(ctx, k)
		}
		return errors.New("an approval task of an unknown operation")
	})
	return res, err
}
