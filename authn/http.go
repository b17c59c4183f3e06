package authn

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxAuthHeaderLen bounds the Authorization and X-API-KEY header values;
// longer values are refused unparsed.
const MaxAuthHeaderLen = 4096

// APIKeyHeader is the header API keys are presented in.
const APIKeyHeader = "X-API-KEY"

// credentialParams are query parameter names (compared in lower case) that
// are refused because clients put credentials in them.
var credentialParams = map[string]bool{
	"api_key": true, "apikey": true, "api-key": true, "x-api-key": true, "key_secret": true,
	"token": true, "access_token": true, "id_token": true, "refresh_token": true, "auth_token": true,
	"session": true, "session_token": true, "sessionid": true, "session_id": true, "bearer": true,
	"secret": true, "user_secret": true, "client_secret": true, "registration_token": true,
	"password": true, "passwd": true, "pass": true, "pin": true, "auth": true, "authorization": true,
}

// Credentials extracts the credentials of r: the X-API-KEY header, the
// Authorization header (Bearer, Basic, or a bare user secret), the verified
// TLS client certificate, and the client address (Config.ClientAddr).
//
// It refuses, with an error wrapping [ErrMalformedCredential]: more than one
// credential header or value, values longer than [MaxAuthHeaderLen],
// non-ASCII or control bytes, unknown schemes, bad base64, Basic without a
// colon, and tokens whose prefix, length or checksum is wrong (these are
// never looked up). It refuses any credential in the URL with a
// [*CredentialInURLError]. No credential at all is not an error. Both errors
// also match [ErrUnauthenticated].
func (s *Service) Credentials(r *http.Request) (Credentials, error) {
	c, err := parseCredentials(r.Header, r.URL)
	if err != nil {
		return Credentials{}, err
	}
	if r.TLS != nil && r.TLS.HandshakeComplete && len(r.TLS.PeerCertificates) > 0 {
		c.Certificate = r.TLS.PeerCertificates[0]
	}
	c.RemoteAddr = s.clientAddr(r)
	return c, nil
}

func malformed(why string) error {
	return opErr("parse credentials", "", errWrap(ErrMalformedCredential, why))
}

// parseCredentials reads the credential headers and checks the URL. It looks
// at header names case-insensitively, so a header map built by hand cannot
// smuggle a second value under another spelling.
func parseCredentials(h http.Header, u *url.URL) (Credentials, error) {
	if err := checkURL(u); err != nil {
		return Credentials{}, err
	}
	var authz, apiKey string
	n := 0
	for name, vals := range h {
		isAuthz, isKey := strings.EqualFold(name, "Authorization"), strings.EqualFold(name, APIKeyHeader)
		if !isAuthz && !isKey {
			continue
		}
		n += len(vals)
		if n > 1 {
			return Credentials{}, malformed("more than one credential header")
		}
		if len(vals) == 1 {
			if isAuthz {
				authz = vals[0]
			} else {
				apiKey = vals[0]
			}
		}
	}
	var c Credentials
	switch {
	case n == 0:
		return c, nil
	case apiKey != "":
		if err := checkHeaderValue(apiKey); err != nil {
			return Credentials{}, err
		}
		if !wellFormed(TokenAPIKey, apiKey) {
			return Credentials{}, malformed("X-API-KEY is not an API key")
		}
		c.APIKey = Secret{v: apiKey}
		return c, nil
	case authz != "":
		return parseAuthorization(authz)
	}
	return Credentials{}, malformed("empty credential header")
}

func checkHeaderValue(v string) error {
	if len(v) > MaxAuthHeaderLen {
		return malformed("credential header too long")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return malformed("credential header has non-ASCII or control bytes")
		}
	}
	return nil
}

// parseAuthorization parses one Authorization header value.
func parseAuthorization(v string) (Credentials, error) {
	if err := checkHeaderValue(v); err != nil {
		return Credentials{}, err
	}
	scheme, rest, hasSpace := strings.Cut(v, " ")
	if !hasSpace {
		if !wellFormed(TokenUserSecret, v) {
			return Credentials{}, malformed("Authorization without a scheme is not a user secret")
		}
		return Credentials{UserSecret: Secret{v: v}}, nil
	}
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || strings.Contains(rest, " ") {
		return Credentials{}, malformed("Authorization is not <scheme> <credentials>")
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if !wellFormed(TokenSession, rest) {
			return Credentials{}, malformed("bearer token is not a session token")
		}
		return Credentials{Bearer: Secret{v: rest}}, nil
	case strings.EqualFold(scheme, "Basic"):
		user, pass, err := parseBasic(rest)
		if err != nil {
			return Credentials{}, err
		}
		return Credentials{BasicUser: user, BasicPassword: Secret{v: pass}}, nil
	}
	return Credentials{}, malformed("unknown Authorization scheme")
}

