package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
)

// externalIDPrefix starts the IDs of KindExternal principals.
const externalIDPrefix = "ext_"

// RoleNames returns every role's wire name, in numeric order: the
// RoleNames a [jwtauth.Config] for Config.JWT needs.
func RoleNames() []string {
	out := make([]string, len(AllRoles))
	for i, r := range AllRoles {
		out[i] = r.String()
	}
	return out
}

// checkJWTGroups checks the group IDs of Config.JWTGroups and returns a
// copy, with the default group under "" (no issuer is named "") for the
// issuers it does not list.
func checkJWTGroups(m map[string][]string) (map[string][]string, error) {
	out := make(map[string][]string, len(m)+1)
	out[""] = []string{DefaultGroupID}
	for issuer, groups := range m {
		if issuer == "" {
			return nil, errWrap(ErrInvalidArgument, "JWT groups: an issuer without a name")
		}
		if len(groups) == 0 || len(groups) > MaxGroupsPerPrincipal {
			return nil, errWrap(ErrInvalidArgument, "JWT groups: an issuer needs 1 to 64 groups")
		}
		for _, g := range groups {
			if !isID(g, groupIDPrefix) {
				return nil, errWrap(ErrInvalidArgument, "JWT groups: not a group ID")
			}
		}
		out[issuer] = slices.Clone(groups)
	}
	return out, nil
}

// authenticateJWT checks a JWT presented alone: the principal is the one
// the token's issuer vouches for, with the roles its claims map to, acting
// in the groups configured for that issuer.
func (s *Service) authenticateJWT(ctx context.Context, c Credentials) (Principal, error) {
	id, err := s.verifyJWT(ctx, "authenticate JWT", c)
	if err != nil {
		return Principal{}, err
	}
	sum := sha256.Sum256([]byte(id.Issuer + "\x00" + id.Subject))
	groups, ok := s.jwtGroups[id.Issuer]
	if !ok {
		groups = s.jwtGroups[""]
	}
	return Principal{ID: externalIDPrefix + hex.EncodeToString(sum[:idHexLen/2]), Kind: KindExternal, Roles: roleSetOf(id.Roles),
		Method: MethodJWT, CredentialID: id.Issuer, Subject: id.Issuer + ":" + id.Subject, Groups: groups}, nil
}

// authenticateAPIKeyWithJWT checks an API key and a JWT presented together.
// Both must hold: the request acts as the key's principal (its groups, its
// audit identity) with the roles both grant — the key's one role, if the
// token grants it too. The token's subject is recorded beside it.
func (s *Service) authenticateAPIKeyWithJWT(ctx context.Context, c Credentials) (Principal, error) {
	p, err := s.authenticateAPIKey(ctx, c.APIKey, c.RemoteAddr)
	if err != nil {
		return Principal{}, err
	}
	id, err := s.verifyJWT(ctx, "authenticate API key with JWT", c)
	if err != nil {
		return Principal{}, err
	}
	p.Roles &= roleSetOf(id.Roles)
	p.Subject = id.Issuer + ":" + id.Subject
	return p, nil
}

// verifyJWT runs the token through the verifier and the token throttle. A
// refusal is logged with the verifier's reason (which holds nothing the
// caller chose) and counted against the address and, when the token
// itself is at fault, against the token; a binding the presenter lacked or
// keys the issuer could not serve are not the token's fault.
func (s *Service) verifyJWT(ctx context.Context, op string, c Credentials) (jwtauth.Identity, error) {
	if s.jwt == nil {
		return jwtauth.Identity{}, s.refuseToken(ctx, op, "", c.RemoteAddr, nil, "JWT presented, but no issuer is trusted")
	}
	if err := s.tokenThrottle(op, c.JWT); err != nil {
		return jwtauth.Identity{}, err
	}
	id, err := s.jwt.Verify(ctx, c.JWT.v, c.Certificate)
	switch {
	case err == nil:
		return id, nil
	case !errors.Is(err, ErrUnauthenticated):
		return jwtauth.Identity{}, storeErr(op, "", err) // the replay store failed, or ctx ended
	case errors.Is(err, jwtauth.ErrBindingMismatch), errors.Is(err, jwtauth.ErrKeysUnavailable):
		return jwtauth.Identity{}, s.refuseToken(ctx, op, "", c.RemoteAddr, nil, err.Error())
	}
	return jwtauth.Identity{}, s.refuseToken(ctx, op, "", c.RemoteAddr, &c.JWT, err.Error())
}

// roleSetOf maps role wire names (a verified token's, checked against
// RoleNames when the verifier was configured) to a RoleSet.
func roleSetOf(names []string) RoleSet {
	var rs RoleSet
	for _, n := range names {
		for _, r := range AllRoles {
			if roleNames[r] == n {
				rs |= 1 << r
				break
			}
		}
	}
	return rs
}

// checkCertificate asks Config.CertificateStatus about the request's
// client certificate, if there are both.
func (s *Service) checkCertificate(ctx context.Context, op string, c Credentials) error {
	if s.certStatus == nil || c.Certificate == nil {
		return nil
	}
	err := s.certStatus.Check(ctx, c.Certificate)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, ErrUnauthenticated):
		return storeErr(op, "", err)
	}
	return s.refuseToken(ctx, op, "", c.RemoteAddr, nil, err.Error())
}
