package refserver

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

// Config is the reference server's configuration. It is read, lowest
// precedence first, from the defaults, one JSON file (-config), the
// environment (REFSERVER_<FIELD> in upper case, e.g. REFSERVER_LISTEN), and
// flags (-listen, …). [Config.Resolve] fills in what depends on DataDir.
//
// Secrets are never configuration values: the pepper, keystore passphrase
// and a PostgreSQL password come from files (or the pepper from
// REFSERVER_PEPPERS), which init creates with mode 0600, sealed to a TPM or
// HSM key with SealTo.
type Config struct {
	// DataDir holds everything init creates; required.
	DataDir string `json:"data_dir"`
	// Listen is the TCP address to serve on; default "127.0.0.1:8443".
	Listen string `json:"listen"`
	// Backend is the backend URI; default a software keystore under the
	// data directory: software:dir=<data>/keys?pin-source=file:<data>/keystore.pass.
	Backend string `json:"backend"`
	// AuthnStore is a PostgreSQL DSN ("postgres://…"), or a SQLite file
	// path; default <data>/authn.db.
	AuthnStore string `json:"authn_store"`
	// PepperFile holds the token pepper set (authn.ParsePeppers format);
	// default <data>/pepper. REFSERVER_PEPPERS, if set, is used instead.
	PepperFile string `json:"pepper_file"`
	// SealTo, if set, is the URI of a backend (a TPM, a PKCS #11 token,
	// another keystore) holding the key the server's secret files are
	// sealed to: init writes the keystore passphrase, the pepper, the TLS
	// private key and the credential file as <name>.sealed, and serve
	// unseals them at start (see sealing.go and docs/sealing.md).
	SealTo string `json:"seal_to"`
	// SealKey is the sealing key's label in SealTo; default
	// DefaultSealKey. init generates it when it is missing.
	SealKey string `json:"seal_key"`
	// TLSCert and TLSKey are PEM files; default the self-signed pair init
	// writes to <data>/tls/.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// ClientCA, if set, is a PEM file of CAs whose client certificates may
	// create certificate sessions (tls.VerifyClientCertIfGiven).
	ClientCA string `json:"client_ca"`
	// TLSMinVersion is "1.3" (default) or "1.2".
	TLSMinVersion string `json:"tls_min_version"`
	// RecoveryKey, if set, is a PEM public key file (ML-KEM or RSA) that
	// clients seal their backups to; without it backups are refused.
	RecoveryKey string `json:"recovery_key"`
	// AuditLog is a file the JSON audit log is appended to; "" or "-" is
	// standard output.
	AuditLog string `json:"audit_log"`
	// SessionIdleTimeout and SessionLifetime bound sessions ("15m", "8h").
	SessionIdleTimeout Duration `json:"session_idle_timeout"`
	SessionLifetime    Duration `json:"session_lifetime"`
	// RateLimitFreeFailures is how many failed authentications per
	// principal and per client address go unthrottled (authn default 5).
	RateLimitFreeFailures int `json:"rate_limit_free_failures"`
	// TrustedProxies lists the reverse proxies (addresses or CIDR
	// prefixes, comma-separated: "10.0.0.0/8,192.0.2.7") whose
	// X-Forwarded-For names the client that failed authentications are
	// counted against (authn.ForwardedClientAddr). Without it the header is
	// ignored and every request counts against its peer.
	TrustedProxies string `json:"trusted_proxies"`
	// Argon2MemoryKiB lowers the password hash cost; only tests should.
	Argon2MemoryKiB uint32 `json:"argon2_memory_kib"`
	// ShutdownTimeout bounds the wait for in-flight requests on SIGTERM;
	// default 30s.
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// CacheMaxStale bounds how long a session terminated, an API key
	// revoked or a membership changed through another instance (or behind
	// the server's back) may still be honoured here: the authn store's
	// lookup cache serves an answer only while it can prove nothing changed
	// since that long ago (sqlstore.WithCacheMaxStale); default 1s, from
	// 100ms to 1h. Changes made through this instance take effect at once.
	// The software:postgres keystore has its own bound (max-stale=).
	CacheMaxStale Duration `json:"cache_max_stale"`
	// ApprovalTTL is how long an operation parked for approval waits for
	// its quorum ("15m", the default; at most 24h), and
	// ApprovalCollectWindow how long its requester then has to collect it
	// (default 5m, at most 24h). See docs/approvals.md.
	ApprovalTTL           Duration `json:"approval_ttl"`
	ApprovalCollectWindow Duration `json:"approval_collect_window"`

	// JWTIssuers are the identity providers whose JWTs authenticate
	// requests, alone or beside an API key (configuration file only).
	JWTIssuers []JWTIssuer `json:"jwt_issuers,omitempty"`
	// JWKSCAFile, if set, is a PEM file of the CAs trusted for JWKS URLs;
	// default the system roots.
	JWKSCAFile string `json:"jwks_ca_file,omitempty"`
	// JWTClockSkew is tolerated on tokens' exp, nbf and iat; default 1m.
	JWTClockSkew Duration `json:"jwt_clock_skew,omitempty"`
	// OCSP lists the client CAs whose certificates are checked with their
	// OCSP responder on every request (configuration file only).
	OCSP []OCSPCA `json:"ocsp,omitempty"`
	// OCSPFailOpen lets a certificate through, with a warning in the log,
	// when its responder cannot be reached; by default it is refused.
	OCSPFailOpen bool `json:"ocsp_fail_open,omitempty"`
	// OCSPTimeout bounds one responder query; default 5s.
	OCSPTimeout Duration `json:"ocsp_timeout,omitempty"`
	// OCSPMaxCacheAge bounds how long an answer is trusted (until its
	// nextUpdate, never longer); default 5m.
	OCSPMaxCacheAge Duration `json:"ocsp_max_cache_age,omitempty"`

	// ocspHTTPClient, if set, queries OCSP responders: tests reach their
	// responder through it.
	ocspHTTPClient *http.Client
}

