// Command refload measures the reference server's POST /v1/sign: it drives
// the route over keep-alive connections at several concurrencies (default 1,
// 16 and 64 clients), each level bounded by time and request count, and
// reports requests per second, p50 and p99 latency; then it measures the
// backend's own Signer in process at the same concurrencies, with the same
// key type, and prints the ratio.
//
// By default it serves the server itself, in this process, on 127.0.0.1 with
// TLS: a software: memory backend and a SQLite authn store in a temporary
// directory, the caller authenticated by a session (the default) or an API
// key. With -url it loads an external server instead (loopback only), given
// a session token file and the label of an existing key.
//
//	refload [-alg ECDSA-P256] [-clients 1,16,64] [-duration 5s] [-requests 200000] [-auth session|apikey]
//	refload -url https://127.0.0.1:8443 -ca-file data/tls/server.crt -session-file tok -label web
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "refload:", err)
		os.Exit(1)
	}
}

type result struct {
	clients  int
	n        int
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

func run() error {
	alg := flag.String("alg", "ECDSA-P256", "key algorithm")
	levels := flag.String("clients", "1,16,64", "concurrency levels")
	duration := flag.Duration("duration", 5*time.Second, "time per level")
	maxReq := flag.Int("requests", 500000, "request cap per level")
	authMode := flag.String("auth", "session", "session or apikey (self-hosted mode)")
	h2 := flag.Bool("h2", false, "use HTTP/2 (one multiplexed connection) instead of HTTP/1.1 keep-alive connections")
	target := flag.String("url", "", "load this server (loopback only) instead of serving one in process")
	caFile := flag.String("ca-file", "", "with -url: the server's CA certificate")
	sessionFile := flag.String("session-file", "", "with -url: file holding a session token with role keyOperation")
	label := flag.String("label", "", "with -url: label of an existing key")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the HTTP runs to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	a, err := backend.ParseAlgorithm(*alg)
	if err != nil {
		return err
	}
	var conc []int
	for _, s := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("bad -clients %q", *levels)
		}
		conc = append(conc, n)
	}
	ctx := context.Background()

	var (
		base     string
		tlsConf  *tls.Config
		cred     string
		keyLabel = *label
		local    backend.Backend
	)
	if *target != "" {
		u, err := url.Parse(*target)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return fmt.Errorf("refload only loads loopback servers")
		}
		tok, err := os.ReadFile(*sessionFile)
		if err != nil {
			return err
		}
		c, err := client.New(*target, client.WithCAFile(*caFile))
		if err != nil {
			return err
		}
		base, cred = *target, "Bearer "+strings.TrimSpace(string(tok))
		tlsConf = c.HTTPClient().Transport.(*http.Transport).TLSClientConfig
	} else {
		s, err := selfHost(ctx, a, *authMode)
		if err != nil {
			return err
		}
		defer s.close()
		base, tlsConf, cred, keyLabel, local = s.url, s.tls, s.cred, "load", s.backend
	}

	digest := sha256.Sum256([]byte("refload"))
	opts := crypto.SignerOpts(crypto.SHA256)
	if a.Family() == backend.FamilyECDSA {
		opts = a.CurveHash()
		h := a.CurveHash().New()
		h.Write([]byte("refload"))
		copy(digest[:], h.Sum(nil))
	}
	dg := digest[:opts.HashFunc().Size()%33]
	if len(dg) == 0 {
		dg = digest[:]
	}
	body := fmt.Sprintf(`{"label":%q,"digest":%q,"hash":%q}`, keyLabel, base64.StdEncoding.EncodeToString(dg), opts.HashFunc().String())
	if a.SignsMessages() {
		body = fmt.Sprintf(`{"label":%q,"message":%q}`, keyLabel, base64.StdEncoding.EncodeToString(dg))
	}

	fmt.Printf("POST /v1/sign, %s, %s, %s auth, GOMAXPROCS=%d, %v per level (cap %d requests)\n",
		a, map[bool]string{true: "HTTP/2", false: "HTTP/1.1 keep-alive"}[*h2], authName(*target, *authMode), numProcs(), *duration, *maxReq)
	var http_ []result
	for _, c := range conc {
		r, err := loadHTTP(base, tlsConf, cred, body, c, *duration, *maxReq, *h2)
		if err != nil {
			return err
		}
		http_ = append(http_, r)
	}
	var inproc []result
	if local != nil {
		k, err := local.Key(ctx, backend.ByLabel(keyLabel))
		if err != nil {
			return err
		}
		for _, c := range conc {
			inproc = append(inproc, loadInProcess(k, dg, opts, c, *duration, *maxReq))
		}
	}
	fmt.Printf("\n%-8s %12s %10s %10s %8s", "clients", "HTTP req/s", "p50", "p99", "errors")
	if local != nil {
		fmt.Printf(" %14s %8s", "in-process/s", "ratio")
	}
	fmt.Println()
	for i, r := range http_ {
		fmt.Printf("%-8d %12.0f %10s %10s %8d", r.clients, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors)
		if local != nil {
			fmt.Printf(" %14.0f %7.1f%%", inproc[i].rps, 100*r.rps/inproc[i].rps)
		}
		fmt.Println()
	}
	return nil
}

