// Package refservertest runs a reference server in the test process: an
// httptest TLS server (TLS 1.3, HTTP/2) over refserver.New, with a fresh
// SQLite authn store under the test's temporary directory, cheap password
// hashing, and an administrator already logged in.
//
// Start with Start; make principals with Instance.User and
// Instance.Application; talk to the server with Instance.Client.
package refservertest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software" // the default backend
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/client"
)

// Options tune Start. The zero value is a software: memory backend and a
// SQLite store.
type Options struct {
	// BackendURI is the backend to serve; default "software:".
	BackendURI string
	// PostgresDSN, if set, is used as the authn store instead of SQLite.
	PostgresDSN string
	// RateLimit configures authn's throttling; default disabled, so that
	// tests refusing many credentials on purpose are not slowed down.
	RateLimit *authn.RateLimitConfig
	// Audit receives the audit log; default discarded.
	Audit *slog.Logger
	// AuthLog receives authn's log (refused authentications); default
	// discarded.
	AuthLog *slog.Logger
	// Clock is authn's clock; default time.Now.
	Clock func() time.Time
	// RecoveryPublicKey enables client backups.
	RecoveryPublicKey any
	// ClientCertificates makes the server ask for client certificates
	// (tls.VerifyClientCertIfGiven, as the refserver's client_ca setting
	// does) issued by a private CA of the instance; see
	// [Instance.CertificateApplication].
	ClientCertificates bool
	// ClientCAs are more CAs whose client certificates the server accepts
	// (with ClientCertificates), such as an ocsptest PKI's.
	ClientCAs []*x509.Certificate
	// JWTIssuers are trusted for bearer JWTs: Start builds their verifier
	// over the instance's store (which records single-use tokens).
	// JWTGroups and CertificateStatus are authn's (see authn.Config).
	JWTIssuers        []jwtauth.Issuer
	JWTGroups         map[string][]string
	CertificateStatus authn.CertificateChecker
}

// Instance is a running in-process server.
type Instance struct {
	URL     string // https://127.0.0.1:port
	CAFile  string // the server certificate as PEM, for ca-file=
	Auth    *authn.Service
	Backend backend.Backend
	Server  *refserver.Server
	// Admin is a client logged in as an administrator (a user holding
	// admin).
	Admin   *client.Client
	AdminID string

	dir  string
	base *client.Client
	n    atomic.Int64
	ca   *clientCA    // with Options.ClientCertificates
	cfg  authn.Config // to restart with
	opts Options
}

// Password is the password of every user Instance.User creates.
const Password = "correct horse battery staple"

// Start runs a server until tb ends.
func Start(tb testing.TB, o Options) *Instance {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	var (
		store *sqlstore.Store
		err   error
	)
	if o.PostgresDSN != "" {
		store, err = sqlstore.OpenPostgres(ctx, o.PostgresDSN)
	} else {
		store, err = sqlstore.OpenSQLite(ctx, filepath.Join(dir, "authn.db"))
	}
	must(tb, err)
	tb.Cleanup(func() { store.Close() })
	pep := make([]byte, 32)
	rand.Read(pep)
	peppers, err := authn.ParsePeppers("1:" + base64.StdEncoding.EncodeToString(pep))
	must(tb, err)
	rl := authn.RateLimitConfig{Disabled: true}
	if o.RateLimit != nil {
		rl = *o.RateLimit
	}
	cfg := authn.Config{Store: store, Peppers: peppers, Argon2: authn.Argon2Params{Memory: 64, Time: 1, Threads: 1},
		SessionIdleTimeout: time.Hour, SessionLifetime: 4 * time.Hour, RateLimit: rl, Logger: o.AuthLog, Clock: o.Clock}
	if o.RecoveryPublicKey != nil {
		cfg.RecoveryPublicKey = o.RecoveryPublicKey
	}
	cfg.JWTGroups, cfg.CertificateStatus = o.JWTGroups, o.CertificateStatus
	if len(o.JWTIssuers) > 0 {
		v, err := jwtauth.New(jwtauth.Config{Issuers: o.JWTIssuers, RoleNames: authn.RoleNames(), ReplayStore: store, Clock: o.Clock})
		must(tb, err)
		tb.Cleanup(func() { v.Close() })
		cfg.JWT = v
	}
	svc, err := authn.NewService(cfg)
	must(tb, err)
	uri := o.BackendURI
	if uri == "" {
		uri = "software:"
	}
	b, err := backend.Open(ctx, uri)
	must(tb, err)
	tb.Cleanup(func() { b.Close() })
	srv, err := refserver.New(refserver.Options{Backend: b, Auth: svc, Audit: o.Audit})
	must(tb, err)
	hs := httptest.NewUnstartedServer(srv)
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	var ca *clientCA
	if o.ClientCertificates {
		ca = newClientCA(tb)
		for _, c := range o.ClientCAs {
			ca.pool.AddCert(c)
		}
		hs.TLS.ClientCAs, hs.TLS.ClientAuth = ca.pool, tls.VerifyClientCertIfGiven
	}
	hs.StartTLS()
	tb.Cleanup(hs.Close)
	caFile := filepath.Join(dir, "server-ca.pem")
	must(tb, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600))
	base, err := client.New(hs.URL, client.WithCAFile(caFile))
	must(tb, err)
	in := &Instance{URL: hs.URL, CAFile: caFile, Auth: svc, Backend: b, Server: srv, dir: dir, base: base, ca: ca, cfg: cfg, opts: o}
	admin, err := svc.CreateUser(ctx, "admin@example.test", authn.NewSecret(Password), authn.NewRoleSet(authn.RoleAdmin))
	must(tb, err)
	in.AdminID = admin.ID
	sess, err := base.Login(ctx, admin.Email, Password)
	must(tb, err)
	in.Admin = base.WithCredential(client.Bearer(sess.AccessToken))
	return in
}

