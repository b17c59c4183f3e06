package refserver

import (
	"encoding/pem"
	"net/http"
	"strings"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

// Approver management (approverKeyManagement): which principals approve,
// and the public key each one's approvals must verify under.

func approverJSON(a authn.Approver) wire.Approver {
	return wire.Approver{
		Principal: a.PrincipalID,
		PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: a.PublicKey})),
		Algorithm: a.Algorithm, CreatedBy: a.CreatedBy, CreatedAt: wire.Unix(a.CreatedAt),
	}
}

// maxApproverPEM bounds the PEM text of an approver key before it is
// decoded: an RSA-4096 key is about 800 characters.
const maxApproverPEM = 4096

func (s *Server) createApprover(rq *request) error {
	var req wire.CreateApprover
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	if len(req.PublicKey) > maxApproverPEM {
		return invalid("public_key must be at most %d bytes of PEM", maxApproverPEM)
	}
	b, rest := pem.Decode([]byte(req.PublicKey))
	if b == nil || b.Type != "PUBLIC KEY" || strings.TrimSpace(string(rest)) != "" {
		return invalid("public_key must be one PEM PUBLIC KEY block")
	}
	a, err := s.opts.Auth.RegisterApprover(rq.r.Context(), rq.principal, req.Principal, b.Bytes)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, approverJSON(a))
	return nil
}

func (s *Server) listApprovers(rq *request) error {
	as, err := s.opts.Auth.Approvers(rq.r.Context())
	if err != nil {
		return err
	}
	out := wire.ApproverList{Approvers: []wire.Approver{}}
	for _, a := range as {
		out.Approvers = append(out.Approvers, approverJSON(a))
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) getApprover(rq *request) error {
	a, err := s.opts.Auth.Approver(rq.r.Context(), rq.r.PathValue("principal"))
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, approverJSON(a))
	return nil
}

func (s *Server) deleteApprover(rq *request) error {
	if err := s.opts.Auth.DeleteApprover(rq.r.Context(), rq.principal, rq.r.PathValue("principal")); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
