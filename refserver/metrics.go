package refserver

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cryptoplug/cryptoplug/authn"
)

// metrics are the server's Prometheus series:
//
//   - refserver_request_duration_seconds{route, code}: latency histogram per
//     route pattern ("POST /v1/sign") and HTTP status;
//   - refserver_auth_failures_total{reason}: refused authentications, by
//     reason "missing", "malformed", "credential_in_url", "invalid",
//     "rate_limited" or "forbidden".
//
// and, for a backend that reports its health, the refserver_backend_*
// series of healthCollector.
//
// GET /metrics needs role service: the series reveal traffic patterns.
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	authFail *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		reg: reg,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refserver_request_duration_seconds",
			Help:    "Time from routing a request to its response, by route pattern and HTTP status.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		authFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refserver_auth_failures_total",
			Help: "Refused authentications by reason.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.authFail} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"missing", "malformed", "credential_in_url", "invalid", "rate_limited", "forbidden"} {
		m.authFail.WithLabelValues(r)
	}
	return m, nil
}

// routeMetrics caches a route's observers by status, so that the hot path
// does not hash label values.
type routeMetrics struct {
	m      *metrics
	route  string
	byCode sync.Map // int → prometheus.Observer
}

func (m *metrics) route(route string) *routeMetrics { return &routeMetrics{m: m, route: route} }

func (rm *routeMetrics) observe(status int, d time.Duration) {
	o, ok := rm.byCode.Load(status)
	if !ok {
		o, _ = rm.byCode.LoadOrStore(status, rm.m.duration.WithLabelValues(rm.route, strconv.Itoa(status)))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// authFailure counts a refused authentication.
func (m *metrics) authFailure(err error) {
	reason := "invalid"
	switch {
	case errors.Is(err, errNoCredentials):
		reason = "missing"
	case errors.Is(err, authn.ErrCredentialInURL):
		reason = "credential_in_url"
	case errors.Is(err, authn.ErrMalformedCredential):
		reason = "malformed"
	case errors.Is(err, authn.ErrRateLimited):
		reason = "rate_limited"
	case errors.Is(err, authn.ErrForbidden):
		reason = "forbidden"
	}
	m.authFail.WithLabelValues(reason).Inc()
}

func (s *Server) metricsPage(rq *request) error {
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(rq.w, rq.r)
	return nil
}
