package jwtauth

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// The signature algorithms an issuer may allow. Nothing else is accepted:
// not "none", not HMAC (a public key is not a shared secret), not ES512 or
// the RSA variants with larger hashes.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256
	ES384 = "ES384" // ECDSA P-384 with SHA-384
	RS256 = "RS256" // RSA PKCS #1 v1.5 with SHA-256
	PS256 = "PS256" // RSA-PSS with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

var supportedAlgorithms = []string{ES256, ES384, RS256, PS256, EdDSA}

// Limits on what a caller or an issuer controls, checked before any work.
const (
	DefaultMaxTokenSize = 4096
	MaxMaxTokenSize     = 16 << 10
	DefaultMaxJWKSSize  = 256 << 10
	MaxJWKSKeys         = 64
	maxKeysPerKID       = 4
	maxClaimLen         = 256
	maxRoleValues       = 64
	maxRolePathDepth    = 4
)

// Issuer is one identity provider whose tokens are trusted.
type Issuer struct {
	// Name is the short name logs and principal IDs use: 1 to 32 of
	// [a-z0-9-]. Required, unique.
	Name string `json:"name"`
	// Issuer is the exact "iss" claim of its tokens. Required, unique.
	Issuer string `json:"issuer"`
	// Exactly one of JWKSFile and JWKSURL says where its public keys are.
	// The URL must be https. Either is read again when a token names an
	// unknown key ID (at most once per Config.MinRefreshInterval) and
	// every Config.RefreshInterval.
	JWKSFile string `json:"jwks_file,omitempty"`
	JWKSURL  string `json:"jwks_url,omitempty"`
	// Audiences: a token's "aud" must contain at least one. Required.
	Audiences []string `json:"audiences"`
	// Algorithms is the allow-list, a non-empty subset of ES256, ES384,
	// RS256, PS256 and EdDSA.
	Algorithms []string `json:"algorithms"`
	// PrincipalClaim names the claim that identifies the caller (a
	// string of at most 256 bytes); default "sub".
	PrincipalClaim string `json:"principal_claim,omitempty"`
	// RoleClaim names the claim holding the caller's roles: an array of
	// strings, or one string of space-separated values (like "scope").
	// Dots descend into objects ("realm_access.roles"). Default "roles".
	RoleClaim string `json:"role_claim,omitempty"`
	// RoleMap maps a role claim value to role names (of Config.RoleNames).
	// Values it does not list grant nothing. Without a map, values that are
	// role names grant that role.
	RoleMap map[string][]string `json:"role_map,omitempty"`
	// RequireTokenID makes "jti" mandatory and each token usable once
	// (Config.ReplayStore remembers it until it expires).
	RequireTokenID bool `json:"require_jti,omitempty"`
	// RequireCertBinding refuses tokens without an RFC 8705 "cnf"
	// certificate thumbprint. Bound tokens are checked either way.
	RequireCertBinding bool `json:"require_cert_binding,omitempty"`
	// MaxLifetime refuses tokens that expire further than this in the
	// future, which also bounds how long a replay record is kept; default
	// 1h, at most 24h.
	MaxLifetime time.Duration `json:"max_lifetime,omitempty"`
}

// Config configures a [Verifier]. Issuers and RoleNames are required.
type Config struct {
	Issuers []Issuer
	// RoleNames are the role names a token may be granted; anything else a
	// RoleMap names is a configuration error.
	RoleNames []string
	// ClockSkew is tolerated on "exp", "nbf" and "iat"; default 1m, at
	// most 5m.
	ClockSkew time.Duration
	// MaxTokenSize bounds a token in bytes, checked before parsing;
	// default 4096, at most 16 KiB.
	MaxTokenSize int
	// MaxJWKSSize bounds a key set document; default 256 KiB.
	MaxJWKSSize int64
	// HTTPClient fetches JWKS URLs; default a client with the system roots
	// and FetchTimeout. It must not follow redirects to plain http.
	HTTPClient *http.Client
	// FetchTimeout bounds one key set fetch; default 10s.
	FetchTimeout time.Duration
	// MinRefreshInterval is the least time between two fetches of one
	// issuer's keys, however many unknown key IDs arrive; default 1m.
	MinRefreshInterval time.Duration
	// RefreshInterval is how old the keys may get before they are fetched
	// again in the background; default 1h.
	RefreshInterval time.Duration
	// ReplayStore remembers used token IDs; required when an issuer sets
	// RequireTokenID.
	ReplayStore ReplayStore
	// CacheSize bounds the verified-token cache (entries); default 10000.
	// Negative disables the cache.
	CacheSize int
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Logger receives key set refreshes and their failures; default
	// discards.
	Logger *slog.Logger
}

var issuerName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

