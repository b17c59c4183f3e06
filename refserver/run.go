package refserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// authnStack is the authn service with what it was built on, closed
// together.
type authnStack struct {
	svc   *authn.Service
	store *sqlstore.Store
	jwt   *jwtauth.Verifier // nil without jwt_issuers
}

// Close stops the verifier's background refreshes and closes the store.
func (a *authnStack) Close() error {
	if a.jwt != nil {
		a.jwt.Close()
	}
	return a.store.Close()
}

// openAuthn opens the configured authn store and service, with the JWT
// verifier of c's issuers (recording single-use tokens in the store) and
// the OCSP checker of c's client CAs.
func openAuthn(ctx context.Context, c *Config, logger *slog.Logger) (*authnStack, error) {
	var (
		store *sqlstore.Store
		err   error
	)
	opts := []sqlstore.Option{sqlstore.WithCacheMaxStale(time.Duration(c.CacheMaxStale))}
	if logger != nil {
		opts = append(opts, sqlstore.WithLogger(logger))
	}
	if c.postgres() {
		store, err = sqlstore.OpenPostgres(ctx, c.AuthnStore, opts...)
	} else {
		store, err = sqlstore.OpenSQLite(ctx, c.AuthnStore, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("open authn store: %w", err)
	}
	stack := &authnStack{store: store}
	fail := func(err error) (*authnStack, error) {
		stack.Close()
		return nil, err
	}
	peppers, err := c.loadPeppers(ctx)
	if err != nil {
		return fail(fmt.Errorf("load peppers: %w", err))
	}
	cfg := authn.Config{Store: store, Peppers: peppers, Logger: logger,
		SessionIdleTimeout: time.Duration(c.SessionIdleTimeout), SessionLifetime: time.Duration(c.SessionLifetime)}
	cfg.RateLimit.FreeFailures = c.RateLimitFreeFailures
	// Counted in the store: every instance on the database counts together,
	// and a restart resets nothing.
	cfg.RateLimit.Shared = true
	cfg.Approvals = authn.ApprovalConfig{TTL: time.Duration(c.ApprovalTTL), CollectWindow: time.Duration(c.ApprovalCollectWindow)}
	if proxies, err := c.trustedProxies(); err != nil {
		return fail(err)
	} else if len(proxies) > 0 {
		cfg.ClientAddr = authn.ForwardedClientAddr(proxies)
	}
	if c.Argon2MemoryKiB > 0 {
		cfg.Argon2 = authn.Argon2Params{Memory: c.Argon2MemoryKiB, Time: 1, Threads: 1}
	}
	if c.RecoveryKey != "" {
		b, err := os.ReadFile(c.RecoveryKey)
		if err != nil {
			return fail(fmt.Errorf("read recovery key: %w", err))
		}
		if cfg.RecoveryPublicKey, err = wire.ParsePublicKey(string(b)); err != nil {
			return fail(fmt.Errorf("recovery key %s: %w", c.RecoveryKey, err))
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if stack.jwt, cfg.JWTGroups, err = c.jwtVerifier(store, logger); err != nil {
		return fail(err)
	}
	cfg.JWT = stack.jwt
	checker, err := c.ocspChecker(logger)
	if err != nil {
		return fail(err)
	}
	if checker != nil {
		cfg.CertificateStatus = checker
	}
	if stack.svc, err = authn.NewService(cfg); err != nil {
		return fail(err)
	}
	return stack, nil
}

// InitOptions say how [Init] creates the first administrator.
type InitOptions struct {
	// AdminEmail is the administrator's login; default "admin@localhost".
	AdminEmail string
	// CredentialFile, if set, receives the administrator's e-mail and
	// password (mode 0600, created anew); otherwise they are written to Out
	// once.
	CredentialFile string
	// Out receives the credential when CredentialFile is empty, and a
	// summary.
	Out io.Writer
}

// Init prepares c.DataDir for a first start: the directory (0700), a
// random pepper and keystore passphrase in 0600 files, a self-signed TLS
// certificate unless c names one, the authn store, the keystore, and an
// administrator (a user holding role admin) whose random password is shown
// once or written to a 0600 file. It refuses to run on a store that already
// has an administrator. With c.SealTo the pepper, the passphrase, the TLS
// key and the credential file are written sealed to the sealing key
// (generated if missing) as <name>.sealed, and no plaintext secret is
// written at all.
func Init(ctx context.Context, c Config, o InitOptions) error {
	if err := c.Resolve(); err != nil {
		return err
	}
	if o.AdminEmail == "" {
		o.AdminEmail = "admin@localhost"
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return err
	}
	if c.SealTo != "" {
		if _, err := ensureSealKey(ctx, &c); err != nil {
			return err
		}
	}
	randomB64 := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	if !c.secretFileExists(c.PepperFile) && os.Getenv("REFSERVER_PEPPERS") == "" {
		if _, err := c.writeSecretFile(ctx, c.PepperFile, []byte("1:"+randomB64(32)+"\ncurrent=1\n")); err != nil {
			return fmt.Errorf("write pepper: %w", err)
		}
	}
	if passFile := c.keystorePassFile(); !c.secretFileExists(passFile) {
		if _, err := c.writeSecretFile(ctx, passFile, []byte(randomB64(32)+"\n")); err != nil {
			return fmt.Errorf("write keystore passphrase: %w", err)
		}
	}
	if _, err := os.Stat(c.TLSCert); errors.Is(err, os.ErrNotExist) {
		if err := writeSelfSigned(ctx, &c); err != nil {
			return fmt.Errorf("write TLS certificate: %w", err)
		}
	}
	b, err := backend.Open(ctx, c.Backend)
	if err != nil {
		return fmt.Errorf("open backend: %w", err)
	}
	if err := b.Close(); err != nil {
		return err
	}
	stack, err := openAuthn(ctx, &c, nil)
	if err != nil {
		return err
	}
	defer stack.Close()
	svc := stack.svc
	if !c.postgres() {
		// The store holds only hashes, but nobody else needs to read it.
		if err := os.Chmod(c.AuthnStore, 0o600); err != nil {
			return err
		}
	}
	if ok, err := hasAdmin(ctx, svc); err != nil {
		return err
	} else if ok {
		return errors.New("the authn store already has an administrator; nothing to do")
	}
	pw := authn.NewToken(authn.TokenAPIKey).Reveal()[4:] // 38 base62 characters: ~226 bits
	acct, err := svc.CreateUser(ctx, o.AdminEmail, authn.NewSecret(pw), authn.NewRoleSet(authn.RoleAdmin))
	if err != nil {
		return err
	}
	cred := fmt.Sprintf("email=%s\npassword=%s\nid=%s\n", acct.Email, pw, acct.ID)
	if o.CredentialFile != "" {
		written, err := c.writeSecretFile(ctx, o.CredentialFile, []byte(cred))
		if err != nil {
			return fmt.Errorf("write credential file: %w", err)
		}
		fmt.Fprintf(o.Out, "refserver: initialised %s; administrator %s, credential in %s\n", c.DataDir, acct.Email, written)
		if c.SealTo != "" {
			fmt.Fprintf(o.Out, "refserver: the credential is sealed; read it with: cryptoplug-seal unseal -by '%s' -key '%s' %s\n", backend.RedactURI(c.SealTo), c.SealKey, written)
		}
		return nil
	}
	fmt.Fprintf(o.Out, "refserver: initialised %s. The administrator's credential, shown this once:\n%s", c.DataDir, cred)
	return nil
}

func hasAdmin(ctx context.Context, svc *authn.Service) (bool, error) {
	accts, err := svc.ListAccounts(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range accts {
		if a.Roles.Has(authn.RoleAdmin) {
			return true, nil
		}
	}
	return false, nil
}

// Run serves c until ctx is done, then shuts down gracefully: it stops
// accepting connections, lets in-flight requests finish (up to
// c.ShutdownTimeout) and closes the backend and the store. It refuses to
// start when no principal holds role admin (run Init first). ready, if not
// nil, is called with the address once the listener is up. Operational
// messages go to logger; the audit log to c.AuditLog. Every goroutine Run
// starts has ended when it returns, whether serving stopped or failed.
func Run(ctx context.Context, c Config, logger *slog.Logger, ready func(addr net.Addr)) error {
	if err := c.Resolve(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	return serve(ctx, c, logger, ln, ready)
}

// serve is Run on a listener it owns (and closes).
func serve(ctx context.Context, c Config, logger *slog.Logger, ln net.Listener, ready func(addr net.Addr)) error {
	defer ln.Close()
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	tc, err := serverTLSConfig(&c)
	if err != nil {
		return err
	}
	stack, err := openAuthn(ctx, &c, logger)
	if err != nil {
		return err
	}
	defer stack.Close()
	svc := stack.svc
	loadJWTKeys(ctx, stack.jwt, logger)
	if ok, err := hasAdmin(ctx, svc); err != nil {
		return err
	} else if !ok {
		return errors.New("no principal holds role admin, so nobody could manage this server: run `refserver init` first")
	}
	b, err := backend.Open(ctx, c.Backend)
	if err != nil {
		return fmt.Errorf("open backend: %w", err)
	}
	defer b.Close()
	var auditOut io.Writer = os.Stdout
	if c.AuditLog != "" && c.AuditLog != "-" {
		f, err := os.OpenFile(c.AuditLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open audit log: %w", err)
		}
		defer f.Close()
		auditOut = f
	}
	// The process's own CPU, memory and file descriptors, and the Go
	// runtime's, beside the server's series: process_cpu_seconds_total is
	// what a load test divides by the requests it sent.
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return err
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return err
	}
	srv, err := New(Options{Backend: b, Auth: svc, Audit: slog.New(slog.NewJSONHandler(auditOut, nil)), Registry: reg})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "backend", b.Info().URI)
	if ready != nil {
		ready(ln.Addr())
	}

	// The purge loop and the server stop together, and Run waits for both:
	// a serving error used to return with the purge loop still running.
	pctx, stopPurge := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopPurge()
	wg.Go(func() { purge(pctx, svc, logger) })
	errc := make(chan error, 1)
	wg.Go(func() { errc <- hs.ServeTLS(ln, "", "") })
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.ShutdownTimeout))
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// purge deletes expired credentials every ten minutes.
func purge(ctx context.Context, svc *authn.Service, logger *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := svc.PurgeExpired(ctx); err != nil {
				logger.Warn("purge expired credentials", "err", err)
			} else if n > 0 {
				logger.Info("purged expired credentials", "rows", n)
			}
		}
	}
}
