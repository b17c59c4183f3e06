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
// Authorization header (Bearer with a session token or a JWT, Basic, or a
// bare user secret), the verified TLS client certificate, and the client
// address (Config.ClientAddr).
//
// It refuses, with an error wrapping [ErrMalformedCredential]: more than one
// credential header or value (except X-API-KEY beside a Bearer JWT),
// values longer than [MaxAuthHeaderLen], non-ASCII or control bytes,
// unknown schemes, bad base64, Basic without a colon, a bearer value that
// is neither a session token nor shaped like a JWT, and tokens whose
// prefix, length or checksum is wrong (these are never looked up). It
// refuses any credential in the URL with a [*CredentialInURLError]. No
// credential at all is not an error. Both errors also match
// [ErrUnauthenticated].
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
	nAuthz, nKey := 0, 0
	for name, vals := range h {
		switch {
		case strings.EqualFold(name, "Authorization"):
			nAuthz += len(vals)
			if len(vals) == 1 {
				authz = vals[0]
			}
		case strings.EqualFold(name, APIKeyHeader):
			nKey += len(vals)
			if len(vals) == 1 {
				apiKey = vals[0]
			}
		default:
			continue
		}
		if nAuthz > 1 || nKey > 1 {
			return Credentials{}, malformed("more than one credential header")
		}
	}
	var c Credentials
	if nKey == 1 {
		if apiKey == "" {
			return Credentials{}, malformed("empty credential header")
		}
		if err := checkHeaderValue(apiKey); err != nil {
			return Credentials{}, err
		}
		if !wellFormed(TokenAPIKey, apiKey) {
			return Credentials{}, malformed("X-API-KEY is not an API key")
		}
		c.APIKey = Secret{v: apiKey}
	}
	if nAuthz == 0 {
		return c, nil
	}
	if authz == "" {
		return Credentials{}, malformed("empty credential header")
	}
	a, err := parseAuthorization(authz)
	if err != nil {
		return Credentials{}, err
	}
	if nKey == 1 {
		// The one pair that may come together: an application's API key
		// and a JWT, both of which must hold.
		if a.JWT.IsZero() {
			return Credentials{}, malformed("more than one credential header")
		}
		a.APIKey = c.APIKey
	}
	return a, nil
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
		switch {
		case wellFormed(TokenSession, rest):
			return Credentials{Bearer: Secret{v: rest}}, nil
		case jwtShaped(rest):
			return Credentials{JWT: Secret{v: rest}}, nil
		}
		return Credentials{}, malformed("bearer token is neither a session token nor a JWT")
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

// checkURL refuses credentials in the URL: userinfo; query parameters
// named like credentials, however they are separated ('&' or ';') or
// encoded; and a token-shaped value (see [ContainsToken]) anywhere in the
// path, query or fragment, once every layer of percent-encoding and '+' is
// undone. The error names the parameter, "path", "query" or "fragment",
// never the value.
func checkURL(u *url.URL) error {
	if u == nil {
		return nil
	}
	if u.User != nil {
		return &CredentialInURLError{Param: "userinfo"}
	}
	if tokenInAnyDecoding(u.Opaque + u.EscapedPath()) {
		return &CredentialInURLError{Param: "path"}
	}
	if u.RawQuery != "" {
		for pair := range strings.FieldsFuncSeq(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
			rawName, rawValue, _ := strings.Cut(pair, "=")
			name := unescapeAll(rawName)
			if credentialParams[strings.ToLower(strings.TrimSpace(name))] || tokenInAnyDecoding(rawName) || tokenInAnyDecoding(rawValue) {
				return &CredentialInURLError{Param: paramName(name)}
			}
		}
		if tokenInAnyDecoding(u.RawQuery) {
			return &CredentialInURLError{Param: "query"}
		}
	}
	if tokenInAnyDecoding(u.EscapedFragment()) {
		return &CredentialInURLError{Param: "fragment"}
	}
	return nil
}

// tokenInAnyDecoding reports whether s, or any layer of its
// percent-decoding, contains a token-shaped value: a decoding can hide
// what the raw form shows ("%0cpk_…" decodes to a form feed and "pk_…").
func tokenInAnyDecoding(s string) bool {
	for range maxUnescapeRounds + 1 {
		if ContainsToken(s) {
			return true
		}
		next := unescapeLenient(s)
		if next == s {
			return false
		}
		s = next
	}
	return ContainsToken(s)
}

