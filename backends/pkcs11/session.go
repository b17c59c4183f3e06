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
// between pool.get and pool.put (or discard).
type session struct {
	h      pkcs11.SessionHandle
	gen    uint64 // pool generation it was opened in
	modGen uint64 // module generation it was opened in
}

// openSession opens a read-write session on the pool's token and logs the
// user in. Login state in PKCS #11 belongs to the application and token,
// not the session, so CKR_USER_ALREADY_LOGGED_IN (another session or
// another backend on the same token did it) is success. The caller has
// entered the module.
func (p *pool) openSession() (*session, error) {
	s := &session{gen: p.gen.Load(), modGen: p.mod.Gen()}
	h, err := p.openAndLogin()
	if err != nil {
		return nil, err
	}
	p.open.Add(1)
	s.h = h
	return s, nil
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

// withSession runs fn on a pooled session, on a goroutine of its own, and
// returns its error — or ctx's error once ctx ends, whether or not fn has
// returned: a PKCS #11 call cannot be interrupted, so a call that hangs is
// abandoned to finish in the background, keeping its session until it
// returns and its outcome is known (see Backend.settle). (The adapters give
// the methods without a context the URI's timeout.)
//
// What happens after fn fails depends on the error's return code (see
// outageOf):
//
//   - the token lost the session (closed sessions, a logged-out user):
//     the pool starts a new generation and fn runs once more on a fresh,
//     logged-in session;
//   - the token or the module failed (CKR_DEVICE_ERROR, a removed token,
//     a finalised module): the backend starts recovering in the
//     background (see recovery.go); when the first attempt starts now,
//     the caller waits for it, within ctx, and retries once if it
//     succeeded; otherwise the call fails with backend.ErrUnavailable;
//   - any other failure is the call's own: the session is closed rather
//     than reused, unless the failed operation brought it back to a known
//     state itself (see reusable): tokens do not all end an operation
//     when it fails (tpm2-pkcs11 1.9 leaves C_Decrypt active after a bad
//     ciphertext), and the next C_SignInit or C_DecryptInit on such a
//     session, for any key, fails with CKR_OPERATION_ACTIVE.
//
// While the backend recovers, or while as many calls as it has sessions
// are abandoned and still running, withSession fails at once with
// backend.ErrUnavailable.
func (b *Backend) withSession(ctx context.Context, fn func(s *session) error) error {
	for attempt := 0; ; attempt++ {
		if err := b.available(); err != nil {
			return err
		}
		// Waiting for a free session happens here; everything that calls
		// the token — opening a session, closing a stale one, fn, closing
		// a failed one — runs where the caller can leave it.
		unit, err := b.pool.take(ctx)
		if err != nil {
			return err
		}
		var (
			readyErr      error // ready's failure: no session was used
			kind          outageKind
			gen, modGen   uint64 // the generations of the session fn ran on
			readyAtModGen = b.mod.Gen()
		)
		err, ok := b.calls.Run(ctx, func() error {
			s, err := b.pool.ready(unit)
			if err != nil {
				readyErr = err
				return err
			}
			if ctx.Err() != nil { // the caller left while the session was opened
				b.pool.put(s)
				readyErr = ctx.Err()
				return readyErr
			}
			err = fn(s)
			kind, gen, modGen = b.settle(s, err), s.gen, s.modGen
			return err
		}, nil)
		if !ok {
			return fmt.Errorf("the token did not answer in time; the call goes on in the background: %w", err)
		}
		if readyErr != nil {
			if errors.Is(readyErr, errModuleResetting) {
				return fmt.Errorf("%w: %w", backend.ErrUnavailable, readyErr)
			}
			if kind := outageOf(readyErr); kind >= tokenLost {
				// A module reset by another backend can leave the token
				// in another slot (SoftHSM2 renumbers its slots): the
				// recovery finds it, and the call is tried again.
				if err := b.failed(ctx, kind, readyAtModGen, readyErr, attempt); err != nil {
					return err
				}
				continue
			}
			return readyErr
		}
		switch kind {
		case notOutage:
			return err
		case sessionLost:
			if attempt > 0 {
				return fmt.Errorf("token failed again after reopening its sessions: %w", err)
			}
			b.pool.renew(gen)
		default:
			if err := b.failed(ctx, kind, modGen, err, attempt); err != nil {
				return err
			}
		}
	}
}

// settle gives back a session after fn ran on it and returned err, on
// the call's goroutine (so also when the caller left), and reports what
// err means. A token or module failure starts the backend's
// recovery.
func (b *Backend) settle(s *session, err error) outageKind {
	if err == nil {
		b.pool.put(s)
		return notOutage
	}
	kind := outageOf(err)
	switch {
	case kind != notOutage:
		b.pool.discard(s)
	case reusable(err):
		b.pool.put(s)
	default:
		b.pool.discard(s)
	}
	if kind >= tokenLost && s.modGen == b.mod.Gen() && s.gen == b.pool.gen.Load() {
		// Only a session of the current generations reports an outage: a
		// call that began before the last recovery (an abandoned one that
		// returned late) tells nothing about the token now.
		b.lost(kind, s.modGen, err)
	}
	return kind
}

// failed handles a token or module failure met by a caller: it starts the
// recovery (if settle has not) and returns nil when the caller should try
// again — the first attempt started now and succeeded within ctx — or the
// error to return, wrapping backend.ErrUnavailable and err.
func (b *Backend) failed(ctx context.Context, kind outageKind, modGen uint64, err error, attempt int) error {
	ended, now := b.lost(kind, modGen, err)
	if attempt == 0 && now {
		select {
		case <-ended:
			if b.status.Up() {
				return nil
			}
		case <-ctx.Done():
		}
	}
	return fmt.Errorf("%w: %w", backend.ErrUnavailable, err)
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
