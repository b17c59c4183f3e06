package refserver

import (
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

// registerClient is public: the registration token in the body is the
// credential, spent by this request.
func (s *Server) registerClient(rq *request) error {
	var req wire.RegisterClient
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	creds, err := s.opts.Auth.Credentials(&http.Request{URL: rq.r.URL, Header: http.Header{}, RemoteAddr: rq.r.RemoteAddr})
	if err != nil {
		return err
	}
	c, err := s.opts.Auth.RegisterClient(rq.r.Context(), authn.NewSecret(req.Token),
		authn.ClientRegistration{Name: req.Name, PublicKeys: req.PublicKeys, Backup: req.Backup}, creds.RemoteAddr)
	if err != nil {
		s.metrics.authFailure(err)
		return err
	}
	rq.principal = authn.Principal{ID: c.ID, Kind: authn.KindClient, Roles: c.Roles}
	writeJSON(rq.w, http.StatusCreated, wire.RegisteredClient{Account: accountJSON(c.Account), APIKeys: issuedKeysJSON(c.APIKeys)})
	return nil
}

func (s *Server) recoveryKey(rq *request) error {
	pub := s.opts.Auth.RecoveryPublicKey()
	if pub == nil {
		return newError(wire.CodeNotFound, "backups are not configured on this server")
	}
	pemText, err := wire.MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.RecoveryKey{PublicKey: pemText})
	return nil
}

// putBackup stores the calling client's backup; authn refuses principals
// that are not clients with 403.
func (s *Server) putBackup(rq *request) error {
	var req wire.Backup
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	if err := s.opts.Auth.StoreBackup(rq.r.Context(), rq.principal, req.Backup); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBackup(rq *request) error {
	blob, err := s.opts.Auth.GetBackup(rq.r.Context(), rq.principal, rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.Backup{Backup: blob})
	return nil
}
