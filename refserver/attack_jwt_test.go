package refserver_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// The JWT and OCSP part of the attack catalogue: every way a token or a
// client certificate must fail, as attack -> answer -> the reason the
// server logs. Every answer is 401 "unauthenticated": the reason goes to
// the log, never into the answer. Afterwards no token appears in any log
// line or error body.

// jwtArsenal is what the attacks are made of.
type jwtArsenal struct {
	idp          *idp
	attacker     *ecdsa.PrivateKey
	certA, certB *x509.Certificate // self-signed: outside OCSP, so only the binding decides
	replayed     string            // a single-use token, used once before its attack
	apiKey       string            // an application's valid API key (all roles)
}

var jwtAttacks = []struct {
	name   string
	token  func(t *testing.T, a *jwtArsenal) string
	cert   func(a *jwtArsenal) *x509.Certificate
	apiKey string // "valid" or "unknown": an X-API-KEY beside the token
	reason string // in the server log
}{
	{name: "expired", reason: "token expired", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})
	}},
	{name: "not yet valid", reason: "token not yet valid", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})
	}},
	{name: "issued in the future", reason: "token not yet valid", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"iat": time.Now().Add(time.Hour).Unix()})
	}},
	{name: "no expiry", reason: "missing or invalid claim", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"exp": nil})
	}},
	{name: "valid for longer than the issuer allows", reason: "token lifetime too long", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"exp": time.Now().Add(30 * time.Hour).Unix()})
	}},
	{name: "wrong issuer", reason: "wrong issuer", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"iss": "https://evil.example.test"})
	}},
	{name: "wrong audience", reason: "wrong audience", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"aud": "another-service"})
	}},
	{name: "unknown kid", reason: "unknown key ID", token: func(t *testing.T, a *jwtArsenal) string {
		return forgeWith(t, jose.ES256, a.attacker, "kid-nobody-published")
	}},
	{name: "no kid", reason: "unknown key ID", token: func(t *testing.T, a *jwtArsenal) string { return forgeWith(t, jose.ES256, a.attacker, "") }},
	{name: "alg none", reason: "algorithm not allowed", token: func(t *testing.T, a *jwtArsenal) string {
		return encodeJWS(`{"alg":"none","kid":"`+a.idp.kid+`"}`, forgedClaims(), nil)
	}},
	{name: "HS256 keyed with the issuer's public key", reason: "algorithm not allowed", token: func(t *testing.T, a *jwtArsenal) string {
		return forgeWith(t, jose.HS256, []byte(a.idp.key.Public().(ed25519.PublicKey)), a.idp.kid)
	}},
	{name: "ES256 under the issuer's Ed25519 kid", reason: "algorithm does not fit the key", token: func(t *testing.T, a *jwtArsenal) string {
		return forgeWith(t, jose.ES256, a.attacker, a.idp.kid)
	}},
	{name: "a signature the issuer did not make", reason: "bad signature", token: func(t *testing.T, a *jwtArsenal) string {
		return encodeJWS(`{"alg":"EdDSA","kid":"`+a.idp.kid+`"}`, forgedClaims(), make([]byte, ed25519.SignatureSize))
	}},
	{name: "payload swapped after signing", reason: "bad signature", token: func(t *testing.T, a *jwtArsenal) string {
		honest := strings.Split(a.idp.token(t, []authn.Role{authn.RoleService}, nil), ".")
		evil := strings.Split(a.idp.token(t, allRoles, map[string]any{"sub": "mallory"}), ".")
		return honest[0] + "." + evil[1] + "." + honest[2]
	}},
	{name: "no role claim", reason: "no role claim", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, nil, map[string]any{"roles": nil})
	}},
	{name: "only roles the server does not know", reason: "no role claim", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, nil, map[string]any{"roles": []string{"root", "superuser"}})
	}},
	{name: "no subject", reason: "missing or invalid claim", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"sub": nil})
	}},
	{name: "subject forging a log line", reason: "missing or invalid claim", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"sub": "alice\n{\"msg\":\"request\",\"outcome\":\"ok\"}"})
	}},
	{name: "single-use token replayed", reason: "token ID replayed", token: func(t *testing.T, a *jwtArsenal) string { return a.replayed }},
	{name: "single-use issuer, token without jti", reason: "missing or invalid claim", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"iss": onceIssuer})
	}},
	{name: "certificate-bound, presented without a certificate", reason: "certificate binding mismatch", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"cnf": boundTo(a.certA)})
	}},
	{name: "certificate-bound, presented over another certificate", reason: "certificate binding mismatch", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"cnf": boundTo(a.certA)})
	}, cert: func(a *jwtArsenal) *x509.Certificate { return a.certB }},
	{name: "bound by key thumbprint (DPoP), not supported", reason: "certificate binding mismatch", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"cnf": map[string]string{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})
	}, cert: func(a *jwtArsenal) *x509.Certificate { return a.certA }},
	{name: "valid API key beside a forged JWT", apiKey: "valid", reason: "algorithm does not fit the key", token: func(t *testing.T, a *jwtArsenal) string {
		return forgeWith(t, jose.ES256, a.attacker, a.idp.kid)
	}},
	{name: "unknown API key beside a valid JWT", apiKey: "unknown", reason: "unknown key", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, nil)
	}},
	{name: "JWS JSON serialization", reason: "neither a session token nor a JWT", token: func(t *testing.T, a *jwtArsenal) string {
		return `{"payload":"e30","protected":"eyJhbGciOiJFZERTQSJ9","signature":"AAAA"}`
	}},
	{name: "four segments", reason: "neither a session token nor a JWT", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, nil) + ".AAAA"
	}},
	{name: "larger than the header limit", reason: "credential header too long", token: func(t *testing.T, a *jwtArsenal) string {
		return a.idp.token(t, allRoles, map[string]any{"pad": strings.Repeat("x", authn.MaxAuthHeaderLen)})
	}},
}

