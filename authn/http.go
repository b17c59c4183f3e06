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

// ContainsToken reports whether s contains something shaped like one of
// this package's tokens: a prefix ("cpk_", "cps_", "cpu_", "cpr_") followed
// by at least 8 base62 digits. It does not check the checksum, so that a
// truncated or mistyped credential is caught too. The server uses it to
// keep credentials out of URLs and logs. It allocates nothing.
func ContainsToken(s string) bool {
	i, _ := nextToken(s)
	return i >= 0
}

// RedactTokens returns s with every token-shaped run (see [ContainsToken])
// replaced by "[REDACTED]": what a log may record of a string a caller
// supplied. It returns s itself, without allocating, when there is none.
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

// nextToken returns the start and length of the first token-shaped run in
// s, or -1.
func nextToken(s string) (int, int) {
	for i := 0; i+tokenPrefixLen+minTokenTail <= len(s); i++ {
		if s[i] != 'c' || s[i+1] != 'p' || s[i+3] != '_' {
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
