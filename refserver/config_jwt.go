package refserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
)

// JWTIssuer is one identity provider whose JWTs authenticate requests
// (Authorization: Bearer <JWT>), in the configuration file's "jwt_issuers".
// See [jwtauth.Issuer] for what each field promises.
type JWTIssuer struct {
	// Name is the short name logs and principal subjects use ("idp").
	Name string `json:"name"`
	// Issuer is the exact "iss" of its tokens.
	Issuer string `json:"issuer"`
	// JWKSFile or JWKSURL (https) holds its public keys.
	JWKSFile string `json:"jwks_file,omitempty"`
	JWKSURL  string `json:"jwks_url,omitempty"`
	// Audiences: a token's "aud" must name one.
	Audiences []string `json:"audiences"`
	// Algorithms: ES256, ES384, RS256, PS256, EdDSA, at least one.
	Algorithms []string `json:"algorithms"`
	// PrincipalClaim (default "sub") and RoleClaim (default "roles") name
	// the claims that identify the caller and list its roles.
	PrincipalClaim string `json:"principal_claim,omitempty"`
	RoleClaim      string `json:"role_claim,omitempty"`
	// RoleMap maps role claim values to the server's roles; without it a
	// value that is a role's name grants that role.
	RoleMap map[string][]string `json:"role_map,omitempty"`
	// RequireJTI makes every token single-use (recorded in the authn
	// store, so across instances).
	RequireJTI bool `json:"require_jti,omitempty"`
	// RequireCertBinding accepts only tokens bound to the client
	// certificate they come over (RFC 8705).
	RequireCertBinding bool `json:"require_cert_binding,omitempty"`
	// MaxLifetime refuses tokens valid further ahead than this; default
	// 1h, at most 24h.
	MaxLifetime Duration `json:"max_lifetime,omitempty"`
	// Groups are the group IDs ("grp_…") whose keys its principals may use;
	// default the default group.
	Groups []string `json:"groups,omitempty"`
}

// OCSPCA is one client CA whose certificates are checked with OCSP on
// every request, in the configuration file's "ocsp".
type OCSPCA struct {
	// CAFile is a PEM file holding the CA certificate; it must be one of
	// client_ca's.
	CAFile string `json:"ca_file"`
	// ResponderURL is the CA's OCSP responder; empty means each client
	// certificate's Authority Information Access.
	ResponderURL string `json:"responder_url,omitempty"`
	// NoNonce stops sending a nonce (for responders that serve pre-signed
	// answers and cannot echo one).
	NoNonce bool `json:"no_nonce,omitempty"`
}

// checkJWTAndOCSP checks what Resolve can without the network: JWKS files
// that exist, and OCSP only with client certificates.
func (c *Config) checkJWTAndOCSP() error {
	for _, is := range c.JWTIssuers {
		if is.JWKSFile != "" {
			if _, err := os.Stat(is.JWKSFile); err != nil {
				return fmt.Errorf("jwt_issuers %q: jwks_file: %w", is.Name, err)
			}
		}
	}
	if len(c.OCSP) > 0 && c.ClientCA == "" {
		return errors.New("ocsp needs client_ca: it checks the client certificates client_ca admits")
	}
	return nil
}

// jwtVerifier builds the verifier of c's issuers over store (which records
// single-use tokens), or nil when there are none. It reads no key set.
func (c *Config) jwtVerifier(store jwtauth.ReplayStore, logger *slog.Logger) (*jwtauth.Verifier, map[string][]string, error) {
	if len(c.JWTIssuers) == 0 {
		return nil, nil, nil
	}
	cfg := jwtauth.Config{RoleNames: authn.RoleNames(), ClockSkew: time.Duration(c.JWTClockSkew), ReplayStore: store, Logger: logger}
	if c.JWKSCAFile != "" {
		pool, err := readCertPool(c.JWKSCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("jwks_ca_file: %w", err)
		}
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	groups := map[string][]string{}
	for _, is := range c.JWTIssuers {
		cfg.Issuers = append(cfg.Issuers, jwtauth.Issuer{Name: is.Name, Issuer: is.Issuer, JWKSFile: is.JWKSFile, JWKSURL: is.JWKSURL,
			Audiences: is.Audiences, Algorithms: is.Algorithms, PrincipalClaim: is.PrincipalClaim, RoleClaim: is.RoleClaim,
			RoleMap: is.RoleMap, RequireTokenID: is.RequireJTI, RequireCertBinding: is.RequireCertBinding,
			MaxLifetime: time.Duration(is.MaxLifetime)})
		if len(is.Groups) > 0 {
			groups[is.Name] = is.Groups
		}
	}
	v, err := jwtauth.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("jwt_issuers: %w", err)
	}
	return v, groups, nil
}

// ocspChecker builds the OCSP checker of c's client CAs, or nil.
func (c *Config) ocspChecker(logger *slog.Logger) (*ocspcheck.Checker, error) {
	if len(c.OCSP) == 0 {
		return nil, nil
	}
	trusted, err := os.ReadFile(c.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("read client CA: %w", err)
	}
	cfg := ocspcheck.Config{FailOpen: c.OCSPFailOpen, Timeout: time.Duration(c.OCSPTimeout),
		MaxCacheAge: time.Duration(c.OCSPMaxCacheAge), Logger: logger, HTTPClient: c.ocspHTTPClient}
	for _, o := range c.OCSP {
		b, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ocsp ca_file: %w", err)
		}
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("ocsp ca_file %s holds no PEM certificate", o.CAFile)
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ocsp ca_file %s: %w", o.CAFile, err)
		}
		if !pemHolds(trusted, ca) {
			return nil, fmt.Errorf("ocsp ca_file %s: not one of client_ca's certificates", o.CAFile)
		}
		cfg.CAs = append(cfg.CAs, ocspcheck.CA{Certificate: ca, ResponderURL: o.ResponderURL, NoNonce: o.NoNonce})
	}
	ch, err := ocspcheck.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("ocsp: %w", err)
	}
	return ch, nil
}

// pemHolds reports whether the PEM bundle holds cert.
func pemHolds(bundle []byte, cert *x509.Certificate) bool {
	for {
		var block *pem.Block
		block, bundle = pem.Decode(bundle)
		if block == nil {
			return false
		}
		if block.Type == "CERTIFICATE" && bytes.Equal(block.Bytes, cert.Raw) {
			return true
		}
	}
}

func readCertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// loadJWTKeys reads every issuer's key set once at start. A failure is
// logged, not fatal: the issuer may be down, and its keys are fetched
// again when a token needs them.
func loadJWTKeys(ctx context.Context, v *jwtauth.Verifier, logger *slog.Logger) {
	if v == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := v.Load(lctx); err != nil {
		logger.Warn("JWT issuers' keys not loaded yet; they are fetched again when a token needs them", "err", err)
	}
}
