package authn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"net/netip"
	"time"
)

// PIN rules. A PIN is PINLen decimal digits, valid for PINLifetime, used
// once, and burnt after PINMaxAttempts attempts.
const (
	PINLen         = 8
	PINLifetime    = 10 * time.Minute
	PINMaxAttempts = 5
)

// IssuedPIN is a PIN to hand to a user out of band.
type IssuedPIN struct {
	UserID    string
	PIN       Secret
	ExpiresAt time.Time
}

// UserSecretInfo describes a user's secret; after creation only its
// fingerprint is ever shown.
type UserSecretInfo struct {
	UserID      string
	Fingerprint string // hex of the first 8 bytes of the secret's SHA-256
	CreatedAt   time.Time
	ValidUntil  time.Time // zero: never expires
}

// IssuedUserSecret is a newly redeemed user secret with its plaintext:
// UserSecretLen characters, shown this once.
type IssuedUserSecret struct {
	UserSecretInfo
	Secret Secret
}

func userSecretInfoOf(r UserSecretRecord) UserSecretInfo {
	return UserSecretInfo{UserID: r.PrincipalID, Fingerprint: r.Fingerprint, CreatedAt: r.CreatedAt, ValidUntil: r.ValidUntil}
}

func fingerprint(secret Secret) string {
	sum := sha256.Sum256([]byte(secret.v))
	return hex.EncodeToString(sum[:8])
}

// CreatePIN issues a one-time PIN with which user userID can obtain a user
// secret ([Service.RedeemPIN]). The issuer must be a user holding
// [RoleAdmin] ([ErrForbidden] otherwise). A new PIN replaces any earlier
// one. Errors wrap [ErrNotFound] if there is no such user, or
// [ErrInvalidArgument] if userID names an application.
func (s *Service) CreatePIN(ctx context.Context, issuer Principal, userID string) (IssuedPIN, error) {
	const op = "create PIN"
	if issuer.Kind != KindUser || !issuer.HasRole(RoleAdmin) {
		return IssuedPIN{}, opErr(op, issuer.ID, ErrForbidden)
	}
	if !isPrincipalID(userID) {
		return IssuedPIN{}, opErr(op, "", ErrNotFound)
	}
	p, err := s.store.GetPrincipal(ctx, userID)
	if err != nil {
		return IssuedPIN{}, storeErr(op, userID, err)
	}
	if p.Kind != KindUser {
		return IssuedPIN{}, opErr(op, userID, errWrap(ErrInvalidArgument, "not a user"))
	}
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return IssuedPIN{}, opErr(op, userID, err)
	}
	pin := Secret{v: leftPad(n.String(), PINLen)}
	hash, err := s.hasher.hash(ctx, pin)
	if err != nil {
		return IssuedPIN{}, opErr(op, userID, err)
	}
	now := s.now()
	rec := PINRecord{ID: newID(pinIDPrefix), PrincipalID: userID, Hash: hash, IssuedBy: issuer.ID, CreatedAt: now, ExpiresAt: now.Add(PINLifetime)}
	if err := s.store.PutPIN(ctx, rec); err != nil {
		return IssuedPIN{}, storeErr(op, userID, err)
	}
	return IssuedPIN{UserID: userID, PIN: pin, ExpiresAt: rec.ExpiresAt}, nil
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func validPIN(p Secret) bool {
	if p.Len() != PINLen {
		return false
	}
	for i := 0; i < len(p.v); i++ {
		if p.v[i] < '0' || p.v[i] > '9' {
			return false
		}
	}
	return true
}

