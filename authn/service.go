package authn

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/seal"
)

// Config configures a [Service]. Store and Peppers are required; every other
// field has a default.
type Config struct {
	Store   Store
	Peppers *PepperSet

	// Clock returns the current time; default time.Now. Tests inject a fake.
	Clock func() time.Time

	// Argon2 are the cost parameters for new password and PIN hashes;
	// default DefaultArgon2Params. Existing hashes keep their own.
	Argon2 Argon2Params
	// HashConcurrency bounds how many argon2id computations run at once;
	// default GOMAXPROCS. Each holds Argon2.Memory KiB.
	HashConcurrency int

	// SessionIdleTimeout ends a session not used for this long; default 15m.
	SessionIdleTimeout time.Duration
	// SessionLifetime ends a session this long after creation, however
	// active; default 8h.
	SessionLifetime time.Duration
	// SessionTouchInterval is how stale a session's last-use time may get
	// before a request writes it back; default min(1m, SessionIdleTimeout/4).
	// It trades a write per request for idle expiry that may come up to this
	// much early.
	SessionTouchInterval time.Duration

	// RateLimit tunes the throttling of failed authentications.
	RateLimit RateLimitConfig

	// RecoveryPublicKey is the key clients seal their backups to (see
	// [seal.Seal]): *mlkem.EncapsulationKey768, *mlkem.EncapsulationKey1024
	// or *rsa.PublicKey. Without it, backups are refused.
	RecoveryPublicKey crypto.PublicKey

	// Logger receives authentication failures and store errors (never
	// secrets); default discards.
	Logger *slog.Logger

	// ClientAddr returns the client address failures are counted against;
	// default the IP of r.RemoteAddr. Set it when behind a trusted proxy.
	ClientAddr func(r *http.Request) netip.Addr

	// JWT verifies bearer JWTs from trusted issuers ([Credentials].JWT);
	// without it they are refused. Its Config.RoleNames must be
	// [RoleNames]: the roles a token grants are these. Give it this
	// Service's store as its ReplayStore, so that single-use tokens stay
	// single-use across servers. The Service does not close it.
	JWT *jwtauth.Verifier
	// JWTGroups lists, by issuer name, the groups ("grp_…") whose keys the
	// principals that issuer vouches for may use, with the roles their
	// tokens grant; an issuer not listed acts in the default group.
	JWTGroups map[string][]string

	// CertificateStatus, if set, checks every client certificate a
	// request presents, whatever the credential beside it (OCSP: an
	// *ocspcheck.Checker): a certificate it refuses fails the request with
	// ErrUnauthenticated, so a revoked certificate ends the sessions bound
	// to it on their next request.
	CertificateStatus CertificateChecker

	// Approvals tunes approval tasks (see [ApprovalConfig]).
	Approvals ApprovalConfig
}

// CertificateChecker decides whether a client certificate, whose chain the
// TLS handshake verified, may still be used. Check returns nil if it may;
// an error matching [ErrUnauthenticated] (revoked, unknown, its status
// unobtainable under a fail-closed policy) if not, saying why for the log;
// any other error if it could not decide. It must be safe for concurrent
// use and cheap when the answer is cached: it runs on every request that
// presents a certificate.
type CertificateChecker interface {
	Check(ctx context.Context, cert *x509.Certificate) error
}

// Service authenticates requests and manages principals and credentials
// over a [Store]. Create it with [NewService]. All methods are safe for
// concurrent use; several Services (in several processes) may share one
// database, except that each keeps its own rate-limit counts.
type Service struct {
	store         Store
	peppers       *PepperSet
	clock         func() time.Time
	hasher        *passwordHasher
	limits        limits
	idle          time.Duration
	lifetime      time.Duration
	touch         time.Duration
	recovery      crypto.PublicKey
	recoveryKeyID []byte
	log           *slog.Logger
	clientAddr    func(*http.Request) netip.Addr
	jwt           *jwtauth.Verifier
	jwtGroups     map[string][]string
	certStatus    CertificateChecker
	approvals     ApprovalConfig
}

