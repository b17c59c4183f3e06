package fuzz

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

var kinds = []authn.TokenKind{authn.TokenAPIKey, authn.TokenSession, authn.TokenUserSecret, authn.TokenRegistration}

// canonical is an independent statement of the token format: prefix,
// base62 digits, and the base62 CRC-32 (IEEE) of everything before it in six
// digits.
func canonical(k authn.TokenKind, s string) bool {
	if len(s) != k.Len() || !strings.HasPrefix(s, k.Prefix()) {
		return false
	}
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for _, c := range []byte(s[4:]) {
		if strings.IndexByte(digits, c) < 0 {
			return false
		}
	}
	crc := crc32.ChecksumIEEE([]byte(s[:len(s)-6]))
	var want [6]byte
	for i := 5; i >= 0; i-- {
		want[i] = digits[crc%62]
		crc /= 62
	}
	return s[len(s)-6:] == string(want[:])
}

// FuzzParseToken: the parser never panics and accepts exactly the
// canonical tokens of the kind asked for.
func FuzzParseToken(f *testing.F) {
	for _, k := range kinds {
		f.Add(authn.NewToken(k).Reveal())
	}
	f.Add("cpk_")
	f.Add("cpu_" + strings.Repeat("0", 60))
	f.Add("cps_\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		kind := authn.TokenKindOf(s)
		for _, k := range kinds {
			err := authn.ParseToken(k, s)
			if ok := canonical(k, s); ok != (err == nil) {
				t.Fatalf("ParseToken(%v, %q) = %v, but canonical = %v", k, s, err, ok)
			}
			if err != nil && !errors.Is(err, authn.ErrMalformedCredential) {
				t.Fatalf("error %v is not ErrMalformedCredential", err)
			}
			if (err == nil) != (kind == k) {
				t.Fatalf("TokenKindOf = %v disagrees with ParseToken(%v) = %v", kind, k, err)
			}
		}
	})
}

// noStore satisfies authn.Store for a Service whose store is never used:
// parsing credentials touches no store.
type noStore struct{ authn.Store }

func service(f *testing.F) *authn.Service {
	p, err := authn.NewPepperSet(1, map[uint32][]byte{1: bytes.Repeat([]byte{1}, 32)})
	require.NoError(f, err)
	s, err := authn.NewService(authn.Config{Store: noStore{}, Peppers: p, Argon2: authn.Argon2Params{Memory: 8, Time: 1, Threads: 1}})
	require.NoError(f, err)
	return s
}

// checkParsed asserts what any successful parse must satisfy.
func checkParsed(t *testing.T, c authn.Credentials) {
	t.Helper()
	n := 0
	for _, x := range []struct {
		s    authn.Secret
		kind authn.TokenKind
	}{{c.APIKey, authn.TokenAPIKey}, {c.Bearer, authn.TokenSession}, {c.UserSecret, authn.TokenUserSecret}} {
		if x.s.IsZero() {
			continue
		}
		n++
		if err := authn.ParseToken(x.kind, x.s.Reveal()); err != nil {
			t.Fatalf("accepted a malformed %v", x.kind)
		}
	}
	if c.BasicUser != "" || !c.BasicPassword.IsZero() {
		n++
		raw := c.BasicUser + ":" + c.BasicPassword.Reveal()
		if c.BasicUser == "" || c.BasicPassword.IsZero() || strings.Contains(c.BasicUser, ":") || !utf8.ValidString(raw) {
			t.Fatalf("accepted bad Basic credentials for %q", c.BasicUser)
		}
		for _, r := range raw {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("accepted control character %U in Basic credentials", r)
			}
		}
	}
	if !c.JWT.IsZero() {
		n++
		if !jwtShape.MatchString(c.JWT.Reveal()) {
			t.Fatal("accepted a bearer value that is neither a session token nor a compact JWS")
		}
	}
	if n > 1 && (n != 2 || c.APIKey.IsZero() || c.JWT.IsZero()) {
		t.Fatalf("parsed %d credentials", n)
	}
}

// jwtShape is an independent statement of what may reach the JWT verifier:
// three dot-separated base64url runs, the first two not empty.
var jwtShape = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// sampleJWT is shaped like a JWT (an ES256 header, a payload, a signature);
// the parser does not verify it.
const sampleJWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

func request(h http.Header, rawQuery string) *http.Request {
	return &http.Request{Method: http.MethodGet, Header: h, URL: &url.URL{Path: "/", RawQuery: rawQuery}, RemoteAddr: "192.0.2.1:1"}
}

func requireRefusal(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, authn.ErrUnauthenticated) {
		t.Fatalf("error %v does not match ErrUnauthenticated", err)
	}
	if !errors.Is(err, authn.ErrMalformedCredential) && !errors.Is(err, authn.ErrCredentialInURL) {
		t.Fatalf("parse error %v is neither malformed nor credential-in-URL", err)
	}
}

// FuzzAuthorizationHeader: one Authorization value (Bearer, Basic, a bare
// user secret, or anything else).
func FuzzAuthorizationHeader(f *testing.F) {
	s := service(f)
	f.Add("Bearer " + authn.NewToken(authn.TokenSession).Reveal())
	f.Add("bearer   " + authn.NewToken(authn.TokenSession).Reveal())
	f.Add(authn.NewToken(authn.TokenUserSecret).Reveal())
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice@example.com:pa:ss")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("app_1:"+authn.NewToken(authn.TokenAPIKey).Reveal())))
	f.Add("Basic YWxpY2U=")
	f.Add("Basic ====")
	f.Add("Digest x")
	f.Add("Bearer \xff")
	f.Add("Bearer " + sampleJWT)
	f.Add("Bearer eyJ.eyJ.")
	f.Add("Bearer a..b")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := s.Credentials(request(http.Header{"Authorization": {v}}, ""))
		if err != nil {
			requireRefusal(t, err)
			return
		}
		checkParsed(t, c)
		if len(v) > authn.MaxAuthHeaderLen {
			t.Fatal("accepted an oversized header")
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("accepted byte %#x", v[i])
			}
		}
	})
}

