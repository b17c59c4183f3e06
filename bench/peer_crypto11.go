//go:build cgo

package bench

import (
	"crypto"
	"fmt"
	"time"

	"github.com/ThalesGroup/crypto11"

	"github.com/cryptoplug/cryptoplug/backend"
	cppkcs11 "github.com/cryptoplug/cryptoplug/backends/pkcs11"
)

// crypto11Peer is ThalesGroup/crypto11 configured on the backend's token,
// used as its documentation shows: FindKeyPair on the key's CKA_ID, then
// the crypto.Signer or crypto.Decrypter it returns.
type crypto11Peer struct {
	ctx *crypto11.Context
	err error // why there is no crypto11 peer
}

// openCrypto11 configures crypto11 on the token cfg names, with as many
// sessions for operations as the backend's pool. crypto11 keeps one more
// session for itself, and without MaxSessions it would grow its pool to
// 1024 sessions.
func openCrypto11(cfg *cppkcs11.Config, pin backend.Secret) *crypto11Peer {
	c := &crypto11.Config{
		Path:            cfg.ModulePath,
		Pin:             string(pin),
		MaxSessions:     cfg.MaxSessions + 1,
		PoolWaitTimeout: time.Minute,
	}
	switch {
	case cfg.Token != "":
		c.TokenLabel = cfg.Token
	case cfg.Serial != "":
		c.TokenSerial = cfg.Serial
	default:
		slot := int(cfg.SlotID)
		c.SlotNumber = &slot
	}
	if pin == nil {
		c.LoginNotSupported = true
	}
	ctx, err := crypto11.Configure(c)
	if err != nil {
		return &crypto11Peer{err: fmt.Errorf("crypto11: %w", err)}
	}
	return &crypto11Peer{ctx: ctx}
}

func (p *crypto11Peer) close() error {
	if p.ctx == nil {
		return nil
	}
	return p.ctx.Close()
}

// impl returns crypto11 doing w with the backend's key.
func (p *crypto11Peer) impl(w *Workload) (Impl, error) {
	if p.err != nil {
		return Impl{}, p.err
	}
	if w.Key == nil || w.Op != Sign && w.Op != Decrypt {
		return Impl{}, fmt.Errorf("crypto11: no peer for %s", w)
	}
	if w.Algorithm.Family() == backend.FamilyEdDSA {
		return Impl{}, fmt.Errorf("crypto11: no EdDSA support, no peer for %s", w)
	}
	s, err := p.ctx.FindKeyPair(w.Key.ID(), nil)
	if err != nil {
		return Impl{}, fmt.Errorf("crypto11: FindKeyPair: %w", err)
	}
	if s == nil {
		return Impl{}, fmt.Errorf("crypto11: FindKeyPair found no key with CKA_ID %x", []byte(w.Key.ID()))
	}
	if w.Op == Sign {
		return signerImpl("crypto11", w, s), nil
	}
	d, ok := s.(crypto.Decrypter)
	if !ok {
		return Impl{}, fmt.Errorf("crypto11: %s key is not a crypto.Decrypter", w.Algorithm)
	}
	return decrypterImpl("crypto11", w, d)
}
