package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

// cheapArgon2 keeps tests fast; production uses DefaultArgon2Params.
var cheapArgon2 = authn.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// clock is a fake, settable clock safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	svc     *authn.Service
	store   authn.Store
	clock   *clock
	peppers *authn.PepperSet
	path    string // SQLite file
	cfg     authn.Config
}

func testPeppers(t testing.TB, current uint32, versions ...uint32) *authn.PepperSet {
	t.Helper()
	keys := map[uint32][]byte{}
	for _, v := range versions {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(v) + byte(i) // deterministic: several services share peppers
		}
		keys[v] = k
	}
	p, err := authn.NewPepperSet(current, keys)
	require.NoError(t, err)
	return p
}

// newEnv returns a Service over a fresh SQLite store with a fake clock and
// cheap argon2id. tweak may adjust the config.
func newEnv(t testing.TB, tweak ...func(*authn.Config)) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authn.db")
	st, err := sqlstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, path, tweak...)
}

func newEnvOn(t testing.TB, st authn.Store, path string, tweak ...func(*authn.Config)) *env {
	t.Helper()
	e := &env{store: st, clock: &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}, path: path}
	e.cfg = authn.Config{Store: st, Peppers: testPeppers(t, 1, 1), Clock: e.clock.Now, Argon2: cheapArgon2}
	for _, f := range tweak {
		f(&e.cfg)
	}
	e.peppers = e.cfg.Peppers
	svc, err := authn.NewService(e.cfg)
	require.NoError(t, err)
	e.svc = svc
	return e
}

const password = "correct horse battery staple"

func (e *env) user(t testing.TB, email string, roles ...authn.Role) authn.Account {
	t.Helper()
	a, err := e.svc.CreateUser(ctx, email, authn.NewSecret(password), authn.NewRoleSet(roles...))
	require.NoError(t, err)
	return a
}

func (e *env) app(t testing.TB, roles ...authn.Role) (authn.Account, []authn.IssuedAPIKey) {
	t.Helper()
	a, keys, err := e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "app", Roles: authn.NewRoleSet(roles...), Method: authn.MethodAPIKey})
	require.NoError(t, err)
	require.Len(t, keys, len(roles))
	return a, keys
}

func (e *env) certApp(t testing.TB, cert *x509.Certificate, roles ...authn.Role) authn.Account {
	t.Helper()
	a, keys, err := e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "cert app", Roles: authn.NewRoleSet(roles...),
		Method: authn.MethodCertificate, Certificate: cert})
	require.NoError(t, err)
	require.Empty(t, keys)
	return a
}

// admin returns an authenticated admin user principal.
func (e *env) admin(t testing.TB) authn.Principal {
	t.Helper()
	u := e.user(t, "admin-"+randomHex(4)+"@example.com", authn.RoleAdmin)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	p, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
	require.NoError(t, err)
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const hex = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, c := range b {
		out[2*i], out[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(out)
}

func newCert(t testing.TB) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "client " + randomHex(4)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// noRateLimit is for tests that fail on purpose more often than the
// limiter allows.
func noRateLimit(c *authn.Config) { c.RateLimit.Disabled = true }

// request builds a request from 192.0.2.1 with the given header lines.
func request(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://kms.example/v1/keys", nil)
	r.RemoteAddr = "192.0.2.1:4711"
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func withCert(r *http.Request, cert *x509.Certificate) *http.Request {
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
	return r
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func bearer(s authn.Secret) string { return "Bearer " + s.Reveal() }

func mlkem768(t testing.TB) *mlkem.DecapsulationKey768 {
	dk, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	return dk
}
