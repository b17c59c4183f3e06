package authn

import (
	"context"
	"time"
)

// Store persists principals and the hashes of their credentials. The
// [Service] is the only intended caller; it never passes a plaintext secret
// to a Store. Implementations live in [github.com/cryptoplug/cryptoplug/authn/sqlstore]
// (SQLite and PostgreSQL) and are checked by the shared suite in
// [github.com/cryptoplug/cryptoplug/authn/storetest].
//
// Contract for every implementation:
//   - All methods are safe for concurrent use, also by several processes
//     sharing one database.
//   - A missing row returns an error wrapping [ErrNotFound]; a violated
//     uniqueness (ID, user e-mail, certificate, hash) returns one wrapping
//     [ErrAlreadyExists].
//   - Methods documented as atomic either apply completely or not at all, and
//     of several concurrent calls racing for the same row at most the allowed
//     number succeed (one PIN consumption, one session replacement, as many
//     client registrations as the token has uses).
//   - Times round-trip with nanosecond precision; the zero time.Time means
//     "never" where a field says so.
type Store interface {
	// CreatePrincipal inserts p and, atomically with it, its membership of
	// each group in p.Groups (holding all of p.Roles) and keys. A group that
	// does not exist returns ErrNotFound and inserts nothing.
	CreatePrincipal(ctx context.Context, p PrincipalRecord, keys []APIKeyRecord) error
	// GetPrincipal returns the principal with this ID.
	GetPrincipal(ctx context.Context, id string) (PrincipalRecord, error)
	// GetUserByEmail returns the user with this (already normalised) e-mail.
	GetUserByEmail(ctx context.Context, email string) (PrincipalRecord, error)
	// GetPrincipalByCertificate returns the principal pinned to the
	// certificate with this SHA-256.
	GetPrincipalByCertificate(ctx context.Context, certSHA256 []byte) (PrincipalRecord, error)
	// ListPrincipals returns every principal, ordered by creation time.
	ListPrincipals(ctx context.Context) ([]PrincipalRecord, error)
	// DeletePrincipal deletes the principal and everything that belongs to
	// it: API keys, sessions, PIN, user secret and backup.
	DeletePrincipal(ctx context.Context, id string) error
	// ResetCredentials atomically sets p's Method, CertSHA256 and
	// PasswordHash (matched by p.ID), increments its credential epoch,
	// deletes every API key, session, user secret and pending PIN of the
	// principal, and inserts keys.
	ResetCredentials(ctx context.Context, p PrincipalRecord, keys []APIKeyRecord) error

	// CreateAPIKey inserts k.
	CreateAPIKey(ctx context.Context, k APIKeyRecord) error
	// GetAPIKey returns the key with this ID.
	GetAPIKey(ctx context.Context, id string) (APIKeyRecord, error)
	// GetAPIKeyByHash returns the key stored under this hash, with its
	// owner's kind and roles filled in.
	GetAPIKeyByHash(ctx context.Context, hash []byte) (APIKeyRecord, error)
	// ListAPIKeys returns the principal's keys, ordered by creation time.
	ListAPIKeys(ctx context.Context, principalID string) ([]APIKeyRecord, error)
	// DeleteAPIKey deletes the key with this ID.
	DeleteAPIKey(ctx context.Context, id string) error
	// RotateAPIKey atomically sets the expiry of key oldID to oldExpiresAt
	// (or deletes it if oldExpiresAt is zero) and inserts replacement.
	RotateAPIKey(ctx context.Context, oldID string, oldExpiresAt time.Time, replacement APIKeyRecord) error

	// CreateSession inserts s if its principal still exists and still has
	// credential epoch s.Epoch, and, for a session made from an API key
	// (s.APIKeyID set), that key still exists; otherwise it inserts nothing
	// and returns ErrNotFound. Deleting the API key later deletes the
	// session with it. The check and the insert are atomic with respect to
	// ResetCredentials, so a login racing a credential reset cannot leave a
	// session behind.
	CreateSession(ctx context.Context, s SessionRecord) error
	// GetSessionByHash returns the session stored under this hash, with the
	// expiry of the API key it was made from (if any) filled in. It is on
	// every bearer request's path: one indexed lookup.
	GetSessionByHash(ctx context.Context, hash []byte) (SessionRecord, error)
	// TouchSession sets the session's LastUsedAt to at if that is later.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// ReplaceSession atomically deletes session oldID and inserts next; if
	// oldID no longer exists, or next's principal no longer has credential
	// epoch next.Epoch, nothing changes and ErrNotFound is returned.
	ReplaceSession(ctx context.Context, oldID string, next SessionRecord) error
	// DeleteSession deletes the session with this ID.
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessions deletes every session of the principal and returns how
	// many there were.
	DeleteSessions(ctx context.Context, principalID string) (int, error)
	// ListSessions returns the principal's sessions, ordered by creation time.
	ListSessions(ctx context.Context, principalID string) ([]SessionRecord, error)

	// PutPIN inserts p, replacing any PIN the user had.
	PutPIN(ctx context.Context, p PINRecord) error
	// ReservePINAttempt atomically counts one attempt against the user's PIN
	// if it exists, has not expired at now and has had fewer than
	// maxAttempts attempts, and returns it with the new count. Otherwise it
	// returns ErrNotFound. Reserving before verifying bounds the guesses even
	// when they arrive in parallel.
	ReservePINAttempt(ctx context.Context, principalID string, now time.Time, maxAttempts int) (PINRecord, error)
	// ConsumePIN atomically deletes PIN pinID, if it still exists and has not
	// expired at now, and stores secret as its user's secret (replacing any
	// other). Of concurrent calls for one PIN exactly one succeeds; the others
	// return ErrNotFound.
	ConsumePIN(ctx context.Context, pinID string, now time.Time, secret UserSecretRecord) error

	// GetUserSecret returns the user's secret record.
	GetUserSecret(ctx context.Context, principalID string) (UserSecretRecord, error)
	// GetUserSecretByHash returns the secret stored under this hash, with the
	// owner's roles filled in.
	GetUserSecretByHash(ctx context.Context, hash []byte) (UserSecretRecord, error)
	// SetUserSecretValidity sets the secret's ValidUntil (zero: never expires).
	SetUserSecretValidity(ctx context.Context, principalID string, validUntil time.Time) error
	// DeleteUserSecret deletes the user's secret.
	DeleteUserSecret(ctx context.Context, principalID string) error

	// CreateRegistrationToken inserts t.
	CreateRegistrationToken(ctx context.Context, t RegistrationTokenRecord) error
	// GetRegistrationTokenByHash returns the token stored under this hash.
	GetRegistrationTokenByHash(ctx context.Context, hash []byte) (RegistrationTokenRecord, error)
	// ListRegistrationTokens returns every token, ordered by creation time.
	ListRegistrationTokens(ctx context.Context) ([]RegistrationTokenRecord, error)
	// DeleteRegistrationToken deletes the token with this ID.
	DeleteRegistrationToken(ctx context.Context, id string) error
	// RegisterClient atomically spends one use of token tokenID (which must
	// have uses left and not have expired at now) and inserts client, keys
	// and, if backup is not nil, the client's backup. Without a use left it
	// returns ErrNotFound and inserts nothing.
	RegisterClient(ctx context.Context, tokenID string, now time.Time, client PrincipalRecord, keys []APIKeyRecord, backup []byte) error
	// PutBackup stores blob as the principal's backup, replacing any other.
	PutBackup(ctx context.Context, principalID string, blob []byte, at time.Time) error
	// GetBackup returns the principal's backup.
	GetBackup(ctx context.Context, principalID string) (BackupRecord, error)

	// Rehash replaces the hash of credential id of this kind, if it is still
	// stored under oldVersion. For TokenUserSecret the id is the user's ID.
	Rehash(ctx context.Context, kind TokenKind, id string, oldVersion uint32, hash []byte, version uint32) error
	// PurgeExpired deletes sessions that expired at now or were last used
	// before idleBefore, API keys and PINs that expired, registration
	// tokens that expired or have no use left, and token-use records that
	// expired. It returns how many rows went.
	PurgeExpired(ctx context.Context, now, idleBefore time.Time) (int64, error)

	// RecordTokenUse records the use of a single-use token (key: at most 64
	// bytes, SHA-256 of the issuer and the token's ID) until expiresAt, and
	// reports whether this is its first use: false if a record of key
	// exists that expires after now. It is atomic: of concurrent calls with
	// one key, across processes, exactly one reports true. It implements
	// [github.com/cryptoplug/cryptoplug/authn/jwtauth.ReplayStore].
	RecordTokenUse(ctx context.Context, key []byte, expiresAt, now time.Time) (first bool, err error)

	// CreateGroup inserts g; a taken name returns ErrAlreadyExists.
	CreateGroup(ctx context.Context, g GroupRecord) error
	// GetGroup returns the group with this ID.
	GetGroup(ctx context.Context, id string) (GroupRecord, error)
	// ListGroups returns every group, ordered by creation time.
	ListGroups(ctx context.Context) ([]GroupRecord, error)
	// DeleteGroup deletes the group and every membership of it. While a key
	// belongs to the group it deletes nothing and returns ErrInUse.
	DeleteGroup(ctx context.Context, id string) error
	// SetMembership inserts or replaces m. A principal or group that does
	// not exist returns ErrNotFound.
	SetMembership(ctx context.Context, m MembershipRecord) error
	// DeleteMembership removes the principal from the group.
	DeleteMembership(ctx context.Context, principalID, groupID string) error
	// ListMemberships returns the principal's memberships, ordered by group
	// ID.
	ListMemberships(ctx context.Context, principalID string) ([]MembershipRecord, error)
	// ListGroupMembers returns the group's memberships, ordered by
	// principal ID.
	ListGroupMembers(ctx context.Context, groupID string) ([]MembershipRecord, error)
	// KeyAccess returns the group key keyID belongs to ([DefaultGroupID] if
	// none was ever assigned) and the roles principalID holds in that group
	// (none if not a member). It is on every key operation's path: one
	// query.
	KeyAccess(ctx context.Context, principalID, keyID string) (groupID string, roles RoleSet, err error)
	// AssignKey records that key keyID belongs to group groupID. A key that
	// has a group already returns ErrAlreadyExists; a group that does not
	// exist, ErrNotFound.
	AssignKey(ctx context.Context, keyID, groupID string) error
	// MoveKey moves key keyID from group from (its current group, explicit
	// or default) to group to, atomically; if from is no longer its group
	// it changes nothing and returns ErrNotFound.
	MoveKey(ctx context.Context, keyID, from, to string) error
	// ForgetKey deletes the record of key keyID's group; none is not an
	// error.
	ForgetKey(ctx context.Context, keyID string) error
	// ListKeyOwners returns the group of every key that was assigned one,
	// by key ID.
	ListKeyOwners(ctx context.Context) (map[string]string, error)

	// Approvers, key states and approval tasks.
	ApprovalStore

	// Close releases the store's resources.
	Close() error
}

