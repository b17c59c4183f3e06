package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

// result is one load level's measurement.
type result struct {
	clients  int
	n        int
	rps      float64
	p50, p99 time.Duration
	errors   int64
	// serverCPU is the CPU time the servers' processes spent during the
	// level, summed over servers (process_cpu_seconds_total); zero when
	// not measured.
	serverCPU time.Duration
	// selfCPU is this process's CPU time during the level: the load
	// generator's, or the signer's in an in-process run.
	selfCPU time.Duration
	// perServer counts the requests each server answered.
	perServer []int64
}

// cpuPerOp is the CPU time per completed operation, or 0.
func cpuPerOp(cpu time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return cpu / time.Duration(n)
}

// target is what an HTTP load level drives: one or several servers (the
// workers are spread over them evenly) sharing one credential and key.
type target struct {
	urls  []string
	tls   *tls.Config
	cred  string // X-API-KEY value (cpk_…) or an Authorization value
	label string
	// metrics reads each server's /metrics with a credential holding role
	// service, in the order of urls; nil when the servers' CPU is not
	// measured (the in-process server shares this process's).
	metrics []*client.Client
}

// serversCPU sums process_cpu_seconds_total over the target's servers.
func (t *target) serversCPU(ctx context.Context) (time.Duration, error) {
	var sum time.Duration
	for i, m := range t.metrics {
		text, err := m.Metrics(ctx)
		if err != nil {
			return 0, fmt.Errorf("read %s/metrics: %w", t.urls[i], err)
		}
		cpu, err := processCPU(text)
		if err != nil {
			return 0, fmt.Errorf("%s/metrics: %w", t.urls[i], err)
		}
		sum += cpu
	}
	return sum, nil
}

// call is the request a load level repeats.
type call struct {
	method, path, body string
	anonymous          bool // send no credential
}

// signCall is POST /v1/sign with body.
func signCall(body string) call { return call{method: "POST", path: "/v1/sign", body: body} }

// floorCall is GET /healthz: routing, TLS, HTTP and the audit record with
// no authentication, JSON or cryptography, what every request costs.
var floorCall = call{method: "GET", path: "/healthz", anonymous: true}

// loadHTTP runs c workers for d (or until maxReq requests started), each on
// a keep-alive HTTP/1.1 connection of its own, or all over one HTTP/2
// connection per server, after a warm-up that opens every connection.
func loadHTTP(ctx context.Context, t *target, cl call, c int, d time.Duration, maxReq int, h2 bool) (result, error) {
	type conn struct {
		hc  *http.Client
		tr  *http.Transport
		url string
	}
	conns := make([]conn, len(t.urls))
	for i, u := range t.urls {
		perHost := (c + len(t.urls) - 1) / len(t.urls)
		tr := &http.Transport{TLSClientConfig: t.tls.Clone(), MaxIdleConnsPerHost: perHost, MaxConnsPerHost: perHost,
			ForceAttemptHTTP2: h2, DisableCompression: true}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		}
		defer tr.CloseIdleConnections()
		conns[i] = conn{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, tr: tr, url: u + cl.path}
	}
	header := "Authorization"
	if strings.HasPrefix(t.cred, "cpk_") {
		header = wire.APIKeyHeader
	}
	perServer := make([]atomic.Int64, len(conns))
	do := func(worker int) (time.Duration, error) {
		i := worker % len(conns)
		var body io.Reader
		if cl.body != "" {
			body = strings.NewReader(cl.body)
		}
		req, _ := http.NewRequest(cl.method, conns[i].url, body)
		if !cl.anonymous {
			req.Header.Set(header, t.cred)
		}
		if cl.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		t0 := time.Now()
		resp, err := conns[i].hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		perServer[i].Add(1)
		return time.Since(t0), nil
	}
	for i := range conns {
		if _, err := do(i); err != nil {
			return result{}, fmt.Errorf("first request to %s: %w", t.urls[i], err)
		}
	}
	runFor(c, 500*time.Millisecond, maxReq, do) // warm up: open every connection
	for i := range perServer {
		perServer[i].Store(0)
	}
	cpu0, err := t.serversCPU(ctx)
	if err != nil {
		return result{}, err
	}
	self0 := selfCPU()
	lat, errs, elapsed := runFor(c, d, maxReq, do)
	self1 := selfCPU()
	cpu1, err := t.serversCPU(ctx)
	if err != nil {
		return result{}, err
	}
	r := summarize(c, lat, errs, elapsed)
	r.serverCPU, r.selfCPU = cpu1-cpu0, self1-self0
	for i := range perServer {
		r.perServer = append(r.perServer, perServer[i].Load())
	}
	return r, nil
}

// loadInProcess runs the key's own Signer from c goroutines, measuring this
// process's CPU per signature.
func loadInProcess(k backend.Key, digest []byte, opts crypto.SignerOpts, c int, d time.Duration, maxReq int) result {
	s, _ := k.Signer()
	ctx := context.Background()
	do := func(int) (time.Duration, error) {
		t0 := time.Now()
		var err error
		if ms, ok := s.(backend.MessageSigner); ok && k.Algorithm().SignsMessages() {
			_, err = ms.SignMessageContext(ctx, rand.Reader, digest, crypto.Hash(0))
		} else {
			_, err = s.SignContext(ctx, rand.Reader, digest, opts)
		}
		return time.Since(t0), err
	}
	runFor(c, 300*time.Millisecond, maxReq, do)
	self0 := selfCPU()
	lat, errs, elapsed := runFor(c, d, maxReq*4, do)
	r := summarize(c, lat, errs, elapsed)
	r.selfCPU = selfCPU() - self0
	return r
}

// runFor runs op from c goroutines (op gets the worker's number) until d
// passes or max operations have started. It returns the latencies of the
// operations that succeeded, the failures and the time taken.
func runFor(c int, d time.Duration, max int, op func(worker int) (time.Duration, error)) ([]time.Duration, int64, time.Duration) {
	var (
		started atomic.Int64
		errs    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		all     []time.Duration
	)
	deadline := time.Now().Add(d)
	t0 := time.Now()
	for w := range c {
		wg.Go(func() {
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && started.Add(1) <= int64(max) {
				l, err := op(w)
				if err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, l)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, errs.Load(), time.Since(t0)
}

func summarize(c int, lat []time.Duration, errs int64, elapsed time.Duration) result {
	slices.Sort(lat)
	n := len(lat)
	r := result{clients: c, n: n, errors: errs, rps: float64(n) / elapsed.Seconds()}
	if n > 0 {
		r.p50 = lat[n/2]
		r.p99 = lat[min(n-1, n*99/100)]
	}
	return r
}
