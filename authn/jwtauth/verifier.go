package jwtauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Identity is what a verified token proves. It is a plain value; Roles is
// shared with the verifier's cache and must not be modified.
type Identity struct {
	Issuer    string   // the configured issuer's Name
	Subject   string   // the value of the issuer's PrincipalClaim
	Roles     []string // role names granted, in Config.RoleNames order; never empty
	TokenID   string   // "jti", if any
	ExpiresAt time.Time
	// CertBound reports that the token carried an RFC 8705 certificate
	// thumbprint, and so was presented over that certificate.
	CertBound bool
}

// Verifier checks JWTs from the configured issuers. Create it with [New];
// it is safe for concurrent use. Call [Verifier.Close] to stop background
// key refreshes.
type Verifier struct {
	cfg      Config
	algs     []jose.SignatureAlgorithm // every issuer's allow-list, merged
	issuers  map[string]*issuer        // by "iss"
	ordered  []*issuer
	cache    *tokenCache
	ctx      context.Context // ends at Close; bounds key set loads
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeOne sync.Once
}

type issuer struct {
	Issuer // the configuration, defaults filled in
	keys   *issuerKeys
}

// iss is the exact "iss" claim of the issuer's tokens.
func (it *issuer) iss() string { return it.Issuer.Issuer }

// New checks cfg and returns a Verifier. It reads no key set yet: call
// [Verifier.Load] to read them all up front, or let the first token of
// each issuer do it. Configuration errors wrap autherr.ErrInvalidArgument.
func New(cfg Config) (*Verifier, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, issuers: map[string]*issuer{}, cache: newTokenCache(cfg.CacheSize)}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	for _, is := range cfg.Issuers {
		var src keySource = fileSource(is.JWKSFile)
		if is.JWKSURL != "" {
			src = urlSource{url: is.JWKSURL, client: cfg.HTTPClient}
		}
		it := &issuer{Issuer: is, keys: &issuerKeys{v: v, name: is.Name, src: src}}
		v.issuers[is.Issuer] = it
		v.ordered = append(v.ordered, it)
		for _, a := range joseAlgorithms(is.Algorithms) {
			if !slices.Contains(v.algs, a) {
				v.algs = append(v.algs, a)
			}
		}
	}
	return v, nil
}