// NewService checks cfg and returns a Service. It computes one argon2id hash
// (used to make unknown-user logins as slow as wrong passwords). Errors wrap
// [ErrInvalidArgument].
func NewService(cfg Config) (*Service, error) {
	const op = "new service"
	if cfg.Store == nil || cfg.Peppers == nil {
		return nil, opErr(op, "", errWrap(ErrInvalidArgument, "Store and Peppers are required"))
	}
	if cfg.SessionIdleTimeout < 0 || cfg.SessionLifetime < 0 || cfg.SessionTouchInterval < 0 {
		return nil, opErr(op, "", errWrap(ErrInvalidArgument, "negative session duration"))
	}
	s := &Service{
		store:      cfg.Store,
		peppers:    cfg.Peppers,
		clock:      cfg.Clock,
		limits:     newLimits(cfg.RateLimit),
		idle:       cfg.SessionIdleTimeout,
		lifetime:   cfg.SessionLifetime,
		touch:      cfg.SessionTouchInterval,
		log:        cfg.Logger,
		clientAddr: cfg.ClientAddr,
		jwt:        cfg.JWT,
		certStatus: cfg.CertificateStatus,
	}
	groups, err := checkJWTGroups(cfg.JWTGroups)
	if err != nil {
		return nil, opErr(op, "", err)
	}
	s.jwtGroups = groups
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.idle == 0 {
		s.idle = 15 * time.Minute
	}
	if s.lifetime == 0 {
		s.lifetime = 8 * time.Hour
	}
	if s.touch == 0 {
		s.touch = min(time.Minute, s.idle/4)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clientAddr == nil {
		s.clientAddr = remoteAddr
	}
	if cfg.RateLimit.Shared && !cfg.RateLimit.Disabled {
		fc, ok := cfg.Store.(FailureCounter)
		if !ok {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "RateLimit.Shared needs a Store that implements FailureCounter"))
		}
		s.limits.shared = &sharedCounts{store: fc, cfg: s.limits.cfg, log: s.log}
	}
	if s.approvals, err = cfg.Approvals.withDefaults(); err != nil {
		return nil, opErr(op, "", err)
	}
	if cfg.RecoveryPublicKey != nil {
		id, err := seal.KeyID(cfg.RecoveryPublicKey)
		if err != nil {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "recovery key: "+err.Error()))
		}
		s.recovery, s.recoveryKeyID = cfg.RecoveryPublicKey, id
	}
	params := cfg.Argon2
	if params == (Argon2Params{}) {
		params = DefaultArgon2Params
	}
	concurrency := cfg.HashConcurrency
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h, err := newPasswordHasher(params, concurrency)
	if err != nil {
		return nil, err
	}
	s.hasher = h
	return s, nil
}

func (s *Service) now() time.Time { return s.clock() }

// findHashed looks token up under every active pepper version, current
// first, and returns the record and the version it was found under.
func findHashed[T any](ctx context.Context, s *Service, token Secret, get func(context.Context, []byte) (T, error)) (T, uint32, error) {
	var buf [32]byte
	for _, k := range s.peppers.all {
		rec, err := get(ctx, k.sum(buf[:0], token.v))
		if err == nil {
			return rec, k.version, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return rec, 0, err
		}
	}
	var zero T
	return zero, 0, ErrNotFound
}

// rehash moves a credential found under an old pepper version to the
// current one. It is best effort: failure only means the next use tries
// again.
func (s *Service) rehash(ctx context.Context, kind TokenKind, id string, found uint32, token Secret) {
	if found == s.peppers.Current() {
		return
	}
	h, v := s.peppers.hashCurrent(token)
	if err := s.store.Rehash(ctx, kind, id, found, h, v); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "authn: rehash failed", slog.String("kind", kind.String()), slog.String("id", id), slog.Any("error", err))
	}
}

// storeErr wraps a store failure that is not a plain "not found".
func storeErr(op, id string, err error) error {
	return opErr(op, id, err)
}

// expired reports whether an optional expiry (zero: never) has passed.
func expired(expiresAt, now time.Time) bool {
	return !expiresAt.IsZero() && !now.Before(expiresAt)
}

// PurgeExpired deletes expired sessions, API keys, PINs and registration
// tokens, and approval tasks that ended longer than the configured
// retention ago, from the store and returns how many rows went. Expired credentials
// are refused whether or not they were purged; call it periodically to keep
// the tables small.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := s.store.PurgeExpired(ctx, now, now.Add(-s.idle))
	if err != nil {
		return n, storeErr("purge expired", "", err)
	}
	m, err := s.store.PurgeApprovalTasks(ctx, now.Add(-s.approvals.Retention))
	if err != nil {
		return n, storeErr("purge approval tasks", "", err)
	}
	return n + m, nil
}