// FuzzBasicCredentials: the base64 part of Authorization: Basic.
func FuzzBasicCredentials(f *testing.F) {
	s := service(f)
	for _, raw := range []string{"a:b", ":b", "a:", "a\x00:b", "ü:ß", "a:b:c"} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(raw)))
	}
	f.Add("YTpi")
	f.Fuzz(func(t *testing.T, b64 string) {
		c, err := s.Credentials(request(http.Header{"Authorization": {"Basic " + b64}}, ""))
		if err != nil {
			requireRefusal(t, err)
			return
		}
		checkParsed(t, c)
		raw, derr := base64.StdEncoding.DecodeString(b64)
		if derr != nil || string(raw) != c.BasicUser+":"+c.BasicPassword.Reveal() {
			t.Fatalf("user %q and password do not re-encode to the input", c.BasicUser)
		}
	})
}

// FuzzRequestCredentials: whole header sets and query strings. At most one
// credential comes out, never from more than one header, and nothing that
// looks like a credential in the URL gets through.
func FuzzRequestCredentials(f *testing.F) {
	s := service(f)
	key, tok := authn.NewToken(authn.TokenAPIKey).Reveal(), authn.NewToken(authn.TokenSession).Reveal()
	f.Add(key, "", "", "")
	f.Add("", "Bearer "+tok, "", "")
	f.Add(key, "Bearer "+tok, "", "")
	f.Add("", "Bearer "+tok, "Bearer "+tok, "")
	f.Add("", "", "", "api_key="+key)
	f.Add(key, "", "", "q=1&token=x")
	f.Add(key, "", "", "a=%zz&b="+tok)
	f.Add(key, "Bearer "+sampleJWT, "", "")
	f.Add("", "Bearer "+sampleJWT, "", "q="+sampleJWT)
	f.Fuzz(func(t *testing.T, apiKey, authz1, authz2, rawQuery string) {
		h := http.Header{}
		if apiKey != "" {
			h["X-Api-Key"] = []string{apiKey}
		}
		for _, v := range []string{authz1, authz2} {
			if v != "" {
				h["Authorization"] = append(h["Authorization"], v)
			}
		}
		c, err := s.Credentials(request(h, rawQuery))
		if err != nil {
			requireRefusal(t, err)
			return
		}
		checkParsed(t, c)
		if n := len(h["X-Api-Key"]) + len(h["Authorization"]); n > 1 && (n != 2 || c.APIKey.IsZero() || c.JWT.IsZero()) {
			t.Fatal("accepted more than one credential header, other than an API key beside a JWT")
		}
		q, _ := url.ParseQuery(rawQuery)
		for k, vs := range q {
			switch strings.ToLower(k) {
			case "api_key", "token", "access_token", "secret", "pin", "password", "session":
				t.Fatalf("accepted credential parameter %q", k)
			}
			for _, v := range vs {
				if authn.TokenKindOf(v) != 0 {
					t.Fatalf("accepted a token in parameter %q", k)
				}
			}
		}
		// An independent statement of "token-shaped anywhere, however
		// encoded": a regular expression over every decoding of the query.
		for d, i := rawQuery, 0; i < 4; i++ {
			if tokenShape.MatchString(d) || jwtInURL.MatchString(d) {
				t.Fatalf("accepted a token-shaped value in %q", rawQuery)
			}
			next, err := url.QueryUnescape(d)
			if err != nil || next == d {
				break
			}
			d = next
		}
	})
}

var (
	tokenShape = regexp.MustCompile(`cp[ksur]_[0-9A-Za-z]{8}`)
	jwtInURL   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8}`)
)

// FuzzTokenAnywhereInTheURL puts a real token of each kind into a URL at a
// fuzzed place, separated and encoded in a fuzzed way: it is always refused.
func FuzzTokenAnywhereInTheURL(f *testing.F) {
	s := service(f)
	f.Add("/v1/key/", "a=1;b=", "", uint8(0), uint8(0))
	f.Add("/v1/key", "q=x,", "&z=1", uint8(1), uint8(1))
	f.Add("/v1/", "", "", uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, path, before, after string, kind, enc uint8) {
		tok := authn.NewToken(kinds[int(kind)%len(kinds)]).Reveal()
		switch enc % 4 {
		case 1:
			tok = "%" + strings.ToUpper(hex.EncodeToString([]byte(tok[:1]))) + tok[1:]
		case 2:
			tok = "+" + tok
		case 3:
			tok = strings.ReplaceAll("%"+strings.ToUpper(hex.EncodeToString([]byte(tok[:1])))+tok[1:], "%", "%25")
		}
		u := &url.URL{Path: "/" + strings.TrimPrefix(path, "/"), RawQuery: before + tok + after}
		if kind%2 == 1 {
			u = &url.URL{Path: "/" + strings.TrimPrefix(path, "/") + "/" + tok, RawQuery: before + after}
			if enc%4 == 2 {
				return // '+' is a space only in queries
			}
		}
		r := &http.Request{URL: u, Header: http.Header{}, RemoteAddr: "192.0.2.1:1"}
		if _, err := s.Credentials(r); !errors.Is(err, authn.ErrCredentialInURL) {
			t.Fatalf("accepted %s (%v)", u, err)
		}
	})
}