func invalid(format string, args ...any) error {
	return fmt.Errorf("jwtauth: configuration: "+format+": %w", append(args, autherr.ErrInvalidArgument)...)
}

// withDefaults checks c and fills in the defaults. Errors wrap
// autherr.ErrInvalidArgument.
func (c Config) withDefaults() (Config, error) {
	if len(c.Issuers) == 0 {
		return c, invalid("no issuers")
	}
	if len(c.RoleNames) == 0 {
		return c, invalid("no role names")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ClockSkew, time.Minute)
	def(&c.FetchTimeout, 10*time.Second)
	def(&c.MinRefreshInterval, time.Minute)
	def(&c.RefreshInterval, time.Hour)
	if c.ClockSkew < 0 || c.ClockSkew > 5*time.Minute {
		return c, invalid("clock skew %v outside 0..5m", c.ClockSkew)
	}
	if c.FetchTimeout < 0 || c.MinRefreshInterval < 0 || c.RefreshInterval < c.MinRefreshInterval {
		return c, invalid("fetch timeout and refresh intervals must be positive, refresh >= min refresh")
	}
	if c.MaxTokenSize == 0 {
		c.MaxTokenSize = DefaultMaxTokenSize
	}
	if c.MaxTokenSize < 64 || c.MaxTokenSize > MaxMaxTokenSize {
		return c, invalid("max token size %d outside 64..%d", c.MaxTokenSize, MaxMaxTokenSize)
	}
	if c.MaxJWKSSize == 0 {
		c.MaxJWKSSize = DefaultMaxJWKSSize
	}
	if c.MaxJWKSSize < 0 || c.MaxJWKSSize > 16<<20 {
		return c, invalid("max JWKS size %d outside 0..16 MiB", c.MaxJWKSSize)
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.FetchTimeout, CheckRedirect: httpsOnly}
	}
	names, isses := map[string]bool{}, map[string]bool{}
	iss := make([]Issuer, len(c.Issuers))
	for i, is := range c.Issuers {
		is, err := is.withDefaults(c.RoleNames)
		if err != nil {
			return c, err
		}
		if names[is.Name] || isses[is.Issuer] {
			return c, invalid("issuer %q or %q configured twice", is.Name, is.Issuer)
		}
		names[is.Name], isses[is.Issuer] = true, true
		if is.RequireTokenID && c.ReplayStore == nil {
			return c, invalid("issuer %q requires jti but there is no replay store", is.Name)
		}
		iss[i] = is
	}
	c.Issuers = iss
	return c, nil
}

func (is Issuer) withDefaults(roleNames []string) (Issuer, error) {
	if !issuerName.MatchString(is.Name) {
		return is, invalid("issuer name %q is not 1-32 of [a-z0-9-]", is.Name)
	}
	if is.Issuer == "" || len(is.Issuer) > maxClaimLen {
		return is, invalid("issuer %q: empty or overlong iss", is.Name)
	}
	switch {
	case (is.JWKSFile == "") == (is.JWKSURL == ""):
		return is, invalid("issuer %q: exactly one of jwks_file and jwks_url", is.Name)
	case is.JWKSURL != "":
		u, err := url.Parse(is.JWKSURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return is, invalid("issuer %q: jwks_url must be an https URL without userinfo", is.Name)
		}
	}
	if len(is.Audiences) == 0 || slices.Contains(is.Audiences, "") {
		return is, invalid("issuer %q: no audience, or an empty one", is.Name)
	}
	if len(is.Algorithms) == 0 {
		return is, invalid("issuer %q: no algorithms allowed", is.Name)
	}
	for _, a := range is.Algorithms {
		if !slices.Contains(supportedAlgorithms, a) {
			return is, invalid("issuer %q: algorithm %q is not one of %v", is.Name, a, supportedAlgorithms)
		}
	}
	if is.PrincipalClaim == "" {
		is.PrincipalClaim = "sub"
	}
	if is.RoleClaim == "" {
		is.RoleClaim = "roles"
	}
	for v, roles := range is.RoleMap {
		for _, r := range roles {
			if !slices.Contains(roleNames, r) {
				return is, invalid("issuer %q: role map value %q grants unknown role %q", is.Name, v, r)
			}
		}
	}
	if is.MaxLifetime == 0 {
		is.MaxLifetime = time.Hour
	}
	if is.MaxLifetime < 0 || is.MaxLifetime > 24*time.Hour {
		return is, invalid("issuer %q: max lifetime %v outside 0..24h", is.Name, is.MaxLifetime)
	}
	return is, nil
}

func httpsOnly(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" || len(via) >= 3 {
		return fmt.Errorf("jwtauth: refusing redirect to %s", req.URL.Redacted())
	}
	return nil
}

func joseAlgorithms(names []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(names))
	for i, n := range names {
		out[i] = jose.SignatureAlgorithm(n)
	}
	return out
}
