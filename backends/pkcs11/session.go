//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// session is one open PKCS #11 session, used by one goroutine at a time
// between pool.get and pool.put.
type session struct {
	h   pkcs11.SessionHandle
	gen uint64 // pool generation it was opened in; older ones are discarded
}

// openSession opens a read-write session on the pool's token and logs the
// user in. Login state in PKCS #11 belongs to the application and token,
// not the session, so CKR_USER_ALREADY_LOGGED_IN (another session or
// another backend on the same token did it) is success.
func (p *pool) openSession() (*session, error) {
	gen := p.gen.Load()
	h, err := p.openAndLogin()
	if err != nil {
		return nil, err
	}
	p.open.Add(1)
	if p.testHookOpened != nil {
		p.testHookOpened()
	}
	return &session{h: h, gen: gen}, nil
}

// openAndLogin opens and logs in one session under the module's
// session-table lock (see module.Module.Sessions).
func (p *pool) openAndLogin() (pkcs11.SessionHandle, error) {
	p.table.Lock()
	defer p.table.Unlock()
	h, err := p.p11.OpenSession(p.slot(), pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("C_OpenSession: %w", err)
	}
	if p.pin != nil {
		err := p.p11.Login(h, pkcs11.CKU_USER, string(p.pin))
		if err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			_ = p.p11.CloseSession(h)
			if isAuthError(err) {
				return 0, fmt.Errorf("C_Login: %w: %w", err, backend.ErrAuth)
			}
			return 0, fmt.Errorf("C_Login: %w", err)
		}
	}
	return h, nil
}

// withSession runs fn on a pooled session. When fn fails because the
// token lost the session (see isSessionLost), the session is discarded, the
// backend recovers (reinitialising the module or finding the token again
// where needed), and fn runs once more on a fresh, logged-in session.
//
// A session on which a PKCS #11 call failed for any other reason is closed
// rather than reused, unless the failed operation brought it back to a
// known state itself (see reusable): tokens do not all end an operation
// when it fails (tpm2-pkcs11 1.9 leaves C_Decrypt active after a bad
// ciphertext), and the next C_SignInit or C_DecryptInit on such a session,
// for any key, fails with CKR_OPERATION_ACTIVE. The pool opens a fresh
// session in its place when one is needed.
//
// ctx bounds only the wait for a free session: a PKCS #11 call cannot be
// interrupted.
func (b *Backend) withSession(ctx context.Context, fn func(s *session) error) error {
	for attempt := 0; ; attempt++ {
		s, err := b.pool.get(ctx)
		if err != nil {
			return err
		}
		err = fn(s)
		if err == nil {
			b.pool.put(s)
			return nil
		}
		if !isSessionLost(err) {
			if reusable(err) {
				b.pool.put(s)
			} else {
				b.pool.discard(s)
			}
			return err
		}
		b.pool.discard(s)
		if attempt > 0 {
			return fmt.Errorf("token failed again after reopening its sessions: %w", err)
		}
		if rerr := b.recover(s.gen, err); rerr != nil {
			return fmt.Errorf("%w; recovering: %w", err, rerr)
		}
	}
}

// recover makes the pool start over after the token lost a session opened
// in generation gen: sessions from that generation are discarded as they
// come back, and new ones are opened and logged in. If the module was
// finalised under us it is initialised again; if the token went away its
// slot is looked up again. Concurrent callers recover once.
func (b *Backend) recover(gen uint64, cause error) error {
	b.recoverMu.Lock()
	defer b.recoverMu.Unlock()
	if b.pool.gen.Load() != gen {
		return nil // someone already recovered from this generation
	}
	c, _ := ckr(cause)
	if c == pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED {
		if err := b.mod.Reinitialize(); err != nil {
			return err
		}
	}
	switch c {
	case pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_ERROR:
		slot, _, err := findSlot(b.p11, b.cfg)
		if err != nil {
			return err
		}
		b.pool.slotID.Store(uint64(slot))
	}
	b.pool.gen.Add(1)
	return nil
}

// reusable reports whether a session can go back to the pool after an
// operation on it failed with err: when no PKCS #11 call failed (the error
// is cryptoplug's own, such as a key not found), or when the failed
// operation ended itself (see endDecrypt).
func reusable(err error) bool {
	var de *decryptionError
	if errors.As(err, &de) {
		return de.ended
	}
	_, callFailed := ckr(err)
	return !callFailed
}

// endDecrypt ends a decryption left active on s after C_Decrypt failed,
// and reports whether s is now in a known state. A token that ended the
// operation, as PKCS #11 requires, answers C_DecryptFinal with
// CKR_OPERATION_NOT_INITIALIZED; one that left it active (tpm2-pkcs11 1.9)
// ends it in C_DecryptFinal. Decryption failures are what a caller with
// bad ciphertexts causes at will, so they end the operation in one call
// rather than costing a new session and login each.
func (b *Backend) endDecrypt(s *session) bool {
	_, err := b.p11.DecryptFinal(s.h)
	c, _ := ckr(err)
	return err == nil || c == pkcs11.CKR_OPERATION_NOT_INITIALIZED
}