// Load reads every issuer's key set now and returns the failures joined.
// An issuer whose set failed to load is tried again when a token needs it.
func (v *Verifier) Load(ctx context.Context) error {
	var errs []error
	for _, it := range v.ordered {
		if err := it.keys.refresh(ctx); err != nil && !errors.Is(err, errRefreshTooSoon) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops background key refreshes and waits for them. Verify keeps
// working with the keys already loaded.
func (v *Verifier) Close() error {
	v.closeOne.Do(func() {
		v.cancel()
		v.wg.Wait()
	})
	return nil
}

// Verify checks token, presented over a connection with the verified
// client certificate cert (nil if none), and returns the identity it
// proves.
//
// Every refusal is a [*Error] matching one of the Err… reasons and
// autherr.ErrUnauthenticated. Any other error (the replay store failed, ctx
// ended while keys were loading) means the token could not be checked: a
// server answers it as an internal error. A token that passed is cached (by
// its SHA-256) until it expires, so its next use costs a hash and a map
// lookup, its time window and certificate binding checked again; tokens of
// issuers with RequireTokenID are never cached.
func (v *Verifier) Verify(ctx context.Context, token string, cert *x509.Certificate) (Identity, error) {
	if len(token) > v.cfg.MaxTokenSize {
		return Identity{}, refuse(ErrOversized, "", "", fmt.Sprintf("%d bytes, more than %d", len(token), v.cfg.MaxTokenSize))
	}
	sum := sumString(token)
	if e := v.cache.get(&sum); e != nil {
		if e.gen == e.keys.gen.Load() {
			return v.recheck(e, cert)
		}
		v.cache.remove(&sum)
	}
	return v.verify(ctx, token, &sum, cert)
}

// sumString is SHA-256 of s without copying s to the heap: the hot path
// would otherwise allocate the token's size on every request.
func sumString(s string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// recheck applies to a cached token the checks that depend on the request.
func (v *Verifier) recheck(e *verified, cert *x509.Certificate) (Identity, error) {
	now := v.cfg.Clock()
	switch {
	case !now.Before(e.notAfter):
		return Identity{}, refuse(ErrExpired, e.id.Issuer, "", "")
	case now.Before(e.notBefor):
		return Identity{}, refuse(ErrNotYetValid, e.id.Issuer, "", "")
	}
	if e.bound != nil {
		if err := checkBinding(e.bound, cert, e.id.Issuer); err != nil {
			return Identity{}, err
		}
	}
	return e.id, nil
}

func checkBinding(bound *[32]byte, cert *x509.Certificate, iss string) error {
	if cert == nil {
		return refuse(ErrBindingMismatch, iss, "", "certificate-bound token without a client certificate")
	}
	sum := sha256.Sum256(cert.Raw)
	if subtle.ConstantTimeCompare(sum[:], bound[:]) != 1 {
		return refuse(ErrBindingMismatch, iss, "", "certificate-bound token over another certificate")
	}
	return nil
}

// verify is the full check of a token not in the cache.
func (v *Verifier) verify(ctx context.Context, token string, sum *[32]byte, cert *x509.Certificate) (Identity, error) {
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return Identity{}, refuse(ErrAlgorithmNotAllowed, "", "", "alg header on no issuer's allow-list")
		}
		return Identity{}, refuse(ErrMalformed, "", "", "not a compact JWS")
	}
	if len(tok.Headers) != 1 {
		return Identity{}, refuse(ErrMalformed, "", "", "not exactly one signature")
	}
	h := tok.Headers[0]
	// The issuer is read before the signature is checked only to choose
	// whose keys check it; nothing else unverified is trusted.
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Identity{}, refuse(ErrMalformed, "", "", "payload is not a JSON object")
	}
	it := v.issuers[unverified.Issuer]
	if it == nil {
		return Identity{}, refuse(ErrUnknownIssuer, "", "", "")
	}
	if !slices.Contains(it.Algorithms, h.Algorithm) {
		return Identity{}, refuse(ErrAlgorithmNotAllowed, it.Name, "", "alg header not on the issuer's allow-list")
	}
	if h.KeyID == "" {
		return Identity{}, refuse(ErrUnknownKeyID, it.Name, "", "token has no kid")
	}
	gen := it.keys.gen.Load()
	keys, err := it.keys.lookup(ctx, h.KeyID)
	if err != nil {
		if ctx.Err() != nil {
			return Identity{}, fmt.Errorf("jwtauth: verify token of issuer %q: %w", it.Name, ctx.Err())
		}
		return Identity{}, err
	}
	var claims claimSet
	var extra rawClaims
	checked := false
	for _, k := range keys {
		if !k.fits(h.Algorithm) {
			continue
		}
		checked = true
		err = tok.Claims(k.key, &claims, &extra)
		if !errors.Is(err, jose.ErrCryptoFailure) {
			break
		}
	}
	switch {
	case !checked:
		return Identity{}, refuse(ErrAlgorithmConfused, it.Name, h.KeyID, "the alg header does not fit the key")
	case errors.Is(err, jose.ErrCryptoFailure):
		return Identity{}, refuse(ErrBadSignature, it.Name, h.KeyID, "")
	case err != nil:
		return Identity{}, refuse(ErrMalformed, it.Name, h.KeyID, "claims do not decode")
	}
	e, err := v.checkClaims(it, &claims, extra, cert)
	if err != nil {
		if re, ok := errors.AsType[*Error](err); ok {
			re.KeyID = h.KeyID
		}
		return Identity{}, err
	}
	if it.RequireTokenID {
		return e.id, v.recordUse(ctx, it, &claims, e)
	}
	e.keys, e.gen = it.keys, gen
	v.cache.put(sum, e, v.cfg.Clock())
	return e.id, nil
}

