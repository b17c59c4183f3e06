package refserver

import (
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

func sessionJSON(iss authn.IssuedSession) wire.Session {
	return wire.Session{
		TokenType:   "Bearer",
		ExpiresIn:   int64(iss.IdleTimeout.Seconds()),
		AccessToken: iss.Token.Reveal(),
		EntityID:    iss.PrincipalID,
		SessionID:   iss.ID,
		ExpiresAt:   iss.ExpiresAt.Unix(),
	}
}

// sessionAuth creates a session from HTTP Basic (e-mail and password, or
// principal ID and API key) or, without a credential header, the verified
// TLS client certificate.
func (s *Server) sessionAuth(rq *request) error {
	iss, err := s.opts.Auth.CreateSessionFromRequest(rq.r)
	if err != nil {
		s.metrics.authFailure(err)
		return err
	}
	rq.principal = authn.Principal{ID: iss.PrincipalID, Kind: iss.PrincipalKind, Roles: iss.Roles, Method: iss.Method}
	writeJSON(rq.w, http.StatusOK, sessionJSON(iss))
	return nil
}

func (s *Server) sessionReauth(rq *request) error {
	if rq.principal.Method != authn.MethodSession {
		return invalid("only a session can be renewed")
	}
	iss, err := s.opts.Auth.ReauthRequest(rq.r)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, sessionJSON(iss))
	return nil
}

func (s *Server) sessionTerminate(rq *request) error {
	if rq.principal.Method != authn.MethodSession {
		return invalid("only a session can be terminated")
	}
	if err := s.opts.Auth.TerminateSession(rq.r.Context(), rq.principal.CredentialID); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