// Duration is a time.Duration written as "15m" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// String formats d for flags.
func (d *Duration) String() string { return time.Duration(*d).String() }

// Set parses a flag value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// DefaultListen is where the server listens without configuration.
const DefaultListen = "127.0.0.1:8443"

// LoadConfig builds the configuration from args (flags, after the
// subcommand), the file named by -config, and the environment.
func LoadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	var c, flagged Config
	configFile := fs.String("config", getenv("REFSERVER_CONFIG"), "JSON configuration file")
	fs.StringVar(&flagged.DataDir, "data", "", "data directory (REFSERVER_DATA_DIR)")
	fs.StringVar(&flagged.Listen, "listen", "", "listen address, default "+DefaultListen+" (REFSERVER_LISTEN)")
	fs.StringVar(&flagged.Backend, "backend", "", "backend URI (REFSERVER_BACKEND)")
	fs.StringVar(&flagged.AuthnStore, "authn-store", "", "PostgreSQL DSN or SQLite path (REFSERVER_AUTHN_STORE)")
	fs.StringVar(&flagged.PepperFile, "pepper-file", "", "pepper file (REFSERVER_PEPPER_FILE; or the set itself in REFSERVER_PEPPERS)")
	fs.StringVar(&flagged.SealTo, "seal-to", "", "URI of the backend whose key seals the secret files (REFSERVER_SEAL_TO)")
	fs.StringVar(&flagged.SealKey, "seal-key", "", "label of the sealing key, default "+DefaultSealKey+" (REFSERVER_SEAL_KEY)")
	fs.StringVar(&flagged.TLSCert, "tls-cert", "", "TLS certificate PEM file")
	fs.StringVar(&flagged.TLSKey, "tls-key", "", "TLS private key PEM file")
	fs.StringVar(&flagged.ClientCA, "client-ca", "", "CA PEM file for client certificates")
	fs.StringVar(&flagged.TLSMinVersion, "tls-min-version", "", `"1.3" (default) or "1.2"`)
	fs.StringVar(&flagged.RecoveryKey, "recovery-key", "", "PEM public key clients seal backups to")
	fs.StringVar(&flagged.AuditLog, "audit-log", "", "audit log file (default standard output)")
	fs.StringVar(&flagged.TrustedProxies, "trusted-proxies", "", "comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed (REFSERVER_TRUSTED_PROXIES)")
	fs.Var(&flagged.SessionIdleTimeout, "session-idle-timeout", "session idle timeout (default 15m)")
	fs.Var(&flagged.SessionLifetime, "session-lifetime", "session absolute lifetime (default 8h)")
	fs.Var(&flagged.ShutdownTimeout, "shutdown-timeout", "wait for in-flight requests on SIGTERM (default 30s)")
	fs.Var(&flagged.CacheMaxStale, "cache-max-stale", "how long a change made through another instance may take to show here (default 1s)")
	fs.Var(&flagged.ApprovalTTL, "approval-ttl", "how long a request parked for approval waits for its quorum (default 15m, at most 24h)")
	fs.Var(&flagged.ApprovalCollectWindow, "approval-collect-window", "how long an approved request stays collectable (default 5m, at most 24h)")
	fs.IntVar(&flagged.RateLimitFreeFailures, "rate-limit-free-failures", 0, "failed authentications per principal and address before throttling (default 5)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *configFile != "" {
		b, err := os.ReadFile(*configFile)
		if err != nil {
			return Config{}, fmt.Errorf("read configuration: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Config{}, fmt.Errorf("configuration file %s: %w", *configFile, err)
		}
	}
	env := func(dst *string, name string) {
		if v := getenv("REFSERVER_" + name); v != "" {
			*dst = v
		}
	}
	env(&c.DataDir, "DATA_DIR")
	env(&c.Listen, "LISTEN")
	env(&c.Backend, "BACKEND")
	env(&c.AuthnStore, "AUTHN_STORE")
	env(&c.PepperFile, "PEPPER_FILE")
	env(&c.SealTo, "SEAL_TO")
	env(&c.SealKey, "SEAL_KEY")
	env(&c.TLSCert, "TLS_CERT")
	env(&c.TLSKey, "TLS_KEY")
	env(&c.ClientCA, "CLIENT_CA")
	env(&c.TLSMinVersion, "TLS_MIN_VERSION")
	env(&c.RecoveryKey, "RECOVERY_KEY")
	env(&c.AuditLog, "AUDIT_LOG")
	env(&c.TrustedProxies, "TRUSTED_PROXIES")
	for _, f := range []struct{ dst, src *string }{
		{&c.DataDir, &flagged.DataDir}, {&c.Listen, &flagged.Listen}, {&c.Backend, &flagged.Backend},
		{&c.SealTo, &flagged.SealTo}, {&c.SealKey, &flagged.SealKey},
		{&c.AuthnStore, &flagged.AuthnStore}, {&c.PepperFile, &flagged.PepperFile}, {&c.TLSCert, &flagged.TLSCert},
		{&c.TLSKey, &flagged.TLSKey}, {&c.ClientCA, &flagged.ClientCA}, {&c.TLSMinVersion, &flagged.TLSMinVersion},
		{&c.RecoveryKey, &flagged.RecoveryKey}, {&c.AuditLog, &flagged.AuditLog}, {&c.TrustedProxies, &flagged.TrustedProxies},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	for _, f := range []struct{ dst, src *Duration }{
		{&c.SessionIdleTimeout, &flagged.SessionIdleTimeout}, {&c.SessionLifetime, &flagged.SessionLifetime},
		{&c.ShutdownTimeout, &flagged.ShutdownTimeout}, {&c.CacheMaxStale, &flagged.CacheMaxStale},
		{&c.ApprovalTTL, &flagged.ApprovalTTL}, {&c.ApprovalCollectWindow, &flagged.ApprovalCollectWindow},
	} {
		if *f.src != 0 {
			*f.dst = *f.src
		}
	}
	if flagged.RateLimitFreeFailures != 0 {
		c.RateLimitFreeFailures = flagged.RateLimitFreeFailures
	}
	return c, c.Resolve()
}

// Resolve checks c and fills in the defaults that depend on DataDir.
func (c *Config) Resolve() error {
	if c.DataDir == "" {
		return errors.New("no data directory: give -data or REFSERVER_DATA_DIR")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	if err := c.resolveSealing(); err != nil {
		return err
	}
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	def(&c.Listen, DefaultListen)
	def(&c.Backend, c.defaultBackendURI(c.SealTo != ""))
	def(&c.AuthnStore, filepath.Join(abs, "authn.db"))
	def(&c.PepperFile, filepath.Join(abs, "pepper"))
	def(&c.TLSCert, filepath.Join(abs, "tls", "server.crt"))
	def(&c.TLSKey, filepath.Join(abs, "tls", "server.key"))
	def(&c.TLSMinVersion, "1.3")
	if c.TLSMinVersion != "1.3" && c.TLSMinVersion != "1.2" {
		return fmt.Errorf("tls_min_version must be \"1.3\" or \"1.2\", not %q", c.TLSMinVersion)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(30 * time.Second)
	}
	if c.CacheMaxStale == 0 {
		c.CacheMaxStale = Duration(sqlstore.DefaultCacheMaxStale)
	}
	if d := time.Duration(c.CacheMaxStale); d < 100*time.Millisecond || d > time.Hour {
		return fmt.Errorf("cache_max_stale must be from 100ms to 1h, not %v", d)
	}
	for _, d := range []Duration{c.ApprovalTTL, c.ApprovalCollectWindow} {
		if d < 0 || time.Duration(d) > authn.MaxApprovalTTL {
			return errors.New("approval_ttl and approval_collect_window must be 0 (the default) to 24h")
		}
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	return c.checkJWTAndOCSP()
}

// trustedProxies parses TrustedProxies: addresses stand for themselves.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(c.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q is neither an address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// postgres reports whether the authn store is a PostgreSQL DSN.
func (c *Config) postgres() bool {
	s := c.AuthnStore
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || strings.Contains(s, "host=")
}