// paramName is what a CredentialInURLError may say about a parameter: its
// name, unless the name itself looks like a token or is unreadable.
func paramName(name string) string {
	if tokenInAnyDecoding(name) || len(name) > 64 || !isPrintableASCII(name) {
		return "query"
	}
	return name
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// maxUnescapeRounds bounds how many layers of percent-encoding are undone;
// each round only shortens the string, so the work is linear.
const maxUnescapeRounds = 4

// unescapeAll undoes percent-encoding (leniently: a malformed escape stays
// as it is) and '+', again and again until nothing changes.
func unescapeAll(s string) string {
	for range maxUnescapeRounds {
		next := unescapeLenient(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func unescapeLenient(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// minTokenTail is how many base62 digits after a token prefix make a value
// token-shaped. Real tokens have 38 or 60; a truncated or mistyped one is
// still a credential someone meant to keep out of logs.
const minTokenTail = 8

// ContainsToken reports whether s contains something shaped like a
// credential: one of this package's tokens (a prefix "cpk_", "cps_", "cpu_"
// or "cpr_" followed by at least 8 base62 digits), or a JWT ("eyJ" and at
// least 8 more base64url characters, a dot, at least 8 base64url
// characters). It does not check a checksum or signature, so that a
// truncated or mistyped credential is caught too. The server uses it to
// keep credentials out of URLs and logs. It allocates nothing.
func ContainsToken(s string) bool {
	i, _ := nextToken(s)
	return i >= 0
}

// RedactTokens returns s with every credential-shaped run (see
// [ContainsToken]) replaced by "[REDACTED]": what a log may record of a
// string a caller supplied. It returns s itself, without allocating, when
// there is none.
func RedactTokens(s string) string {
	i, n := nextToken(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(s[:i])
		b.WriteString(redacted)
		s = s[i+n:]
		i, n = nextToken(s)
	}
	b.WriteString(s)
	return b.String()
}

// nextToken returns the start and length of the first credential-shaped
// run in s, or -1.
func nextToken(s string) (int, int) {
	for i := 0; i+minJWTLen <= len(s) || i+tokenPrefixLen+minTokenTail <= len(s); i++ {
		if s[i] == 'e' {
			if n := jwtRunAt(s[i:]); n > 0 {
				return i, n
			}
			continue
		}
		if i+tokenPrefixLen+minTokenTail > len(s) || s[i] != 'c' || s[i+1] != 'p' || s[i+3] != '_' {
			continue
		}
		switch s[i+2] {
		case 'k', 's', 'u', 'r':
		default:
			continue
		}
		j := i + tokenPrefixLen
		for j < len(s) && base62Digit(s[j]) >= 0 {
			j++
		}
		if j-i-tokenPrefixLen >= minTokenTail {
			return i, j - i
		}
	}
	return -1, 0
}

// minJWTLen is the shortest run jwtRunAt accepts: "eyJ", 8, ".", 8.
const minJWTLen = 3 + minTokenTail + 1 + minTokenTail

// jwtRunAt returns the length of the JWT-shaped run at the start of s, or
// 0: "eyJ" (base64url of '{"') and at least 8 more base64url characters, a
// dot, at least 8 base64url characters, and, if a dot follows, the
// base64url run after it.
func jwtRunAt(s string) int {
	if len(s) < minJWTLen || s[0] != 'e' || s[1] != 'y' || s[2] != 'J' {
		return 0
	}
	j := 3 + base64urlRun(s[3:])
	if j-3 < minTokenTail || j >= len(s) || s[j] != '.' {
		return 0
	}
	n := base64urlRun(s[j+1:])
	if n < minTokenTail {
		return 0
	}
	j += 1 + n
	if j < len(s) && s[j] == '.' {
		j += 1 + base64urlRun(s[j+1:])
	}
	return j
}

// base64urlRun returns the length of the run of base64url characters at
// the start of s. A table, not comparisons: it runs over every byte of
// every JWT on the request path.
func base64urlRun(s string) int {
	for i := 0; i < len(s); i++ {
		if !isBase64url[s[i]] {
			return i
		}
	}
	return len(s)
}

var isBase64url = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// jwtShaped reports whether a bearer value has the form of a compact JWS:
// three dot-separated runs of base64url, the first two not empty. It is
// the only check before the value reaches the JWT verifier, which parses
// it (and bounds its size first).
func jwtShaped(v string) bool {
	header, rest, ok := strings.Cut(v, ".")
	if !ok || header == "" || base64urlRun(header) != len(header) {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	return ok && payload != "" && base64urlRun(payload) == len(payload) && base64urlRun(sig) == len(sig)
}

// Authenticate checks the request credentials c (X-API-KEY, a session
// bearer token with its bound certificate, a user secret, or a JWT) and
// returns the principal they prove. Basic credentials and bare
// certificates are refused here: they only create sessions
// ([Service.CreateSession]).
//
// A JWT alone proves a KindExternal principal: the issuer vouches for it,
// its claims give its roles, Config.JWTGroups its groups. An API key and a
// JWT together must both hold: the request acts as the key's principal
// with the roles both grant, and Principal.Subject names the token's
// subject. A client certificate, whatever it comes with, is first checked
// by Config.CertificateStatus.
//
// Unknown, wrong, expired and revoked credentials all return an error
// wrapping [ErrUnauthenticated]; after repeated failures from one address a
// [*RateLimitError] is returned instead, before any lookup. Check the
// principal's roles with [Principal.HasRole] or [Principal.Require].
func (s *Service) Authenticate(ctx context.Context, c Credentials) (Principal, error) {
	const op = "authenticate"
	if err := s.checkCertificate(ctx, op, c); err != nil {
		return Principal{}, err
	}
	set := 0
	for _, present := range []bool{!c.APIKey.IsZero(), !c.Bearer.IsZero(), !c.UserSecret.IsZero(), !c.JWT.IsZero(), c.BasicUser != "" || !c.BasicPassword.IsZero()} {
		if present {
			set++
		}
	}
	switch {
	case set == 2 && !c.APIKey.IsZero() && !c.JWT.IsZero():
		return s.authenticateAPIKeyWithJWT(ctx, c)
	case set > 1:
		return Principal{}, opErr(op, "", errWrap(ErrMalformedCredential, "more than one credential"))
	case !c.APIKey.IsZero():
		return s.authenticateAPIKey(ctx, c.APIKey, c.RemoteAddr)
	case !c.Bearer.IsZero():
		return s.authenticateSession(ctx, c)
	case !c.UserSecret.IsZero():
		return s.authenticateUserSecret(ctx, c.UserSecret, c.RemoteAddr)
	case !c.JWT.IsZero():
		return s.authenticateJWT(ctx, c)
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
	if !c.APIKey.IsZero() || !c.Bearer.IsZero() || !c.UserSecret.IsZero() || !c.JWT.IsZero() {
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
