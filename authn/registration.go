package authn

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/netip"
	"time"

	"github.com/cryptoplug/cryptoplug/seal"
)

// Limits on registration tokens and client registrations.
const (
	MaxRegistrationUses     = 10000
	MaxRegistrationValidity = 90 * 24 * time.Hour
	MaxClientPublicKeys     = 8
	maxPublicKeyLen         = 16 << 10
	// MaxBackupLen bounds a client's backup blob ([seal.MaxLen]).
	MaxBackupLen = seal.MaxLen
)

// RegistrationTokenSpec describes a registration token.
type RegistrationTokenSpec struct {
	Roles    RoleSet       // granted to every client registered with the token; at least one
	Uses     int           // how many clients may register with it, 1..MaxRegistrationUses
	ValidFor time.Duration // how long it is valid, up to MaxRegistrationValidity
}

// RegistrationToken describes a stored registration token; it never holds
// the token itself.
type RegistrationToken struct {
	ID        string
	Roles     RoleSet
	UsesLeft  int
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// IssuedRegistrationToken is a new registration token with its plaintext,
// shown this once.
type IssuedRegistrationToken struct {
	RegistrationToken
	Token Secret
}

func registrationTokenOf(r RegistrationTokenRecord) RegistrationToken {
	return RegistrationToken{ID: r.ID, Roles: r.Roles, UsesLeft: r.UsesLeft, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
}

// CreateRegistrationToken issues a token with which clients can register
// themselves ([Service.RegisterClient]). The issuer must hold [RoleAdmin]
// ([ErrForbidden]); a bad spec returns [ErrInvalidArgument].
func (s *Service) CreateRegistrationToken(ctx context.Context, issuer Principal, spec RegistrationTokenSpec) (IssuedRegistrationToken, error) {
	const op = "create registration token"
	if !issuer.HasRole(RoleAdmin) {
		return IssuedRegistrationToken{}, opErr(op, issuer.ID, ErrForbidden)
	}
	if spec.Roles.Len() == 0 || !spec.Roles.Valid() || spec.Uses < 1 || spec.Uses > MaxRegistrationUses ||
		spec.ValidFor <= 0 || spec.ValidFor > MaxRegistrationValidity {
		return IssuedRegistrationToken{}, opErr(op, issuer.ID, errWrap(ErrInvalidArgument, "roles, uses or validity out of range"))
	}
	token := NewToken(TokenRegistration)
	h, v := s.peppers.hashCurrent(token)
	now := s.now()
	rec := RegistrationTokenRecord{ID: newID(regTokenIDPrefix), Hash: h, PepperVersion: v, Roles: spec.Roles, UsesLeft: spec.Uses,
		CreatedBy: issuer.ID, CreatedAt: now, ExpiresAt: now.Add(spec.ValidFor)}
	if err := s.store.CreateRegistrationToken(ctx, rec); err != nil {
		return IssuedRegistrationToken{}, storeErr(op, rec.ID, err)
	}
	return IssuedRegistrationToken{RegistrationToken: registrationTokenOf(rec), Token: token}, nil
}

// ListRegistrationTokens returns every registration token, oldest first,
// including spent and expired ones not yet purged.
func (s *Service) ListRegistrationTokens(ctx context.Context) ([]RegistrationToken, error) {
	recs, err := s.store.ListRegistrationTokens(ctx)
	if err != nil {
		return nil, storeErr("list registration tokens", "", err)
	}
	out := make([]RegistrationToken, len(recs))
	for i, r := range recs {
		out[i] = registrationTokenOf(r)
	}
	return out, nil
}

// RevokeRegistrationToken deletes a registration token at once. Errors wrap
// [ErrNotFound].
func (s *Service) RevokeRegistrationToken(ctx context.Context, id string) error {
	if !isID(id, regTokenIDPrefix) {
		return opErr("revoke registration token", "", ErrNotFound)
	}
	if err := s.store.DeleteRegistrationToken(ctx, id); err != nil {
		return storeErr("revoke registration token", id, err)
	}
	return nil
}

// ClientRegistration is what a client submits to register. The client
// generates its key pairs locally; only public keys are sent, so the
// private keys never leave it.
type ClientRegistration struct {
	Name string
	// PublicKeys are PKIX (SubjectPublicKeyInfo) DER public keys, 1 to
	// MaxClientPublicKeys of them.
	PublicKeys [][]byte
	// Backup, if not nil, is the client's own choice to make its
	// credentials recoverable: a blob from [seal.Seal] sealed to
	// [Service.RecoveryPublicKey], at most [MaxBackupLen] bytes. The server
	// stores it without being able to read it.
	Backup []byte
}

// RegisteredClient is a newly registered client: its account and one API
// key per role the token granted, shown this once.
type RegisteredClient struct {
	Account
	APIKeys []IssuedAPIKey
}

// RegisterClient registers a client with a registration token, spending one
// of its uses atomically (of concurrent registrations, only as many succeed
// as the token had uses). The client holds the token's roles and joins the
// default group ([DefaultGroupID]) with them. The submission is checked
// before the token is spent: malformed public keys, or a backup that is not sealed to this
// deployment's recovery key, return [ErrInvalidArgument]. A bad, expired,
// spent or revoked token returns an error wrapping [ErrUnauthenticated] or a
// [*RateLimitError].
func (s *Service) RegisterClient(ctx context.Context, token Secret, reg ClientRegistration, addr netip.Addr) (RegisteredClient, error) {
	const op = "register client"
	if !wellFormed(TokenRegistration, token.v) {
		return RegisteredClient{}, s.refuseToken(ctx, op, "", addr, nil, "malformed registration token")
	}
	if err := s.tokenThrottle(op, token); err != nil {
		return RegisteredClient{}, err
	}
	if !validName(reg.Name) {
		return RegisteredClient{}, opErr(op, "", errWrap(ErrInvalidArgument, "name empty, too long or with control characters"))
	}
	if err := checkPublicKeys(reg.PublicKeys); err != nil {
		return RegisteredClient{}, opErr(op, "", err)
	}
	if reg.Backup != nil {
		if err := s.checkBackup(reg.Backup); err != nil {
			return RegisteredClient{}, opErr(op, "", err)
		}
	}
	tok, found, err := findHashed(ctx, s, token, s.store.GetRegistrationTokenByHash)
	if err != nil {
		if isNotFound(err) {
			return RegisteredClient{}, s.refuseToken(ctx, op, "", addr, &token, "unknown registration token")
		}
		return RegisteredClient{}, storeErr(op, "", err)
	}
	now := s.now()
	if expired(tok.ExpiresAt, now) || tok.UsesLeft <= 0 {
		return RegisteredClient{}, s.refuseToken(ctx, op, tok.ID, addr, &token, "registration token expired or spent")
	}
	client := PrincipalRecord{ID: newID(clientIDPrefix), Kind: KindClient, Name: reg.Name, Roles: tok.Roles, CreatedAt: now,
		Groups: []string{DefaultGroupID}}
	for _, k := range reg.PublicKeys {
		client.PublicKeys = append(client.PublicKeys, bytes.Clone(k))
	}
	keys, issued, err := s.setMethod(&client, MethodAPIKey, nil)
	if err != nil {
		return RegisteredClient{}, opErr(op, client.ID, err)
	}
	if err := s.store.RegisterClient(ctx, tok.ID, now, client, keys, bytes.Clone(reg.Backup)); err != nil {
		if isNotFound(err) {
			return RegisteredClient{}, s.refuseToken(ctx, op, tok.ID, addr, &token, "registration token spent concurrently")
		}
		return RegisteredClient{}, storeErr(op, client.ID, err)
	}
	s.rehash(ctx, TokenRegistration, tok.ID, found, token)
	return RegisteredClient{Account: accountOf(client), APIKeys: issued}, nil
}

// subjectPublicKeyInfo is the ASN.1 shape every PKIX public key has,
// whatever its algorithm (so that ML-DSA or ML-KEM keys unknown to
// crypto/x509 are accepted too).
type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// Algorithms crypto/x509 understands; keys with these OIDs must also parse.
var x509KnownAlgorithms = []asn1.ObjectIdentifier{
	{1, 2, 840, 113549, 1, 1, 1}, // rsaEncryption
	{1, 2, 840, 10045, 2, 1},     // id-ecPublicKey
	{1, 3, 101, 110},             // X25519
	{1, 3, 101, 112},             // Ed25519
}

func checkPublicKeys(keys [][]byte) error {
	if len(keys) == 0 || len(keys) > MaxClientPublicKeys {
		return errWrap(ErrInvalidArgument, "need 1 to 8 public keys")
	}
	for _, der := range keys {
		var spki subjectPublicKeyInfo
		rest, err := asn1.Unmarshal(der, &spki)
		if len(der) > maxPublicKeyLen || err != nil || len(rest) != 0 || spki.PublicKey.BitLength == 0 {
			// A PKCS#8 private key fails here too: it starts with an INTEGER.
			return errWrap(ErrInvalidArgument, "public key is not PKIX SubjectPublicKeyInfo DER")
		}
		for _, oid := range x509KnownAlgorithms {
			if spki.Algorithm.Algorithm.Equal(oid) {
				if _, err := x509.ParsePKIXPublicKey(der); err != nil {
					return errWrap(ErrInvalidArgument, "public key: "+err.Error())
				}
			}
		}
	}
	return nil
}

// RecoveryPublicKey returns the key clients seal backups to with
// [seal.Seal], or nil if backups are not configured.
func (s *Service) RecoveryPublicKey() crypto.PublicKey { return s.recovery }

// checkBackup verifies what the server can see of a backup: its framing,
// and that it names this deployment's recovery key (a blob sealed to any
// other key could never be recovered).
func (s *Service) checkBackup(blob []byte) error {
	if s.recovery == nil {
		return errWrap(ErrInvalidArgument, "backups are not configured (no recovery key)")
	}
	keyID, err := seal.SealedTo(blob)
	if err != nil {
		return errWrap(ErrInvalidArgument, "backup: "+err.Error())
	}
	if !bytes.Equal(keyID, s.recoveryKeyID) {
		return errWrap(ErrInvalidArgument, "backup not sealed to this deployment's recovery key")
	}
	return nil
}

// StoreBackup stores (or replaces) the calling client's backup. client must
// be an authenticated client principal ([ErrForbidden] otherwise); the blob
// is checked like a registration's.
func (s *Service) StoreBackup(ctx context.Context, client Principal, blob []byte) error {
	const op = "store backup"
	if client.Kind != KindClient || client.ID == "" {
		return opErr(op, client.ID, ErrForbidden)
	}
	if err := s.checkBackup(blob); err != nil {
		return opErr(op, client.ID, err)
	}
	if err := s.store.PutBackup(ctx, client.ID, bytes.Clone(blob), s.now()); err != nil {
		return storeErr(op, client.ID, err)
	}
	return nil
}

// GetBackup returns a client's backup blob for an administrator (admin must
// hold [RoleAdmin], else [ErrForbidden]), to be opened with [seal.Open]
// and the recovery private key. A client without a backup returns
// [ErrNotFound].
func (s *Service) GetBackup(ctx context.Context, admin Principal, clientID string) ([]byte, error) {
	const op = "get backup"
	if !admin.HasRole(RoleAdmin) {
		return nil, opErr(op, admin.ID, ErrForbidden)
	}
	if !isID(clientID, clientIDPrefix) {
		return nil, opErr(op, "", ErrNotFound)
	}
	rec, err := s.store.GetBackup(ctx, clientID)
	if err != nil {
		return nil, storeErr(op, clientID, err)
	}
	return rec.Blob, nil
}