// parseBasic decodes HTTP Basic credentials (RFC 7617): standard base64 of
// "user:password", UTF-8, no control characters, neither part empty.
func parseBasic(b64 string) (string, string, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", "", malformed("Basic credentials are not standard base64")
	}
	s := string(raw)
	if !utf8.ValidString(s) {
		return "", "", malformed("Basic credentials are not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", "", malformed("Basic credentials have control characters")
		}
	}
	user, pass, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", malformed("Basic credentials have no colon")
	}
	if user == "" || pass == "" {
		return "", "", malformed("Basic credentials with empty user or password")
	}
	return user, pass, nil
}

// checkURL refuses credentials in the URL: userinfo, path segments and
// query values that start like one of this package's tokens, and query
// parameters named like credentials.
func checkURL(u *url.URL) error {
	if u == nil {
		return nil
	}
	if u.User != nil {
		return &CredentialInURLError{Param: "userinfo"}
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if hasTokenPrefix(seg) {
			return &CredentialInURLError{Param: "path"}
		}
	}
	if u.RawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(u.RawQuery) // keep what parses; malformed pairs are checked below
	for k, vs := range q {
		if credentialParams[strings.ToLower(k)] {
			return &CredentialInURLError{Param: k}
		}
		for _, v := range vs {
			if hasTokenPrefix(v) {
				return &CredentialInURLError{Param: k}
			}
		}
	}
	// Pairs ParseQuery rejected (bad escapes) are scanned raw.
	for pair := range strings.SplitSeq(u.RawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if credentialParams[strings.ToLower(k)] || hasTokenPrefix(v) {
			return &CredentialInURLError{Param: k}
		}
	}
	return nil
}

// Authenticate checks the request credentials c (X-API-KEY, a session
// bearer token with its bound certificate, or a user secret) and returns the
// principal they prove. Basic credentials and bare certificates are refused
// here: they only create sessions ([Service.CreateSession]).
//
// Unknown, wrong, expired and revoked credentials all return an error
// wrapping [ErrUnauthenticated]; after repeated failures from one address a
// [*RateLimitError] is returned instead, before any lookup. Check the
// principal's roles with [Principal.HasRole] or [Principal.Require].
func (s *Service) Authenticate(ctx context.Context, c Credentials) (Principal, error) {
	const op = "authenticate"
	set := 0
	for _, present := range []bool{!c.APIKey.IsZero(), !c.Bearer.IsZero(), !c.UserSecret.IsZero(), c.BasicUser != "" || !c.BasicPassword.IsZero()} {
		if present {
			set++
		}
	}
	switch {
	case set > 1:
		return Principal{}, opErr(op, "", errWrap(ErrMalformedCredential, "more than one credential"))
	case !c.APIKey.IsZero():
		return s.authenticateAPIKey(ctx, c.APIKey, c.RemoteAddr)
	case !c.Bearer.IsZero():
		return s.authenticateSession(ctx, c)
	case !c.UserSecret.IsZero():
		return s.authenticateUserSecret(ctx, c.UserSecret, c.RemoteAddr)
	case set == 1:
		return Principal{}, opErr(op, "", errWrap(ErrUnauthenticated, "Basic credentials only create sessions"))
	}
	return Principal{}, opErr(op, "", errWrap(ErrUnauthenticated, "no credentials"))
}

// AuthenticateRequest is [Service.Credentials] followed by
// [Service.Authenticate]: the one call a handler makes before checking
// roles. It is safe for concurrent use and allocates little on the session
// path.
func (s *Service) AuthenticateRequest(r *http.Request) (Principal, error) {
	c, err := s.Credentials(r)
	if err != nil {
		return Principal{}, err
	}
	return s.Authenticate(r.Context(), c)
}

// CreateSessionFromRequest creates a session from the request's HTTP Basic
// credentials or, if it has no credential header, its TLS client
// certificate. See [Service.CreateSession].
func (s *Service) CreateSessionFromRequest(r *http.Request) (IssuedSession, error) {
	c, err := s.Credentials(r)
	if err != nil {
		return IssuedSession{}, err
	}
	if !c.APIKey.IsZero() || !c.Bearer.IsZero() || !c.UserSecret.IsZero() {
		return IssuedSession{}, opErr("create session", "", errWrap(ErrUnauthenticated, "sessions are created with Basic credentials or a client certificate"))
	}
	return s.CreateSession(r.Context(), c)
}

// ReauthRequest is [Service.Reauth] with the request's bearer token and
// client certificate.
func (s *Service) ReauthRequest(r *http.Request) (IssuedSession, error) {
	c, err := s.Credentials(r)
	if err != nil {
		return IssuedSession{}, err
	}
	return s.Reauth(r.Context(), c)
}
