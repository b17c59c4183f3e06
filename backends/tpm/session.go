package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Which commands travel encrypted, and why.
//
// A sniffer on the bus between this process and the TPM sees every
// command and response. Three kinds of value on it are secret: the
// plaintext TPM2_RSA_Decrypt returns, a key's auth value, and the private
// key an import carries. They are protected so:
//
//   - Decryption runs in an HMAC session salted to the SRK, with AES-128-CFB
//     encryption of the response's first parameter (the plaintext). The
//     session's HMAC also authenticates the response. Keys without auth
//     value or policy share one such session per TPM, kept open (nonces
//     roll with every command, so every response has its own key): a new
//     salted session per decryption would cost an ECDH in the TPM each.
//   - A key's auth value never crosses the bus: keys that have one are
//     authorized by such a salted HMAC session, never by a password
//     session, and the value given at creation travels encrypted the same
//     way (command parameter encryption of TPM2_Create's inSensitive). The
//     salt also keeps a recorded HMAC from being a target for an offline
//     guess of the auth value.
//   - Imported keys travel inside a duplication blob encrypted to the SRK
//     (see [Backend.ImportKey]).
//
// The salt is encrypted to the SRK's public key, which the key directory
// pinned (see [checkSRKPin]): only the TPM that holds the SRK can recover
// it, and a substituted SRK is refused before any session starts.
//
// Signing stays on the empty password session: a digest and its signature
// are what any verifier sees, and a salted session would cost an extra
// StartAuthSession (an ECDH in the TPM) per signature on the hot path.

// saltedSession is a one-use HMAC session salted to the SRK that encrypts
// the parameter enc says, authorizing an entity whose auth value is auth.
// It is started (TPM2_StartAuthSession) when the command using it runs and
// flushed by that command. The caller holds the device lock.
func (d *device) saltedSession(enc sessionEncryption, auth []byte) tpm2.Session {
	opts := []tpm2.AuthOption{tpm2.Salted(d.srk.Handle, d.srkPub), tpm2.Auth(auth)}
	switch enc {
	case encryptCommand:
		opts = append(opts, tpm2.AESEncryption(128, tpm2.EncryptIn))
	case encryptResponse:
		opts = append(opts, tpm2.AESEncryption(128, tpm2.EncryptOut))
	}
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, opts...)
}

// sessionEncryption says which first parameter a session encrypts.
type sessionEncryption int

const (
	encryptNone     sessionEncryption = iota
	encryptCommand                    // the command's first parameter
	encryptResponse                   // the response's first parameter
)

// decryptSession returns the device's shared salted session for
// decryptions with keys that need no auth value or policy, starting it if
// there is none (see the top of this file). The caller holds the device
// lock, and calls dropDecryptSession after a command with it failed: the
// TPM may have flushed it, or its nonces may be out of step.
func (d *device) decryptSession(t transport.TPM) (tpm2.Session, error) {
	if d.decSession != nil {
		return d.decSession, nil
	}
	s, closer, err := tpm2.HMACSession(t, tpm2.TPMAlgSHA256, 16,
		tpm2.Salted(d.srk.Handle, d.srkPub), tpm2.AESEncryption(128, tpm2.EncryptOut))
	if err != nil {
		return nil, fmt.Errorf("start a salted session: %w", err)
	}
	d.decSession, d.decSessionClose = s, closer
	return s, nil
}

// dropDecryptSession flushes the shared decryption session, if any. The
// caller holds the device lock.
func (d *device) dropDecryptSession() {
	if d.decSession == nil {
		return
	}
	if !d.stale {
		_ = d.decSessionClose()
	}
	d.decSession, d.decSessionClose = nil, nil
}