// checkClaims checks a verified token's claims for issuer it and returns
// what the cache keeps of it.
func (v *Verifier) checkClaims(it *issuer, c *claimSet, extra rawClaims, cert *x509.Certificate) (*verified, error) {
	name, skew, now := it.Name, v.cfg.ClockSkew, v.cfg.Clock()
	if c.Issuer != it.iss() { // cannot differ from the unverified read, but the check is cheap
		return nil, refuse(ErrUnknownIssuer, name, "", "")
	}
	if !slices.ContainsFunc(it.Audiences, c.Audience.Contains) {
		return nil, refuse(ErrWrongAudience, name, "", "")
	}
	if c.Expiry == nil {
		return nil, refuse(ErrMissingClaim, name, "", "no exp")
	}
	e := &verified{notAfter: c.Expiry.Time().Add(skew)}
	if !now.Before(e.notAfter) {
		return nil, refuse(ErrExpired, name, "", "")
	}
	if c.Expiry.Time().Sub(now) > it.MaxLifetime+skew {
		return nil, refuse(ErrLifetimeTooLong, name, "", "expires in "+c.Expiry.Time().Sub(now).Round(time.Second).String())
	}
	for _, t := range []*jwt.NumericDate{c.NotBefore, c.IssuedAt} {
		if t != nil && t.Time().Add(-skew).After(e.notBefor) {
			e.notBefor = t.Time().Add(-skew)
		}
	}
	if now.Before(e.notBefor) {
		return nil, refuse(ErrNotYetValid, name, "", "")
	}
	sub, ok := extra.principal(it.PrincipalClaim)
	if !ok {
		return nil, refuse(ErrMissingClaim, name, "", "principal claim "+strconv.Quote(it.PrincipalClaim))
	}
	roles := mapRoles(extra.roleValues(it.RoleClaim), it.RoleMap, v.cfg.RoleNames)
	if len(roles) == 0 {
		return nil, refuse(ErrMissingRole, name, "", "role claim "+strconv.Quote(it.RoleClaim)+" grants no role")
	}
	if it.RequireTokenID && (c.ID == "" || len(c.ID) > maxClaimLen) {
		return nil, refuse(ErrMissingClaim, name, "", "no jti, or longer than 256 bytes")
	}
	switch {
	case c.Cnf != nil:
		if c.Cnf.X5tS256 == nil {
			return nil, refuse(ErrBindingMismatch, name, "", "cnf without x5t#S256")
		}
		thumb, err := base64.RawURLEncoding.Strict().DecodeString(*c.Cnf.X5tS256)
		if err != nil || len(thumb) != sha256.Size {
			return nil, refuse(ErrMalformed, name, "", "cnf x5t#S256 is not a base64url SHA-256")
		}
		e.bound = (*[32]byte)(thumb)
		if err := checkBinding(e.bound, cert, name); err != nil {
			return nil, err
		}
	case it.RequireCertBinding:
		return nil, refuse(ErrBindingMismatch, name, "", "token is not certificate-bound")
	}
	e.id = Identity{Issuer: name, Subject: sub, Roles: roles, TokenID: c.ID, ExpiresAt: c.Expiry.Time(), CertBound: e.bound != nil}
	return e, nil
}

// recordUse accepts a token of an issuer with RequireTokenID only if its
// ID was not used before within its lifetime.
func (v *Verifier) recordUse(ctx context.Context, it *issuer, c *claimSet, e *verified) error {
	key := sha256.Sum256([]byte(it.iss() + "\x00" + c.ID))
	first, err := v.cfg.ReplayStore.RecordTokenUse(ctx, key[:], e.notAfter, v.cfg.Clock())
	if err != nil {
		return fmt.Errorf("jwtauth: record use of token of issuer %q: %w", it.Name, err)
	}
	if !first {
		return refuse(ErrReplay, it.Name, "", "jti "+quote(c.ID))
	}
	return nil
}
