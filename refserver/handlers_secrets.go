package refserver

import (
	"net/http"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

func userSecretJSON(i authn.UserSecretInfo) wire.UserSecret {
	return wire.UserSecret{UserID: i.UserID, Fingerprint: i.Fingerprint, CreatedAt: wire.Unix(i.CreatedAt), ValidUntil: wire.Unix(i.ValidUntil)}
}

// createPIN issues a one-time PIN for the user's secret. authn requires the
// issuer to be a user holding admin (an application gets 403).
func (s *Server) createPIN(rq *request) error {
	pin, err := s.opts.Auth.CreatePIN(rq.r.Context(), rq.principal, rq.r.PathValue("user"))
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, wire.IssuedPIN{UserID: pin.UserID, PIN: pin.PIN.Reveal(), ExpiresAt: wire.Unix(pin.ExpiresAt)})
	return nil
}

// redeemPIN is public: the PIN in the body is the credential. Failures are
// 401 like every other refused credential.
func (s *Server) redeemPIN(rq *request) error {
	var req wire.RedeemPIN
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	creds, err := s.opts.Auth.Credentials(&http.Request{URL: rq.r.URL, Header: http.Header{}, RemoteAddr: rq.r.RemoteAddr, TLS: rq.r.TLS})
	if err != nil {
		return err
	}
	sec, err := s.opts.Auth.RedeemPIN(rq.r.Context(), rq.r.PathValue("account"), authn.NewSecret(req.PIN), creds.RemoteAddr)
	if err != nil {
		s.metrics.authFailure(err)
		return err
	}
	rq.principal = authn.Principal{ID: sec.UserID, Kind: authn.KindUser}
	out := userSecretJSON(sec.UserSecretInfo)
	out.Secret = sec.Secret.Reveal()
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) setSecretValidity(rq *request) error {
	var req wire.SecretValidity
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	user := rq.r.PathValue("user")
	if req.ValidUntil < 0 || req.ValidUntil > wire.MaxSecretValidUntil {
		return invalid("valid_until must be 0 (never expires) or Unix seconds up to %d", wire.MaxSecretValidUntil)
	}
	var until time.Time
	if req.ValidUntil != 0 {
		until = time.Unix(req.ValidUntil, 0)
	}
	if err := s.opts.Auth.SetSecretValidity(rq.r.Context(), user, until); err != nil {
		return err
	}
	info, err := s.opts.Auth.UserSecretInfo(rq.r.Context(), user)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, userSecretJSON(info))
	return nil
}

func (s *Server) deleteSecret(rq *request) error {
	user := rq.r.PathValue("user")
	info, err := s.opts.Auth.UserSecretInfo(rq.r.Context(), user)
	if err != nil {
		return err
	}
	if err := s.opts.Auth.DeleteSecret(rq.r.Context(), user); err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, userSecretJSON(info))
	return nil
}
