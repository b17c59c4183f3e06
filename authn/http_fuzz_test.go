package authn

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkParsed asserts what any successful parse must satisfy: exactly one
// credential, each well formed, none containing bytes the header rules
// forbid.
func checkParsed(t *testing.T, c Credentials) {
	t.Helper()
	n := 0
	if !c.APIKey.IsZero() {
		n++
		if !wellFormed(TokenAPIKey, c.APIKey.v) {
			t.Fatalf("accepted malformed API key %q", c.APIKey.v)
		}
	}
	if !c.Bearer.IsZero() {
		n++
		if !wellFormed(TokenSession, c.Bearer.v) {
			t.Fatalf("accepted malformed session token %q", c.Bearer.v)
		}
	}
	if !c.UserSecret.IsZero() {
		n++
		if !wellFormed(TokenUserSecret, c.UserSecret.v) {
			t.Fatalf("accepted malformed user secret %q", c.UserSecret.v)
		}
	}
	if c.BasicUser != "" || !c.BasicPassword.IsZero() {
		n++
		if c.BasicUser == "" || c.BasicPassword.IsZero() || strings.Contains(c.BasicUser, ":") ||
			!utf8.ValidString(c.BasicUser+c.BasicPassword.v) {
			t.Fatalf("accepted bad Basic credentials %q", c.BasicUser)
		}
	}
	if n > 1 {
		t.Fatalf("parsed %d credentials from one header", n)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("Bearer " + NewToken(TokenSession).Reveal())
	f.Add("bearer   " + NewToken(TokenSession).Reveal())
	f.Add(NewToken(TokenUserSecret).Reveal())
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice@example.com:pa:ss")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("app_1:"+NewToken(TokenAPIKey).Reveal())))
	f.Add("Basic YWxpY2U=")
	f.Add("Basic ====")
	f.Add("Digest x")
	f.Add("Bearer \xff")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseAuthorization(v)
		if err != nil {
			if !errors.Is(err, ErrMalformedCredential) || !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not match the sentinels", err)
			}
			return
		}
		checkParsed(t, c)
		if len(v) > MaxAuthHeaderLen {
			t.Fatal("accepted an oversized header")
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("accepted byte %#x", v[i])
			}
		}
	})
}

func FuzzParseBasic(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString([]byte("a:b")))
	f.Add(base64.StdEncoding.EncodeToString([]byte(":b")))
	f.Add(base64.StdEncoding.EncodeToString([]byte("a:")))
	f.Add(base64.StdEncoding.EncodeToString([]byte("a\x00:b")))
	f.Add(base64.StdEncoding.EncodeToString([]byte("ü:ß")))
	f.Add("YTpi")
	f.Fuzz(func(t *testing.T, b64 string) {
		user, pass, err := parseBasic(b64)
		if err != nil {
			if !errors.Is(err, ErrMalformedCredential) {
				t.Fatalf("error %v is not ErrMalformedCredential", err)
			}
			return
		}
		raw, derr := base64.StdEncoding.DecodeString(b64)
		if derr != nil || string(raw) != user+":"+pass {
			t.Fatalf("user %q and password do not re-encode to the input", user)
		}
		if user == "" || pass == "" || strings.Contains(user, ":") || !utf8.ValidString(string(raw)) {
			t.Fatalf("accepted %q", raw)
		}
		for _, r := range string(raw) {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("accepted control character %U", r)
			}
		}
	})
}

// FuzzParseCredentials feeds whole header sets and query strings: at most
// one credential comes out, and nothing that looks like a credential in the
// URL gets through.
func FuzzParseCredentials(f *testing.F) {
	key, tok := NewToken(TokenAPIKey).Reveal(), NewToken(TokenSession).Reveal()
	f.Add(key, "", "", "")
	f.Add("", "Bearer "+tok, "", "")
	f.Add(key, "Bearer "+tok, "", "")
	f.Add("", "Bearer "+tok, "Bearer "+tok, "")
	f.Add("", "", "", "api_key="+key)
	f.Add(key, "", "", "q=1&token=x")
	f.Add(key, "", "", "a=%zz&b="+tok)
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
		u := &url.URL{Path: "/", RawQuery: rawQuery}
		c, err := parseCredentials(h, u)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not match ErrUnauthenticated", err)
			}
			return
		}
		checkParsed(t, c)
		if len(h["X-Api-Key"])+len(h["Authorization"]) > 1 {
			t.Fatal("accepted more than one credential header")
		}
		q, _ := url.ParseQuery(rawQuery)
		for k, vs := range q {
			if credentialParams[strings.ToLower(k)] {
				t.Fatalf("accepted credential parameter %q", k)
			}
			for _, v := range vs {
				if hasTokenPrefix(v) {
					t.Fatalf("accepted token-like value in %q", k)
				}
			}
		}
	})
}