// DefaultGroupID is the group every key belongs to until it is assigned
// another, and that principals join when created without a group. It
// exists in every store and cannot be deleted.
const DefaultGroupID = "grp_00000000000000000000000000000000"

// GroupRecord is a stored group.
type GroupRecord struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// MembershipRecord is a principal's membership of a group: the roles it
// holds for the group's keys.
type MembershipRecord struct {
	PrincipalID string
	GroupID     string
	Roles       RoleSet
}

// PrincipalRecord is a stored principal.
type PrincipalRecord struct {
	ID           string
	Kind         Kind
	Name         string // display name; the e-mail for users
	Email        string // users only: lower-case, unique
	Roles        RoleSet
	PasswordHash string // users only: argon2id PHC string
	// Method is MethodPassword for users and MethodAPIKey or
	// MethodCertificate for applications and clients.
	Method     Method
	CertSHA256 []byte   // MethodCertificate only: the pinned certificate's SHA-256, unique
	PublicKeys [][]byte // clients only: PKIX DER public keys they registered
	CreatedAt  time.Time
	// Epoch counts credential resets; sessions record the epoch they were
	// created under. Set by the store: 0 on insert, +1 per ResetCredentials.
	Epoch int64
	// Groups are the groups the principal joins when inserted, holding all
	// of Roles in each; read back empty (see ListMemberships).
	Groups []string
}

