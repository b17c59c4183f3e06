package authn

import (
	"context"
	"hash/maphash"
	"log/slog"
	"net/netip"
)

// limits are the failure counters a Service keeps, one table per question
// it answers (see [RateLimitConfig]):
//
//   - guessAddr and guessPrincipal count failures of the secrets a person
//     chooses or can enumerate, passwords and PINs, per client address and
//     per account. Both are checked before the secret is, so guessing one
//     account's password, from one address or from many, slows to the
//     configured delays. They never see tokens.
//   - tokenCred counts failures per presented token (by a keyed hash, never
//     the token): a token that keeps failing can only be unknown, revoked or
//     expired, so it is refused without a lookup once blocked. A valid token
//     never fails, so this never stands in its way.
//   - tokenAddr counts token failures per address, and is consulted only
//     after a failure: a blocked address gets 429 instead of 401 for further
//     bad tokens, while any valid token from it is served. Tokens carry at
//     least 190 random bits: guessing them is not the threat an address
//     limit could stop, and an attacker sharing an address with a valid
//     caller must not lock that caller out.
type limits struct {
	cfg                       RateLimitConfig
	guessAddr, guessPrincipal *failureLimiter[string]
	tokenAddr                 *failureLimiter[string]
	tokenCred                 *failureLimiter[uint64]
	seed                      maphash.Seed
	// shared, when RateLimitConfig.Shared is set, keeps the same four
	// counts in the Store for every Service on the database.
	shared *sharedCounts
}

func newLimits(cfg RateLimitConfig) limits {
	cfg = cfg.withDefaults()
	return limits{cfg: cfg, guessAddr: newFailureLimiter[string](cfg), guessPrincipal: newFailureLimiter[string](cfg),
		tokenAddr: newFailureLimiter[string](cfg), tokenCred: newFailureLimiter[uint64](cfg), seed: maphash.MakeSeed()}
}

// credentialKey names a presented token in the limiter by a keyed 64-bit
// hash: the table holds no token, the hot path allocates nothing for it, and
// a collision costs at most a shared delay for two bad tokens.
func (l *limits) credentialKey(token Secret) uint64 { return maphash.String(l.seed, token.v) }

// guessThrottle refuses an attempt at a password or PIN while its address
// or account (accountKey, "" if none) is blocked by earlier failures. The
// error names the address, never the account the caller typed.
func (s *Service) guessThrottle(ctx context.Context, op, accountKey string, addr netip.Addr) error {
	now := s.now()
	ak := addressKey(addr)
	d := s.limits.guessAddr.wait(ak, now)
	if sh := s.limits.shared; sh != nil && d == 0 {
		d = sh.wait(ctx, tableGuessAddr, ak, now)
	}
	if d > 0 {
		return &RateLimitError{Op: op, Subject: "address " + addrString(addr), RetryAfter: d}
	}
	if accountKey != "" {
		d := s.limits.guessPrincipal.wait(accountKey, now)
		if sh := s.limits.shared; sh != nil && d == 0 {
			d = sh.wait(ctx, tableGuessAccount, accountKey, now)
		}
		if d > 0 {
			return &RateLimitError{Op: op, Subject: "principal", RetryAfter: d}
		}
	}
	return nil
}

// refuseGuess counts a failed password or PIN against the address and the
// account, logs why, and returns ErrUnauthenticated naming logID (an ID of
// ours or "", never what the caller typed).
func (s *Service) refuseGuess(ctx context.Context, op, logID, accountKey string, addr netip.Addr, why string) error {
	now := s.now()
	ak := addressKey(addr)
	s.limits.guessAddr.fail(ak, now, s.limits.cfg.MaxAddressDelay)
	if accountKey != "" {
		s.limits.guessPrincipal.fail(accountKey, now, s.limits.cfg.MaxPrincipalDelay)
	}
	if sh := s.limits.shared; sh != nil {
		sh.fail(ctx, tableGuessAddr, ak, now, s.limits.cfg.MaxAddressDelay)
		if accountKey != "" {
			sh.fail(ctx, tableGuessAccount, accountKey, now, s.limits.cfg.MaxPrincipalDelay)
		}
	}
	s.logRefusal(ctx, op, logID, addr, why)
	return opErr(op, logID, ErrUnauthenticated)
}

// tokenThrottle refuses a token that has failed too often already.
func (s *Service) tokenThrottle(op string, token Secret) error {
	if d := s.limits.tokenCred.wait(s.limits.credentialKey(token), s.now()); d > 0 {
		return &RateLimitError{Op: op, Subject: "credential", RetryAfter: d}
	}
	return nil
}

// refuseToken counts a failed token against the address and, when bad is
// not nil, against the token itself: pass it only when the failure is the
// token's own (unknown, revoked, expired), not a binding the presenter
// lacked, so that a thief cannot block the token's holder. It returns a
// [*RateLimitError] when the address was already blocked, and otherwise
// ErrUnauthenticated naming logID.
func (s *Service) refuseToken(ctx context.Context, op, logID string, addr netip.Addr, bad *Secret, why string) error {
	now := s.now()
	ak := addressKey(addr)
	blocked := s.limits.tokenAddr.wait(ak, now)
	s.limits.tokenAddr.fail(ak, now, s.limits.cfg.MaxAddressDelay)
	if bad != nil {
		s.limits.tokenCred.fail(s.limits.credentialKey(*bad), now, s.limits.cfg.MaxAddressDelay)
	}
	if sh := s.limits.shared; sh != nil && blocked == 0 {
		// Shared counts, while this Service does not block the address
		// already: a sprayer it has caught costs the database nothing.
		before, after := sh.fail(ctx, tableTokenAddr, ak, now, s.limits.cfg.MaxAddressDelay)
		if before.After(now) {
			blocked = before.Sub(now)
		}
		s.limits.tokenAddr.block(ak, now, after)
		if bad != nil {
			// A stable name for the token, the same in every process: its
			// hash under the current pepper, which they all share.
			h, _ := s.peppers.hashCurrent(*bad)
			_, after := sh.fail(ctx, tableToken, string(h), now, s.limits.cfg.MaxAddressDelay)
			s.limits.tokenCred.block(s.limits.credentialKey(*bad), now, after)
		}
	}
	s.logRefusal(ctx, op, logID, addr, why)
	if blocked > 0 {
		return &RateLimitError{Op: op, Subject: "address " + addrString(addr), RetryAfter: blocked}
	}
	return opErr(op, logID, ErrUnauthenticated)
}

func (s *Service) logRefusal(ctx context.Context, op, logID string, addr netip.Addr, why string) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "authn: authentication failed",
		slog.String("op", op), slog.String("id", logID), slog.String("reason", why), slog.String("addr", addrString(addr)))
}

// succeeded forgets an account's failures once it proved its secret.
func (s *Service) succeeded(ctx context.Context, accountKey string) {
	s.limits.guessPrincipal.reset(accountKey)
	if sh := s.limits.shared; sh != nil {
		sh.reset(ctx, tableGuessAccount, accountKey)
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}
