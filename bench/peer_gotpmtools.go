package bench

import (
	"context"
	"crypto"
	"fmt"

	"github.com/google/go-tpm-tools/client"
	legacy "github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/internal/tpmbaseline"
)

// goTPMToolsImpl is go-tpm-tools' client signer (client.Key.GetSigner) on
// the backend's TPM. go-tpm-tools cannot load the backend's key file: its
// keys are primaries it creates in the owner hierarchy, so it signs with a
// key of its own of the same algorithm and scheme. The key stays loaded
// from the first run to Close; each run holds the TPM so that nothing else
// talks to it meanwhile, which the signer requires.
func goTPMToolsImpl(ctx context.Context, tb *tpm.Backend, w *Workload) (Impl, error) {
	if w.Op != Sign {
		return Impl{}, fmt.Errorf("go-tpm-tools: no peer for %s (its client only signs)", w)
	}
	if w.SignerOpts.HashFunc() != crypto.SHA256 {
		return Impl{}, fmt.Errorf("go-tpm-tools: no peer for %s with %v", w, w.SignerOpts.HashFunc())
	}
	tmpl := legacy.Public{
		NameAlg:    legacy.AlgSHA256,
		Attributes: legacy.FlagSign | legacy.FlagFixedTPM | legacy.FlagFixedParent | legacy.FlagSensitiveDataOrigin | legacy.FlagUserWithAuth,
	}
	switch w.Algorithm {
	case backend.ECDSAP256:
		tmpl.Type = legacy.AlgECC
		tmpl.ECCParameters = &legacy.ECCParams{Sign: &legacy.SigScheme{Alg: legacy.AlgECDSA, Hash: legacy.AlgSHA256}, CurveID: legacy.CurveNISTP256}
	case backend.RSA2048:
		tmpl.Type = legacy.AlgRSA
		tmpl.RSAParameters = &legacy.RSAParams{Sign: &legacy.SigScheme{Alg: legacy.AlgRSASSA, Hash: legacy.AlgSHA256}, KeyBits: 2048}
	default:
		return Impl{}, fmt.Errorf("go-tpm-tools: no peer for %s", w)
	}

	t, _, unlock, err := tpmbaseline.Lock(ctx, tb, nil)
	if err != nil {
		return Impl{}, fmt.Errorf("go-tpm-tools: %w", err)
	}
	key, err := client.NewKey(&legacyConn{tpm: t}, legacy.HandleOwner, tmpl)
	unlock()
	if err != nil {
		return Impl{}, fmt.Errorf("go-tpm-tools: create key: %w", err)
	}
	closeKey := func() error {
		_, _, unlock, err := tpmbaseline.Lock(context.Background(), tb, nil)
		if err != nil {
			return err
		}
		defer unlock()
		key.Close()
		return nil
	}
	s, err := key.GetSigner()
	if err != nil {
		_ = closeKey()
		return Impl{}, fmt.Errorf("go-tpm-tools: %w", err)
	}
	im := signerImpl("go-tpm-tools", w, s)
	im.Begin = func(ctx context.Context) (func(), error) {
		_, _, unlock, err := tpmbaseline.Lock(ctx, tb, nil)
		return unlock, err
	}
	im.Close = closeKey
	return im, nil
}

// legacyConn lets go-tpm's legacy API, which go-tpm-tools' client uses,
// talk over a connection of the direct API: Write sends one command and
// keeps the response, which the following Reads return.
type legacyConn struct {
	tpm  transport.TPM
	resp []byte
}

func (c *legacyConn) Write(cmd []byte) (int, error) {
	resp, err := c.tpm.Send(cmd)
	if err != nil {
		return 0, err
	}
	c.resp = resp
	return len(cmd), nil
}

func (c *legacyConn) Read(p []byte) (int, error) {
	n := copy(p, c.resp)
	c.resp = c.resp[n:]
	return n, nil
}
