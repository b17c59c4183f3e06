package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/internal/tpmbaseline"
)

// tpmBaselines compares the TPM backend with raw TPM2_Sign and
// TPM2_RSA_Decrypt commands on the backend's key, already loaded
// ("baseline"), and with go-tpm-tools' client signer ("go-tpm-tools").
//
// The raw baseline holds the TPM for the length of each run
// ([tpmbaseline.Lock]) and sends one prepared command per operation over
// the backend's own connection. A TPM runs one command at a time and the
// connection is not safe for concurrent use, so goroutines take turns
// through a one-slot channel, which like the backend's own lock serves
// waiting goroutines roughly in order. (A sync.Mutex would let one goroutine
// send many commands in a row while others wait: the same throughput, but a
// lower median and a higher 99th percentile latency at p > 1, as
// go-tpm-tools' signer, which uses one, shows.) Its ECDSA output is r||s,
// converted to DER only by the check.
type tpmBaselines struct{}

func openTPMBaselines(context.Context, string) (Baselines, error) { return tpmBaselines{}, nil }

func (tpmBaselines) Close() error { return nil }

// Impls returns the raw baseline and go-tpm-tools for w.
func (tpmBaselines) Impls(ctx context.Context, be backend.Backend, w *Workload) ([]Impl, error) {
	tb, ok := be.(*tpm.Backend)
	if !ok {
		return nil, fmt.Errorf("TPM baselines need a *tpm.Backend, not %T", be)
	}
	var (
		impls []Impl
		errs  []error
	)
	if raw, err := rawTPMImpl(tb, w); err != nil {
		errs = append(errs, err)
	} else {
		impls = append(impls, raw)
	}
	if peer, err := goTPMToolsImpl(ctx, tb, w); err != nil {
		errs = append(errs, err)
	} else {
		impls = append(impls, peer)
	}
	return impls, errors.Join(errs...)
}

// rawTPM is the backend's TPM connection and w's key handle while a run
// holds the TPM.
type rawTPM struct {
	turn chan struct{} // one slot: the goroutine whose command runs
	t    transport.TPM
	h    tpm2.AuthHandle
}

// begin locks the TPM with k loaded for one run.
func (r *rawTPM) begin(tb *tpm.Backend, k backend.Key) func(context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		t, h, unlock, err := tpmbaseline.Lock(ctx, tb, k)
		if err != nil {
			return nil, err
		}
		r.t, r.h = t, h
		return unlock, nil
	}
}

func rawTPMImpl(tb *tpm.Backend, w *Workload) (Impl, error) {
	if w.Key == nil {
		return Impl{}, fmt.Errorf("raw TPM: no baseline for %s", w)
	}
	r := &rawTPM{turn: make(chan struct{}, 1)}
	im := Impl{Name: "baseline", Begin: r.begin(tb, w.Key)}
	switch w.Op {
	case Sign:
		pub := w.Key.Public()
		hash, ok := tpmHash(w.SignerOpts.HashFunc())
		if !ok {
			return Impl{}, fmt.Errorf("raw TPM: no TPM hash for %v", w.SignerOpts.HashFunc())
		}
		scheme, size := tpm2.TPMAlgRSASSA, 0
		if pub, ok := pub.(*ecdsa.PublicKey); ok {
			scheme, size = tpm2.TPMAlgECDSA, (pub.Curve.Params().BitSize+7)/8
		}
		cmd := tpm2.Sign{
			Digest:     tpm2.TPM2BDigest{Buffer: w.Message},
			InScheme:   tpm2.TPMTSigScheme{Scheme: scheme, Details: tpm2.NewTPMUSigScheme(scheme, &tpm2.TPMSSchemeHash{HashAlg: hash})},
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}
		im.Op = func(int) ([]byte, error) {
			r.turn <- struct{}{}
			c := cmd
			c.KeyHandle = r.h
			rsp, err := c.Execute(r.t)
			<-r.turn
			if err != nil {
				return nil, err
			}
			return signatureBytes(&rsp.Signature, scheme, size)
		}
		im.Check = func(sig []byte) error {
			if pub, ok := pub.(*ecdsa.PublicKey); ok {
				der, err := backend.ECDSARawToDER(pub.Curve, sig)
				if err != nil {
					return err
				}
				sig = der
			}
			return w.Verify(pub, sig)
		}
	case Decrypt:
		hash, ok := tpmHash(w.DecrypterOpts.Hash)
		if !ok || len(w.DecrypterOpts.Label) > 0 {
			return Impl{}, fmt.Errorf("raw TPM: no OAEP scheme for %v", w.DecrypterOpts.Hash)
		}
		ct, want, err := w.Ciphertext(w.Key.Public())
		if err != nil {
			return Impl{}, err
		}
		cmd := tpm2.RSADecrypt{
			CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: ct},
			InScheme: tpm2.TPMTRSADecrypt{
				Scheme:  tpm2.TPMAlgOAEP,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgOAEP, &tpm2.TPMSEncSchemeOAEP{HashAlg: hash}),
			},
		}
		im.Op = func(int) ([]byte, error) {
			r.turn <- struct{}{}
			c := cmd
			c.KeyHandle = r.h
			rsp, err := c.Execute(r.t)
			<-r.turn
			if err != nil {
				return nil, err
			}
			return rsp.Message.Buffer, nil
		}
		im.Check = checkEqual(want)
	default:
		return Impl{}, fmt.Errorf("raw TPM: no baseline for %s", w)
	}
	return im, nil
}

// signatureBytes returns a TPM signature as bytes: r||s, each padded to
// size bytes, for ECDSA; the signature itself for RSA.
func signatureBytes(sig *tpm2.TPMTSignature, scheme tpm2.TPMAlgID, size int) ([]byte, error) {
	if scheme == tpm2.TPMAlgECDSA {
		ecc, err := sig.Signature.ECDSA()
		if err != nil {
			return nil, err
		}
		r, s := ecc.SignatureR.Buffer, ecc.SignatureS.Buffer
		if len(r) > size || len(s) > size {
			return nil, errors.New("TPM returned an oversized ECDSA signature")
		}
		out := make([]byte, 2*size)
		copy(out[size-len(r):size], r)
		copy(out[2*size-len(s):], s)
		return out, nil
	}
	rsa, err := sig.Signature.RSASSA()
	if err != nil {
		return nil, err
	}
	return rsa.Sig.Buffer, nil
}

// tpmHash maps a hash to its TPM algorithm ID.
func tpmHash(h crypto.Hash) (tpm2.TPMAlgID, bool) {
	switch h {
	case crypto.SHA1:
		return tpm2.TPMAlgSHA1, true
	case crypto.SHA256:
		return tpm2.TPMAlgSHA256, true
	case crypto.SHA384:
		return tpm2.TPMAlgSHA384, true
	case crypto.SHA512:
		return tpm2.TPMAlgSHA512, true
	}
	return 0, false
}