// RedeemPIN exchanges user userID's PIN for a new user secret, which
// replaces any secret the user had and never expires until
// [Service.SetSecretValidity] says otherwise. Every attempt counts against
// the PIN before it is checked, so at most [PINMaxAttempts] guesses are ever
// verified, even in parallel; of concurrent correct redemptions exactly one
// succeeds. Every failure (unknown user, no PIN, wrong, expired, used or
// burnt PIN) returns an error wrapping [ErrUnauthenticated], or a
// [*RateLimitError].
func (s *Service) RedeemPIN(ctx context.Context, userID string, pin Secret, addr netip.Addr) (IssuedUserSecret, error) {
	const op = "redeem PIN"
	account := ""
	if isID(userID, userIDPrefix) {
		account = principalKey(userID)
	}
	if err := s.guessThrottle(ctx, op, account, addr); err != nil {
		return IssuedUserSecret{}, err
	}
	if account == "" {
		return IssuedUserSecret{}, s.refuseGuess(ctx, op, "", "", addr, "malformed user ID")
	}
	if !validPIN(pin) {
		return IssuedUserSecret{}, s.refuseGuess(ctx, op, userID, account, addr, "malformed PIN")
	}
	now := s.now()
	rec, err := s.store.ReservePINAttempt(ctx, userID, now, PINMaxAttempts)
	if err != nil {
		if !isNotFound(err) {
			return IssuedUserSecret{}, storeErr(op, userID, err)
		}
		s.hasher.burn(ctx, pin)
		return IssuedUserSecret{}, s.refuseGuess(ctx, op, userID, account, addr, "no live PIN")
	}
	ok, err := s.hasher.verify(ctx, rec.Hash, pin)
	if err != nil {
		return IssuedUserSecret{}, opErr(op, userID, err)
	}
	if !ok {
		return IssuedUserSecret{}, s.refuseGuess(ctx, op, userID, account, addr, "wrong PIN")
	}
	secret := NewToken(TokenUserSecret)
	h, v := s.peppers.hashCurrent(secret)
	sec := UserSecretRecord{PrincipalID: userID, Hash: h, PepperVersion: v, Fingerprint: fingerprint(secret), CreatedAt: s.now()}
	if err := s.store.ConsumePIN(ctx, rec.ID, now, sec); err != nil {
		if isNotFound(err) {
			return IssuedUserSecret{}, s.refuseGuess(ctx, op, userID, account, addr, "PIN used concurrently")
		}
		return IssuedUserSecret{}, storeErr(op, userID, err)
	}
	s.succeeded(ctx, account)
	return IssuedUserSecret{UserSecretInfo: userSecretInfoOf(sec), Secret: secret}, nil
}

// UserSecretInfo returns the fingerprint and validity of a user's secret.
// Errors wrap [ErrNotFound].
func (s *Service) UserSecretInfo(ctx context.Context, userID string) (UserSecretInfo, error) {
	if !isID(userID, userIDPrefix) {
		return UserSecretInfo{}, opErr("get user secret", "", ErrNotFound)
	}
	rec, err := s.store.GetUserSecret(ctx, userID)
	if err != nil {
		return UserSecretInfo{}, storeErr("get user secret", userID, err)
	}
	return userSecretInfoOf(rec), nil
}

// LatestValidUntil is the latest time a user secret may be valid until, in
// Unix seconds (2200-01-01T00:00:00Z): well inside what every store
// represents (Unix nanoseconds end in 2262).
const LatestValidUntil = 7258118400

// SetSecretValidity sets when a user's secret stops working; the zero time
// means never. A time in the past disables the secret at once (a later
// call can enable it again). A time before 1970 or after
// [LatestValidUntil] returns [ErrInvalidArgument]. Errors wrap
// [ErrNotFound].
func (s *Service) SetSecretValidity(ctx context.Context, userID string, validUntil time.Time) error {
	const op = "set user secret validity"
	if !isID(userID, userIDPrefix) {
		return opErr(op, "", ErrNotFound)
	}
	if !validUntil.IsZero() && (validUntil.Before(time.Unix(0, 0)) || validUntil.After(time.Unix(LatestValidUntil, 0))) {
		return opErr(op, userID, errWrap(ErrInvalidArgument, "valid-until must be between 1970 and 2200"))
	}
	if err := s.store.SetUserSecretValidity(ctx, userID, validUntil); err != nil {
		return storeErr(op, userID, err)
	}
	return nil
}

// DeleteSecret revokes a user's secret at once. Errors wrap [ErrNotFound].
func (s *Service) DeleteSecret(ctx context.Context, userID string) error {
	if !isID(userID, userIDPrefix) {
		return opErr("delete user secret", "", ErrNotFound)
	}
	if err := s.store.DeleteUserSecret(ctx, userID); err != nil {
		return storeErr("delete user secret", userID, err)
	}
	return nil
}

func (s *Service) authenticateUserSecret(ctx context.Context, secret Secret, addr netip.Addr) (Principal, error) {
	const op = "authenticate user secret"
	if !wellFormed(TokenUserSecret, secret.v) {
		return Principal{}, s.refuseToken(ctx, op, "", addr, nil, "malformed user secret")
	}
	if err := s.tokenThrottle(op, secret); err != nil {
		return Principal{}, err
	}
	rec, found, err := findHashed(ctx, s, secret, s.store.GetUserSecretByHash)
	if err != nil {
		if isNotFound(err) {
			return Principal{}, s.refuseToken(ctx, op, "", addr, &secret, "unknown user secret")
		}
		return Principal{}, storeErr(op, "", err)
	}
	if expired(rec.ValidUntil, s.now()) {
		// Not counted against the secret: an administrator may extend it.
		return Principal{}, s.refuseToken(ctx, op, rec.PrincipalID, addr, nil, "user secret past its validity")
	}
	s.rehash(ctx, TokenUserSecret, rec.PrincipalID, found, secret)
	return Principal{ID: rec.PrincipalID, Kind: KindUser, Roles: rec.PrincipalRoles, Method: MethodUserSecret, CredentialID: rec.PrincipalID}, nil
}
