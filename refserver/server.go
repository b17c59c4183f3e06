package refserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
)

// Options configure a [Server]. Backend and Auth are required.
type Options struct {
	// Backend holds the keys. The Server does not close it.
	Backend backend.Backend
	// Auth authenticates callers and manages their credentials.
	Auth *authn.Service
	// Audit receives one record per request (see [Server]); nil discards.
	Audit *slog.Logger
	// Registry receives the server's metrics, which GET /metrics serves;
	// nil makes a new one.
	Registry *prometheus.Registry
	// Version is reported by GET /v1/versionInfo; default the module's
	// build information.
	Version string
	// OpTimeout bounds each backend call; default backend.DefaultTimeout.
	OpTimeout time.Duration
}

// Server is the reference server's http.Handler: the routes of [Routes]
// over one backend, behind authn. It is safe for concurrent use. Create it
// with [New]; serve it with [Run] (TLS, timeouts, graceful shutdown) or any
// http.Server.
//
// For every request it writes one audit record to Options.Audit, a log/slog
// record "request" with the request ID (also sent as X-Request-ID), route,
// principal ID, the subject a JWT named (issuer:subject), the role that
// admitted it, key label, HTTP status, outcome ("ok", "denied", "error")
// and reason. No credential, key material or
// message ever reaches the log.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	routes  []Route
	keys    keyCache
	metrics *metrics
	audit   *slog.Logger
	started time.Time
}

// New checks the route table and opts and returns a Server. It fails if a
// route declares no role, or if Backend or Auth is missing.
func New(opts Options) (*Server, error) {
	return newServer(opts, routeTable())
}

func newServer(opts Options, routes []Route) (*Server, error) {
	if opts.Backend == nil || opts.Auth == nil {
		return nil, errors.New("refserver: Options.Backend and Options.Auth are required")
	}
	if err := checkRoutes(routes); err != nil {
		return nil, err
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = backend.DefaultTimeout
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	audit := opts.Audit
	if audit == nil {
		audit = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	if hr, ok := opts.Backend.(backend.HealthReporter); ok {
		if err := opts.Registry.Register(newHealthCollector(hr)); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), routes: routes, metrics: m, audit: audit, started: time.Now()}
	for i := range routes {
		s.mux.Handle(routes[i].Pattern(), s.wrap(&routes[i]))
	}
	// Everything else is 404, without saying whether authentication would
	// have helped.
	notFound := &Route{Method: "", Path: "unmatched", Public: true, handle: func(*Server, *request) error {
		return errNotFound
	}}
	s.mux.Handle("/", s.wrap(notFound))
	return s, nil
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// ServeHTTP routes r.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// request is one request on its way through a handler.
type request struct {
	w         http.ResponseWriter
	sw        statusWriter // w, when the request came through wrap
	r         *http.Request
	route     *Route
	id        string
	principal authn.Principal
	role      authn.Role // the route role that admitted the principal
	key       string     // key label, for the audit record
}

// statusWriter remembers the status code for metrics and the audit log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wrap turns a route into a handler: request ID, body limit, authentication
// and role check, the route's handler, error response, metrics, audit.
func (s *Server) wrap(rt *Route) http.Handler {
	limit := rt.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	label := rt.Pattern()
	if rt.Method == "" {
		label = "unmatched"
	}
	obs := s.metrics.route(label)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// One allocation for the request and its status writer; the
		// header's value slice is set directly, as Set would, without
		// canonicalising a name that already is.
		rq := &request{r: r, route: rt, id: newRequestID()}
		rq.sw.ResponseWriter = w
		sw := &rq.sw
		rq.w = sw
		sw.Header()["X-Request-Id"] = []string{rq.id}
		r.Body = http.MaxBytesReader(sw, r.Body, limit)
		err := s.authorize(rq)
		if err == nil {
			err = s.handle(rt, rq)
		}
		if err != nil {
			s.writeError(rq, err)
		}
		if sw.status == 0 {
			sw.WriteHeader(http.StatusOK)
		}
		obs.observe(sw.status, time.Since(start))
		s.auditRequest(rq, label, sw.status, err)
	})
}

// errPanic marks a handler that panicked: a bug here or in a backend. The
// client gets the fixed internal-error answer; the audit log gets the
// panic's type; nobody gets a stack trace or the panic's message, which
// could quote request data.
var errPanic = errors.New("handler panicked")

// handle runs the route's handler, turning a panic into errPanic so that
// the caller receives a JSON 500 rather than a reset connection, and the
// metrics and audit log still record the request.
func (s *Server) handle(rt *Route, rq *request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p) // net/http's own signal to drop the connection quietly
			}
			err = fmt.Errorf("%w (%T)", errPanic, p)
		}
	}()
	return rt.handle(s, rq)
}

// authorize authenticates the caller of a role-protected route and checks
// its role. On public routes it only refuses credentials in the URL.
func (s *Server) authorize(rq *request) error {
	if rq.route.Public {
		bare := &http.Request{URL: rq.r.URL, Header: http.Header{}, RemoteAddr: rq.r.RemoteAddr}
		if _, err := s.opts.Auth.Credentials(bare); err != nil {
			s.metrics.authFailure(err)
			return err
		}
		return nil
	}
	creds, err := s.opts.Auth.Credentials(rq.r)
	if err != nil {
		s.metrics.authFailure(err)
		return err
	}
	if creds.APIKey.IsZero() && creds.Bearer.IsZero() && creds.UserSecret.IsZero() && creds.JWT.IsZero() && creds.BasicUser == "" && creds.BasicPassword.IsZero() {
		s.metrics.authFailure(errNoCredentials)
		return errNoCredentials
	}
	p, err := s.opts.Auth.Authenticate(rq.r.Context(), creds)
	if err != nil {
		s.metrics.authFailure(err)
		return err
	}
	rq.principal = p
	for _, role := range authn.AllRoles {
		if rq.route.Roles.Has(role) && p.HasRole(role) {
			rq.role = role
			return nil
		}
	}
	s.metrics.authFailure(authn.ErrForbidden)
	return errForbidden
}
