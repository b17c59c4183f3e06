package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"strconv"
	"time"
)

// Approver is a principal whose approvals count: it holds the approver
// role and has registered the public key it signs approvals with.
type Approver struct {
	PrincipalID string
	// PublicKey is the PKIX DER of an ECDSA P-256, Ed25519 or RSA (2048 to
	// 4096 bits) key.
	PublicKey []byte
	// Algorithm names the key: "ECDSA-P256", "Ed25519" or "RSA-<bits>".
	Algorithm string
	CreatedBy string
	CreatedAt time.Time
}

// RSA modulus sizes an approver key may have: verifying costs grow with
// the size, and a caller chooses it.
const (
	minApproverRSABits = 2048
	maxApproverRSABits = 4096
)

// ParseApproverKey parses the PKIX DER of an approver's public key and
// returns it with its algorithm's name ("ECDSA-P256", "Ed25519",
// "RSA-<bits>"). Any other key, an RSA modulus outside 2048 to 4096 bits,
// or malformed DER is an error wrapping [ErrInvalidArgument].
func ParseApproverKey(der []byte) (crypto.PublicKey, string, error) {
	const op = "parse approver key"
	if len(der) > 2048 {
		return nil, "", opErr(op, "", errWrap(ErrInvalidArgument, "public key too large"))
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, "", opErr(op, "", errWrap(ErrInvalidArgument, "malformed PKIX public key"))
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return k, "Ed25519", nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return k, "ECDSA-P256", nil
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n >= minApproverRSABits && n <= maxApproverRSABits {
			return k, "RSA-" + strconv.Itoa(n), nil
		}
		return nil, "", opErr(op, "", errWrap(ErrInvalidArgument, "an RSA approver key must have 2048 to 4096 bits"))
	}
	return nil, "", opErr(op, "", errWrap(ErrInvalidArgument, "an approver key must be ECDSA P-256, Ed25519 or RSA"))
}

// RegisterApprover records that principalID approves with the key whose
// PKIX DER is pkixDER. by must hold the approverKeyManagement role
// ([ErrForbidden]); the principal must exist ([ErrNotFound]) and hold the
// approver role, and the key must be one [ParseApproverKey] accepts
// ([ErrInvalidArgument]). A principal registers one key; a second
// registration returns [ErrAlreadyExists] (delete the first to replace
// it).
func (s *Service) RegisterApprover(ctx context.Context, by Principal, principalID string, pkixDER []byte) (Approver, error) {
	const op = "register approver"
	if err := by.Require(RoleApproverKeyManagement); err != nil {
		return Approver{}, err
	}
	if !isPrincipalID(principalID) {
		return Approver{}, opErr(op, "", ErrNotFound)
	}
	_, alg, err := ParseApproverKey(pkixDER)
	if err != nil {
		return Approver{}, err
	}
	p, err := s.store.GetPrincipal(ctx, principalID)
	if err != nil {
		return Approver{}, storeErr(op, principalID, err)
	}
	if !p.Roles.Has(RoleApprover) {
		return Approver{}, opErr(op, principalID, errWrap(ErrInvalidArgument, "the principal does not hold the approver role"))
	}
	a := ApproverRecord{PrincipalID: principalID, PublicKey: append([]byte(nil), pkixDER...), Algorithm: alg, CreatedBy: by.ID, CreatedAt: s.now()}
	if err := s.store.CreateApprover(ctx, a); err != nil {
		return Approver{}, storeErr(op, principalID, err)
	}
	return Approver(a), nil
}

// Approver returns the registered approver principalID ([ErrNotFound] if
// none).
func (s *Service) Approver(ctx context.Context, principalID string) (Approver, error) {
	const op = "get approver"
	if !isPrincipalID(principalID) {
		return Approver{}, opErr(op, "", ErrNotFound)
	}
	a, err := s.store.GetApprover(ctx, principalID)
	if err != nil {
		return Approver{}, storeErr(op, principalID, err)
	}
	return Approver(a), nil
}

// Approvers returns every registered approver, by principal ID.
func (s *Service) Approvers(ctx context.Context) ([]Approver, error) {
	recs, err := s.store.ListApprovers(ctx)
	if err != nil {
		return nil, storeErr("list approvers", "", err)
	}
	out := make([]Approver, len(recs))
	for i, r := range recs {
		out[i] = Approver(r)
	}
	return out, nil
}

// DeleteApprover removes an approver's registration: its approvals stop
// counting, also on open tasks. by must hold approverKeyManagement. An
// approver a key policy names returns [ErrInUse]: change those policies
// first, so that no key is left with a rule nobody can meet.
func (s *Service) DeleteApprover(ctx context.Context, by Principal, principalID string) error {
	const op = "delete approver"
	if err := by.Require(RoleApproverKeyManagement); err != nil {
		return err
	}
	if !isPrincipalID(principalID) {
		return opErr(op, "", ErrNotFound)
	}
	if err := s.store.DeleteApprover(ctx, principalID); err != nil {
		return storeErr(op, principalID, err)
	}
	return nil
}