// Restart returns what a restarted server would be: a new authn Service
// (fresh rate-limit counts, no cache) over a new connection to the same
// store, and a new Server over it and the same backend, to be driven with
// ServeHTTP. The running instance is left as it is.
func (in *Instance) Restart(tb testing.TB) (*authn.Service, *refserver.Server) {
	tb.Helper()
	ctx := context.Background()
	var (
		store *sqlstore.Store
		err   error
	)
	if in.opts.PostgresDSN != "" {
		store, err = sqlstore.OpenPostgres(ctx, in.opts.PostgresDSN)
	} else {
		store, err = sqlstore.OpenSQLite(ctx, filepath.Join(in.dir, "authn.db"))
	}
	must(tb, err)
	tb.Cleanup(func() { store.Close() })
	cfg := in.cfg
	cfg.Store = store
	svc, err := authn.NewService(cfg)
	must(tb, err)
	srv, err := refserver.New(refserver.Options{Backend: in.Backend, Auth: svc, Audit: in.opts.Audit})
	must(tb, err)
	return svc, srv
}

// Client returns a client sending cred (none if zero).
func (in *Instance) Client(cred client.Credential) *client.Client {
	return in.base.WithCredential(cred)
}

// User creates a user holding roles and returns its ID and a session token.
func (in *Instance) User(tb testing.TB, roles ...authn.Role) (id, session string) {
	tb.Helper()
	ctx := context.Background()
	email := "user" + itoa(in.n.Add(1)) + "@example.test"
	a, err := in.Auth.CreateUser(ctx, email, authn.NewSecret(Password), authn.NewRoleSet(roles...))
	must(tb, err)
	s, err := in.base.Login(ctx, email, Password)
	must(tb, err)
	return a.ID, s.AccessToken
}

// Application creates an application using API keys for roles and returns
// its ID and one key per role.
func (in *Instance) Application(tb testing.TB, roles ...authn.Role) (id string, keys map[authn.Role]string) {
	tb.Helper()
	a, issued, err := in.Auth.CreateApplication(context.Background(), authn.ApplicationSpec{
		Name: "app" + itoa(in.n.Add(1)), Roles: authn.NewRoleSet(roles...), Method: authn.MethodAPIKey})
	must(tb, err)
	keys = map[authn.Role]string{}
	for _, k := range issued {
		keys[k.Role] = k.Key.Reveal()
	}
	return a.ID, keys
}

// WriteSecret writes s to a new 0600 file under the instance's directory
// and returns its path, for the remote backend's *-source=file: attributes.
func (in *Instance) WriteSecret(tb testing.TB, s string) string {
	tb.Helper()
	p := filepath.Join(in.dir, "secret-"+itoa(in.n.Add(1)))
	must(tb, os.WriteFile(p, []byte(s+"\n"), 0o600))
	return p
}

// RemoteURI returns a remote backend URI for this server with a session of
// a new user holding keyManagement and keyOperation.
func (in *Instance) RemoteURI(tb testing.TB) string {
	_, sess := in.User(tb, authn.RoleKeyManagement, authn.RoleKeyOperation)
	return "remote:" + in.URL + "?session-source=file:" + in.WriteSecret(tb, sess) + "&ca-file=" + in.CAFile
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