func authName(target, mode string) string {
	if target != "" {
		return "session"
	}
	return mode
}

func numProcs() int { return runtimeGOMAXPROCS() }

// loadHTTP runs c workers, each on its own keep-alive connection (HTTP/1.1)
// or all on one HTTP/2 connection, until d passes or maxReq are sent.
func loadHTTP(base string, tc *tls.Config, cred, body string, c int, d time.Duration, maxReq int, h2 bool) (result, error) {
	tr := &http.Transport{TLSClientConfig: tc.Clone(), MaxIdleConnsPerHost: c, MaxConnsPerHost: c, ForceAttemptHTTP2: h2, DisableCompression: true}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	header := "Authorization"
	if strings.HasPrefix(cred, "cpk_") {
		header = authn.APIKeyHeader
	}
	do := func() (time.Duration, error) {
		req, _ := http.NewRequest("POST", base+"/v1/sign", strings.NewReader(body))
		req.Header.Set(header, cred)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		var buf [512]byte
		for {
			if _, err := resp.Body.Read(buf[:]); err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(t0), nil
	}
	if _, err := do(); err != nil {
		return result{}, fmt.Errorf("first request: %w", err)
	}
	// Warm up: open every connection and let the server settle.
	runFor(c, 500*time.Millisecond, maxReq, func() (time.Duration, error) { return do() })
	lat, n, errs, elapsed := runFor(c, d, maxReq, do)
	return summarize(c, lat, n, errs, elapsed), nil
}

func loadInProcess(k backend.Key, digest []byte, opts crypto.SignerOpts, c int, d time.Duration, maxReq int) result {
	s, _ := k.Signer()
	ctx := context.Background()
	do := func() (time.Duration, error) {
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
	lat, n, errs, elapsed := runFor(c, d, maxReq*4, do)
	return summarize(c, lat, n, errs, elapsed)
}

// runFor runs op from c goroutines until d passes or max operations start.
func runFor(c int, d time.Duration, max int, op func() (time.Duration, error)) ([]time.Duration, int, int64, time.Duration) {
	var (
		started atomic.Int64
		errs    atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		all     []time.Duration
	)
	deadline := time.Now().Add(d)
	t0 := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && started.Add(1) <= int64(max) {
				l, err := op()
				if err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, l)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, len(all), errs.Load(), time.Since(t0)
}

func summarize(c int, lat []time.Duration, n int, errs int64, elapsed time.Duration) result {
	slices.Sort(lat)
	r := result{clients: c, n: n, errors: errs, rps: float64(n) / elapsed.Seconds()}
	if n > 0 {
		r.p50 = lat[n/2]
		r.p99 = lat[min(n-1, n*99/100)]
	}
	return r
}

// selfHosted is the in-process server refload loads by default.
type selfHosted struct {
	url     string
	tls     *tls.Config
	cred    string
	backend backend.Backend
	close   func()
}

func selfHost(ctx context.Context, a backend.Algorithm, mode string) (*selfHosted, error) {
	dir, err := os.MkdirTemp("", "refload-")
	if err != nil {
		return nil, err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "authn.db"))
	if err != nil {
		return nil, err
	}
	pep := make([]byte, 32)
	rand.Read(pep)
	peppers, err := authn.ParsePeppers("1:" + base64.StdEncoding.EncodeToString(pep))
	if err != nil {
		return nil, err
	}
	svc, err := authn.NewService(authn.Config{Store: store, Peppers: peppers})
	if err != nil {
		return nil, err
	}
	b, err := backend.Open(ctx, "software:")
	if err != nil {
		return nil, err
	}
	if _, err := b.GenerateKey(ctx, backend.KeySpec{Label: "load", Algorithm: a}); err != nil {
		return nil, err
	}
	srv, err := refserver.New(refserver.Options{Backend: b, Auth: svc})
	if err != nil {
		return nil, err
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.EnableHTTP2 = true
	hs.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	hs.Config.MaxHeaderBytes = 16 << 10
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	hs.Config.IdleTimeout = 120 * time.Second
	hs.StartTLS()
	tc := hs.Client().Transport.(*http.Transport).TLSClientConfig
	var cred string
	switch mode {
	case "session":
		const pw = "refload password 0123456789"
		if _, err := svc.CreateUser(ctx, "load@localhost", authn.NewSecret(pw), authn.NewRoleSet(authn.RoleKeyOperation)); err != nil {
			return nil, err
		}
		c, err := client.New(hs.URL, client.WithTLSConfig(tc))
		if err != nil {
			return nil, err
		}
		s, err := c.Login(ctx, "load@localhost", pw)
		if err != nil {
			return nil, err
		}
		cred = "Bearer " + s.AccessToken
	case "apikey":
		_, keys, err := svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "load", Roles: authn.NewRoleSet(authn.RoleKeyOperation), Method: authn.MethodAPIKey})
		if err != nil {
			return nil, err
		}
		cred = keys[0].Key.Reveal()
	default:
		return nil, fmt.Errorf("-auth must be session or apikey")
	}
	return &selfHosted{url: hs.URL, tls: tc, cred: cred, backend: b, close: func() {
		hs.Close()
		b.Close()
		store.Close()
		os.RemoveAll(dir)
	}}, nil
}
