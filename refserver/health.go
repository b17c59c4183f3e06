package refserver

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// ready answers GET /readyz, the readiness check a load balancer polls to
// take an instance out of service while its backend's store is gone: 200
// {"status":"ok"} while the backend serves operations, 503
// {"status":"unavailable"} while it reports itself recovering or down
// (see backend.HealthReporter), when operations fail at once with
// backend_unavailable. A backend without health reporting is always
// ready. The route is public because it says nothing but ready or not:
// the cause, the times and the counts are in the metrics, which need the
// service role.
func (s *Server) ready(rq *request) error {
	if hr, ok := s.opts.Backend.(backend.HealthReporter); ok && hr.Health().State != backend.HealthUp {
		writeJSON(rq.w, http.StatusServiceUnavailable, wire.Health{Status: "unavailable"})
		return nil
	}
	writeJSON(rq.w, http.StatusOK, wire.Health{Status: "ok"})
	return nil
}

// healthCollector exports a backend's health (backend.HealthReporter) at
// each scrape, without calling the store:
//
//   - refserver_backend_state{state}: 1 for the state the backend is in
//     ("up", "recovering", "down"), 0 for the others;
//   - refserver_backend_state_since_seconds: when it entered it (Unix time;
//     0 while it has been up since it was opened);
//   - refserver_backend_recoveries_total: outages recovered from;
//   - refserver_backend_abandoned_calls: calls to the store still running
//     after their callers left at their deadlines;
//   - refserver_backend_abandoned_calls_total: calls ever abandoned.
type healthCollector struct {
	hr                                                 backend.HealthReporter
	state, since, recoveries, abandoned, abandonedEver *prometheus.Desc
}

func newHealthCollector(hr backend.HealthReporter) *healthCollector {
	return &healthCollector{
		hr:            hr,
		state:         prometheus.NewDesc("refserver_backend_state", "1 for the state the backend's store is in (up, recovering, down), 0 for the others.", []string{"state"}, nil),
		since:         prometheus.NewDesc("refserver_backend_state_since_seconds", "When the backend entered its state, in Unix seconds; 0 while up since it was opened.", nil, nil),
		recoveries:    prometheus.NewDesc("refserver_backend_recoveries_total", "Outages of the backend's store recovered from.", nil, nil),
		abandoned:     prometheus.NewDesc("refserver_backend_abandoned_calls", "Calls to the store still running after their callers left at their deadlines.", nil, nil),
		abandonedEver: prometheus.NewDesc("refserver_backend_abandoned_calls_total", "Calls to the store abandoned at their callers' deadlines.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.since, c.recoveries, c.abandoned, c.abandonedEver} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.hr.Health()
	for _, st := range []backend.HealthState{backend.HealthUp, backend.HealthRecovering, backend.HealthDown} {
		v := 0.0
		if h.State == st {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, st.String())
	}
	since := 0.0
	if !h.Since.IsZero() {
		since = float64(h.Since.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.since, prometheus.GaugeValue, since)
	ch <- prometheus.MustNewConstMetric(c.recoveries, prometheus.CounterValue, float64(h.Recoveries))
	ch <- prometheus.MustNewConstMetric(c.abandoned, prometheus.GaugeValue, float64(h.Abandoned))
	ch <- prometheus.MustNewConstMetric(c.abandonedEver, prometheus.CounterValue, float64(h.AbandonedTotal))
}