// APIKeyRecord is a stored API key.
type APIKeyRecord struct {
	ID            string
	PrincipalID   string
	Role          Role
	Hash          []byte
	PepperVersion uint32
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never

	// Filled in by GetAPIKeyByHash from the owner; ignored on insert.
	PrincipalKind   Kind
	PrincipalRoles  RoleSet
	PrincipalMethod Method
	PrincipalEpoch  int64
}

// SessionRecord is a stored session.
type SessionRecord struct {
	ID            string
	Hash          []byte
	PepperVersion uint32
	PrincipalID   string
	PrincipalKind Kind
	Roles         RoleSet
	Method        Method // how the session was created
	CertSHA256    []byte // bound certificate, or nil
	CreatedAt     time.Time
	LastUsedAt    time.Time
	ExpiresAt     time.Time // absolute expiry
	Epoch         int64     // the principal's credential epoch at creation
	APIKeyID      string    // the API key the session was made from, or ""

	// Filled in by GetSessionByHash from the API key; ignored on insert.
	APIKeyExpiresAt time.Time // zero: never (or no API key)
}

// PINRecord is a stored one-time PIN.
type PINRecord struct {
	ID          string
	PrincipalID string // the user the PIN is for
	Hash        string // argon2id PHC string
	IssuedBy    string // principal ID of the issuer
	CreatedAt   time.Time
	ExpiresAt   time.Time
	Attempts    int
}

// UserSecretRecord is a stored user secret.
type UserSecretRecord struct {
	PrincipalID   string
	Hash          []byte
	PepperVersion uint32
	Fingerprint   string
	CreatedAt     time.Time
	ValidUntil    time.Time // zero: never expires

	// Filled in by GetUserSecretByHash from the owner; ignored on insert.
	PrincipalRoles RoleSet
}

// RegistrationTokenRecord is a stored registration token.
type RegistrationTokenRecord struct {
	ID            string
	Hash          []byte
	PepperVersion uint32
	Roles         RoleSet // roles granted to clients registered with it
	UsesLeft      int
	CreatedBy     string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// BackupRecord is a client's encrypted backup, as uploaded.
type BackupRecord struct {
	PrincipalID string
	Blob        []byte
	CreatedAt   time.Time
}
