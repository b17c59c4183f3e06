package authn

import (
	"context"
	"net/netip"
	"time"
)

// APIKey describes a stored API key; it never holds the key itself. ID is
// the non-secret handle used to list, revoke and rotate it.
type APIKey struct {
	ID          string
	PrincipalID string
	Role        Role // the one role the key grants
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never
}

// IssuedAPIKey is a newly created API key with its plaintext. The plaintext
// is not stored and cannot be shown again.
type IssuedAPIKey struct {
	APIKey
	Key Secret
}

func apiKeyOf(r APIKeyRecord) APIKey {
	return APIKey{ID: r.ID, PrincipalID: r.PrincipalID, Role: r.Role, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
}

func (s *Service) newAPIKey(owner string, role Role, expiresAt time.Time) (APIKeyRecord, Secret) {
	key := NewToken(TokenAPIKey)
	h, v := s.peppers.hashCurrent(key)
	return APIKeyRecord{ID: newID(apiKeyIDPrefix), PrincipalID: owner, Role: role, Hash: h, PepperVersion: v,
		CreatedAt: s.now(), ExpiresAt: expiresAt}, key
}

// Limits on API key lifetimes, checked before any arithmetic.
const (
	// MaxAPIKeyValidity bounds [Service.CreateAPIKey]'s validFor.
	MaxAPIKeyValidity = 10 * 365 * 24 * time.Hour
	// MaxRotationOverlap bounds [Service.RotateAPIKey]'s overlap.
	MaxRotationOverlap = 90 * 24 * time.Hour
)

// CreateAPIKey issues another API key for an application or client that
// uses API keys. The key grants role alone, which the principal must hold;
// a principal may have many keys per role. validFor > 0 makes the key
// expire that long from now, at most [MaxAPIKeyValidity]; 0 means never.
// Errors wrap [ErrNotFound] or [ErrInvalidArgument].
func (s *Service) CreateAPIKey(ctx context.Context, principalID string, role Role, validFor time.Duration) (IssuedAPIKey, error) {
	const op = "create API key"
	if !isPrincipalID(principalID) {
		return IssuedAPIKey{}, opErr(op, "", ErrNotFound)
	}
	if validFor < 0 || validFor > MaxAPIKeyValidity {
		return IssuedAPIKey{}, opErr(op, principalID, errWrap(ErrInvalidArgument, "validity must be 0 (never expires) to 10 years"))
	}
	if !role.Valid() {
		return IssuedAPIKey{}, opErr(op, principalID, errWrap(ErrInvalidArgument, "undefined role"))
	}
	p, err := s.store.GetPrincipal(ctx, principalID)
	if err != nil {
		return IssuedAPIKey{}, storeErr(op, principalID, err)
	}
	if p.Kind == KindUser || p.Method != MethodAPIKey {
		return IssuedAPIKey{}, opErr(op, principalID, errWrap(ErrInvalidArgument, "not an application using API keys"))
	}
	if !p.Roles.Has(role) {
		return IssuedAPIKey{}, opErr(op, principalID, errWrap(ErrInvalidArgument, "principal does not hold role "+role.String()))
	}
	var expiresAt time.Time
	if validFor > 0 {
		expiresAt = s.now().Add(validFor)
	}
	rec, key := s.newAPIKey(principalID, role, expiresAt)
	if err := s.store.CreateAPIKey(ctx, rec); err != nil {
		return IssuedAPIKey{}, storeErr(op, rec.ID, err)
	}
	return IssuedAPIKey{APIKey: apiKeyOf(rec), Key: key}, nil
}

// ListAPIKeys returns a principal's API keys, oldest first, including keys
// that expired but were not purged yet (check ExpiresAt). Errors wrap
// [ErrNotFound] if the principal does not exist.
func (s *Service) ListAPIKeys(ctx context.Context, principalID string) ([]APIKey, error) {
	const op = "list API keys"
	if !isPrincipalID(principalID) {
		return nil, opErr(op, "", ErrNotFound)
	}
	if _, err := s.store.GetPrincipal(ctx, principalID); err != nil {
		return nil, storeErr(op, principalID, err)
	}
	recs, err := s.store.ListAPIKeys(ctx, principalID)
	if err != nil {
		return nil, storeErr(op, principalID, err)
	}
	out := make([]APIKey, len(recs))
	for i, r := range recs {
		out[i] = apiKeyOf(r)
	}
	return out, nil
}

// RevokeAPIKey deletes the key: the next request using it is refused, and
// every session made from it ends with it. Errors wrap [ErrNotFound].
func (s *Service) RevokeAPIKey(ctx context.Context, keyID string) error {
	if !isID(keyID, apiKeyIDPrefix) {
		return opErr("revoke API key", "", ErrNotFound)
	}
	if err := s.store.DeleteAPIKey(ctx, keyID); err != nil {
		return storeErr("revoke API key", keyID, err)
	}
	return nil
}

// RotateAPIKey issues a replacement for key keyID with the same owner and
// role and, if the old key had an expiry, the same validity period counted
// from now. The old key stays valid for overlap (at most
// [MaxRotationOverlap], and never past its own expiry) so that clients can
// switch over; overlap 0 revokes it at once. Sessions made from the old key
// end when it does. Both happen atomically. An unknown or expired key
// returns [ErrNotFound].
func (s *Service) RotateAPIKey(ctx context.Context, keyID string, overlap time.Duration) (IssuedAPIKey, error) {
	const op = "rotate API key"
	if !isID(keyID, apiKeyIDPrefix) {
		return IssuedAPIKey{}, opErr(op, "", ErrNotFound)
	}
	if overlap < 0 || overlap > MaxRotationOverlap {
		return IssuedAPIKey{}, opErr(op, keyID, errWrap(ErrInvalidArgument, "overlap must be 0 to 90 days"))
	}
	old, err := s.store.GetAPIKey(ctx, keyID)
	if err != nil {
		return IssuedAPIKey{}, storeErr(op, keyID, err)
	}
	now := s.now()
	if expired(old.ExpiresAt, now) {
		return IssuedAPIKey{}, opErr(op, keyID, ErrNotFound)
	}
	var newExpiry time.Time
	if !old.ExpiresAt.IsZero() {
		newExpiry = now.Add(old.ExpiresAt.Sub(old.CreatedAt))
	}
	var oldExpiry time.Time // zero: delete now
	if overlap > 0 {
		oldExpiry = now.Add(overlap)
		if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(oldExpiry) {
			oldExpiry = old.ExpiresAt
		}
	}
	rec, key := s.newAPIKey(old.PrincipalID, old.Role, newExpiry)
	if err := s.store.RotateAPIKey(ctx, keyID, oldExpiry, rec); err != nil {
		return IssuedAPIKey{}, storeErr(op, keyID, err)
	}
	return IssuedAPIKey{APIKey: apiKeyOf(rec), Key: key}, nil
}

// authenticateAPIKey checks an API key presented as X-API-KEY. The key has
// already been parsed. A valid key is never throttled (see limits).
func (s *Service) authenticateAPIKey(ctx context.Context, key Secret, addr netip.Addr) (Principal, error) {
	const op = "authenticate API key"
	if !wellFormed(TokenAPIKey, key.v) {
		return Principal{}, s.refuseToken(ctx, op, "", addr, nil, "malformed API key")
	}
	if err := s.tokenThrottle(op, key); err != nil {
		return Principal{}, err
	}
	rec, found, err := findHashed(ctx, s, key, s.store.GetAPIKeyByHash)
	if err != nil {
		if isNotFound(err) {
			return Principal{}, s.refuseToken(ctx, op, "", addr, &key, "unknown key")
		}
		return Principal{}, storeErr(op, "", err)
	}
	if expired(rec.ExpiresAt, s.now()) {
		return Principal{}, s.refuseToken(ctx, op, rec.ID, addr, &key, "expired")
	}
	if rec.PrincipalMethod != MethodAPIKey {
		return Principal{}, s.refuseToken(ctx, op, rec.ID, addr, &key, "principal does not use API keys")
	}
	s.rehash(ctx, TokenAPIKey, rec.ID, found, key)
	return Principal{ID: rec.PrincipalID, Kind: rec.PrincipalKind, Roles: NewRoleSet(rec.Role) & rec.PrincipalRoles,
		Method: MethodAPIKey, CredentialID: rec.ID}, nil
}