const onceIssuer = "https://once.example.test"

var allRoles = authn.AllRoles

func forgedClaims() string {
	now := time.Now()
	return `{"iss":"` + idpIssuer + `","aud":"` + idpAudience + `","sub":"mallory","roles":["admin","keyOperation"],"iat":` +
		itoa(int(now.Unix())) + `,"exp":` + itoa(int(now.Add(time.Minute).Unix())) + `}`
}

func encodeJWS(header, payload string, sig []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc(sig)
}

// forgeWith signs claims the issuer never made with key, under kid.
func forgeWith(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string) string {
	o := &jose.SignerOptions{}
	if kid != "" {
		o = o.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, o)
	require.NoError(t, err)
	now := time.Now()
	tok, err := jwt.Signed(sig).Claims(map[string]any{"iss": idpIssuer, "aud": idpAudience, "sub": "mallory",
		"roles": []string{"admin", "keyOperation"}, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}).Serialize()
	require.NoError(t, err)
	return tok
}

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// overCertificate makes r arrive over a TLS connection that presented cert.
func overCertificate(r *http.Request, cert *x509.Certificate) *http.Request {
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
	return r
}

func TestJWTAndOCSPAttackCatalogue(t *testing.T) {
	i := newIDP(t)
	pki := ocsptest.NewPKI(t, "catalogue-ca")
	rogue := ocsptest.NewPKI(t, "rogue-signer-ca")
	noEKUCert, noEKUKey, _ := rogue.IssueResponder(t, "no eku", true)
	good, revoked, revokedLater := pki.Issue(t, "good", ""), pki.Issue(t, "revoked", ""), pki.Issue(t, "revoked later", "")
	unknown, roguelySigned := pki.IssueUnlisted(t, "unknown", ""), rogue.Issue(t, "rogue", "")
	pki.Revoke(t, revoked)
	resp := pki.StartResponder(t, ocsptest.ResponderOptions{})
	rogueResp := rogue.StartResponder(t, ocsptest.ResponderOptions{SignerCert: noEKUCert, SignerKey: noEKUKey})
	checker, err := ocspcheck.New(ocspcheck.Config{
		CAs: []ocspcheck.CA{{Certificate: pki.CA, ResponderURL: resp.URL()}, {Certificate: rogue.CA, ResponderURL: rogueResp.URL()}},
		// Every request asks the responder again, so that a revocation
		// shows at once.
		HTTPClient: ocsptest.HTTPClient(resp, rogueResp), MaxCacheAge: time.Nanosecond, RetryAfter: time.Nanosecond,
	})
	require.NoError(t, err)
	h := newHarness(t, refservertest.Options{
		JWTIssuers: []jwtauth.Issuer{
			// ES256 is allowed too (no key uses it), so that a token
			// claiming it under the Ed25519 key shows the confusion check.
			i.issuer(func(is *jwtauth.Issuer) { is.Algorithms = []string{jwtauth.EdDSA, jwtauth.ES256} }),
			i.issuer(func(is *jwtauth.Issuer) { is.Name, is.Issuer, is.RequireTokenID = "once", onceIssuer, true }),
		},
		CertificateStatus: checker,
	})
	w := h.w
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, keys := w.in.Application(t, authn.AllRoles...)
	a := &jwtArsenal{idp: i, attacker: attacker, certA: selfSigned(t, "a"), certB: selfSigned(t, "b"),
		apiKey: h.secret("application API key", keys[authn.RoleKeyOperation])}
	rt := routeByPattern("GET /v1/capabilities")

	// serve sends one request and returns the answer and what the server
	// logged meanwhile.
	serve := func(t *testing.T, r *http.Request) (int, string) {
		before := len(h.log.String())
		rec := h.send(t, r)
		return rec.Code, h.log.String()[before:]
	}
	get := func(t *testing.T, header ...string) *http.Request {
		r := h.request(t, rt, call{}, rt.Path, nil, "-")
		r.Header.Del("Authorization")
		for n := 0; n+1 < len(header); n += 2 {
			r.Header.Set(header[n], header[n+1])
		}
		return r
	}

	t.Run("the honest requests pass", func(t *testing.T) {
		ok := h.secret("valid JWT", i.token(t, allRoles, nil))
		status, logged := serve(t, get(t, "Authorization", "Bearer "+ok))
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, logged, `"subject":"idp:alice"`, "the audit log names the token's subject")
		status, _ = serve(t, get(t, "Authorization", "Bearer "+ok, "X-API-KEY", a.apiKey))
		require.Equal(t, http.StatusOK, status)
		bound := h.secret("bound JWT", i.token(t, allRoles, map[string]any{"cnf": boundTo(a.certA)}))
		status, _ = serve(t, overCertificate(get(t, "Authorization", "Bearer "+bound), a.certA))
		require.Equal(t, http.StatusOK, status)
		a.replayed = h.secret("single-use JWT", i.token(t, allRoles, map[string]any{"iss": onceIssuer, "jti": "catalogue-1"}))
		status, _ = serve(t, get(t, "Authorization", "Bearer "+a.replayed))
		require.Equal(t, http.StatusOK, status, "its first use")
		status, _ = serve(t, overCertificate(get(t, "X-API-KEY", a.apiKey), good.Cert))
		require.Equal(t, http.StatusOK, status, "a good certificate")
	})

	t.Run("tokens", func(t *testing.T) {
		for _, at := range jwtAttacks {
			tok := h.secret("attack "+at.name, at.token(t, a))
			r := get(t, "Authorization", "Bearer "+tok)
			switch at.apiKey {
			case "valid":
				r.Header.Set("X-API-KEY", a.apiKey)
			case "unknown":
				r.Header.Set("X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal())
			}
			if at.cert != nil {
				overCertificate(r, at.cert(a))
			}
			before := len(h.log.String())
			rec := h.send(t, r)
			requireAnswer(t, refusedAuth, rec, at.name)
			requireNoReason(t, rec.Body.Bytes(), at.name)
			require.Contains(t, h.log.String()[before:], at.reason, "%s: the log says why", at.name)
		}
	})

	// A certificate session, made while its certificate was good.
	sessCert := revokedLater.Cert
	_, _, err = w.in.Auth.CreateApplication(t.Context(), authn.ApplicationSpec{Name: "cert app", Roles: authn.NewRoleSet(authn.RoleKeyOperation),
		Method: authn.MethodCertificate, Certificate: sessCert})
	require.NoError(t, err)
	sessReq := overCertificate(h.request(t, routeByPattern("POST /sys/v1/session/auth"), call{}, "/sys/v1/session/auth", nil, "-"), sessCert)
	sessReq.Header.Del("Authorization")
	rec := h.send(t, sessReq)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	laterSession := h.secret("certificate session", jsonField(t, rec.Body.String(), "access_token"))
	status, _ := serve(t, overCertificate(get(t, "Authorization", "Bearer "+laterSession), sessCert))
	require.Equal(t, http.StatusOK, status)
	pki.Revoke(t, revokedLater)
	resp.Restart(t)

	t.Run("certificates", func(t *testing.T) {
		for _, at := range []struct {
			name, reason string
			cert         *x509.Certificate
			header       []string
		}{
			{"revoked certificate beside a valid API key", "certificate revoked", revoked.Cert, []string{"X-API-KEY", a.apiKey}},
			{"revoked certificate beside a valid JWT", "certificate revoked", revoked.Cert, []string{"Authorization", "Bearer " + i.token(t, allRoles, nil)}},
			{"certificate its responder does not know", "certificate unknown to the responder", unknown.Cert, []string{"X-API-KEY", a.apiKey}},
			{"answer signed by a responder certificate without the OCSP signing EKU", "invalid OCSP response", roguelySigned.Cert, []string{"X-API-KEY", a.apiKey}},
			{"session the certificate made before it was revoked", "certificate revoked", sessCert, []string{"Authorization", "Bearer " + laterSession}},
			{"renewing that session", "certificate revoked", sessCert, []string{"Authorization", "Bearer " + laterSession}},
			{"a new session from the revoked certificate", "certificate revoked", sessCert, nil},
		} {
			target := rt
			if at.name == "renewing that session" {
				target = routeByPattern("POST /sys/v1/session/reauth")
			}
			if at.header == nil {
				target = routeByPattern("POST /sys/v1/session/auth")
			}
			r := overCertificate(h.request(t, target, call{}, target.Path, nil, "-"), at.cert)
			r.Header.Del("Authorization")
			for n := 0; n+1 < len(at.header); n += 2 {
				r.Header.Set(at.header[n], at.header[n+1])
			}
			before := len(h.log.String())
			rec := h.send(t, r)
			requireAnswer(t, refusedAuth, rec, at.name)
			requireNoReason(t, rec.Body.Bytes(), at.name)
			require.Contains(t, h.log.String()[before:], at.reason, "%s: the log says why", at.name)
		}

		// The responder goes away: fail closed.
		resp.Stop()
		before := len(h.log.String())
		requireAnswer(t, refusedAuth, h.send(t, overCertificate(get(t, "X-API-KEY", a.apiKey), good.Cert)), "responder unreachable")
		require.Contains(t, h.log.String()[before:], "OCSP responder unavailable")
	})

	t.Run("a JWT in the URL of every route", func(t *testing.T) {
		tok := h.secret("JWT in URLs", i.token(t, allRoles, nil))
		for _, route := range refserver.Routes() {
			for _, p := range placements {
				rec := h.send(t, h.request(t, route, call{}, p.apply(route.Path, tok), nil, "-"))
				requireAnswer(t, refusedInURL, rec, route.Pattern()+": JWT "+p.name)
			}
		}
	})

	t.Run("a JWT as the HTTP Basic user name", func(t *testing.T) {
		tok := h.secret("JWT as Basic user", i.token(t, allRoles, nil))
		for _, route := range refserver.Routes() {
			if route.Public && route.Pattern() != "POST /sys/v1/session/auth" {
				continue
			}
			r := h.request(t, route, call{}, fixtures[route.Pattern()](t, w).path, nil, "-")
			r.Header.Del("Authorization")
			r.SetBasicAuth(tok, "x")
			requireAnswer(t, refusedAuth, h.send(t, r), route.Pattern()+": JWT as Basic user")
		}
	})

	t.Run("no token in any log or error body", func(t *testing.T) {
		logs, bodies := h.log.String(), h.errorBodies.String()
		for name, v := range h.secrets {
			requireNoSecret(t, logs, name+" in the logs", v)
			requireNoSecret(t, bodies, name+" in an error body", v)
		}
	})
}

func jsonField(t *testing.T, body, field string) string {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	v, _ := m[field].(string)
	require.NotEmpty(t, v, "%s in %s", field, body)
	return v
}

// requireNoReason checks that a refusal tells the client nothing but that
// authentication is required.
func requireNoReason(t *testing.T, body []byte, what string) {
	t.Helper()
	var eb struct {
		Error struct{ Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &eb), what)
	require.Equal(t, "authentication required", eb.Error.Message, what)
}
