// Command refload measures the reference server's POST /v1/sign: it drives
// the route over keep-alive connections at several concurrencies (default 1,
// 16 and 64 clients), each level bounded by time and request count, and
// reports requests per second, p50 and p99 latency. Beside each level it
// runs a software key's own Signer in this process at the same concurrency,
// with the same key type, so that every comparison comes from one run.
//
// Three ways to run it:
//
//	refload [-alg ECDSA-P256] [-clients 1,16,64] [-duration 5s] [-auth session|apikey] [-h2]
//
// serves refserver in this process on 127.0.0.1 with TLS 1.3 (a software:
// memory backend, a SQLite authn store in a temporary directory) and
// compares its throughput with the in-process signer's.
//
//	refload -url https://127.0.0.1:8443[,https://127.0.0.1:8444…] -ca-file ca.pem \
//	        -cred-file tok -label web [-metrics-cred-file svc] [-h2]
//
// loads servers running elsewhere (loopback only), spreading the workers
// over them; -cred-file holds a session token or an API key with role
// keyOperation. With -metrics-cred-file (a credential with role service)
// it reads each server's process_cpu_seconds_total from GET /metrics before
// and after each level and reports the servers' CPU time per request beside
// the in-process signer's CPU time per signature.
//
//	refload -report docs/load.md [-refserver path/to/refserver]
//
// runs the whole matrix against refserver processes it starts itself (the
// binary is built with `go build` unless given): SQLite and PostgreSQL
// (a throwaway cluster, which needs the Debian PostgreSQL server; see
// authn/pgtest), session and API-key authentication, HTTP/1.1 and HTTP/2,
// 1, 16 and 64 clients, then three instances on one PostgreSQL, then the
// in-process server; it writes the Markdown report to the file.
//
// The machine's other load shows in every figure: run it on a quiet
// machine, and read CPU per request rather than requests per second when
// the load generator shares the server's cores.
package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/refserver/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "refload:", err)
		os.Exit(1)
	}
}

// settings are the knobs every mode shares.
type settings struct {
	alg      backend.Algorithm
	levels   []int
	duration time.Duration
	maxReq   int
}

func run() error {
	alg := flag.String("alg", "ECDSA-P256", "key algorithm")
	levels := flag.String("clients", "1,16,64", "concurrency levels")
	duration := flag.Duration("duration", 5*time.Second, "time per level")
	maxReq := flag.Int("requests", 500000, "request cap per level")
	authMode := flag.String("auth", "session", "session or apikey (in-process server)")
	h2 := flag.Bool("h2", false, "use HTTP/2 (one multiplexed connection per server) instead of HTTP/1.1 keep-alive connections")
	urls := flag.String("url", "", "load these servers (comma-separated, loopback only) instead of serving one in process")
	caFile := flag.String("ca-file", "", "with -url: the servers' CA certificate")
	credFile := flag.String("cred-file", "", "with -url: file holding a session token or API key with role keyOperation")
	metricsCredFile := flag.String("metrics-cred-file", "", "with -url: file holding a credential with role service, to read each server's CPU time")
	label := flag.String("label", "", "with -url: label of an existing key")
	report := flag.String("report", "", "run the whole matrix against refserver processes and write the Markdown report here")
	refserverBin := flag.String("refserver", "", "with -report: the refserver binary (default: go build it)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
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
	if !a.Signs() {
		return fmt.Errorf("-alg %s does not sign", a)
	}
	st := settings{alg: a, duration: *duration, maxReq: *maxReq}
	for _, s := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("-clients %q: want numbers from 1 to 1024", *levels)
		}
		st.levels = append(st.levels, n)
	}
	if *duration <= 0 || *duration > 10*time.Minute || *maxReq < 1 || *maxReq > 100_000_000 {
		return fmt.Errorf("-duration must be in (0, 10m] and -requests in [1, 1e8]")
	}
	ctx := context.Background()
	switch {
	case *report != "":
		return writeReport(ctx, st, *report, *refserverBin)
	case *urls != "":
		t, err := remoteTarget(ctx, *urls, *caFile, *credFile, *metricsCredFile, *label)
		if err != nil {
			return err
		}
		rows, err := measure(ctx, st, t, *h2, true)
		if err != nil {
			return err
		}
		fmt.Printf("POST /v1/sign, %s, %s, %d server(s), GOMAXPROCS=%d, %v per level\n\n", a, proto(*h2), len(t.urls), runtime.GOMAXPROCS(0), *duration)
		printRows(os.Stdout, rows, false)
		return nil
	default:
		s, err := selfHost(ctx, a, *authMode)
		if err != nil {
			return err
		}
		defer s.close()
		rows, err := measure(ctx, st, s.target, *h2, true)
		if err != nil {
			return err
		}
		fmt.Printf("POST /v1/sign, %s, %s, %s auth, server in this process, GOMAXPROCS=%d, %v per level\n\n", a, proto(*h2), *authMode, runtime.GOMAXPROCS(0), *duration)
		printRows(os.Stdout, rows, true)
		return nil
	}
}

func proto(h2 bool) string {
	if h2 {
		return "HTTP/2"
	}
	return "HTTP/1.1 keep-alive"
}

// row is one concurrency level: the HTTP load and, when measured, the
// in-process signer at the same concurrency.
type row struct {
	http   result
	inproc *result
}

// measure runs every level against t, each followed (when signer is true)
// by the in-process signer at the same concurrency.
func measure(ctx context.Context, st settings, t *target, h2, signer bool) ([]row, error) {
	body, digest, opts := signBody(st.alg, t.label)
	var local backend.Key
	if signer {
		b, err := backend.Open(ctx, "software:")
		if err != nil {
			return nil, err
		}
		defer b.Close()
		if local, err = b.GenerateKey(ctx, backend.KeySpec{Label: "in-process", Algorithm: st.alg}); err != nil {
			return nil, err
		}
	}
	var rows []row
	for _, c := range st.levels {
		r, err := loadHTTP(ctx, t, signCall(body), c, st.duration, st.maxReq, h2)
		if err != nil {
			return nil, err
		}
		rw := row{http: r}
		if local != nil {
			ip := loadInProcess(local, digest, opts, c, st.duration, st.maxReq)
			rw.inproc = &ip
		}
		rows = append(rows, rw)
	}
	return rows, nil
}

// signBody returns the JSON body of the sign request for a key of algorithm
// a labelled label, and the digest and options the in-process signer uses
// for the same work.
func signBody(a backend.Algorithm, label string) (string, []byte, crypto.SignerOpts) {
	digest := sha256.Sum256([]byte("refload"))
	opts := crypto.SignerOpts(crypto.SHA256)
	if a.Family() == backend.FamilyECDSA {
		opts = a.CurveHash()
		h := a.CurveHash().New()
		h.Write([]byte("refload"))
		return fmt.Sprintf(`{"label":%q,"digest":%q,"hash":%q}`, label, base64.StdEncoding.EncodeToString(h.Sum(nil)), opts.HashFunc().String()),
			h.Sum(nil), opts
	}
	if a.SignsMessages() {
		return fmt.Sprintf(`{"label":%q,"message":%q}`, label, base64.StdEncoding.EncodeToString(digest[:])), digest[:], crypto.Hash(0)
	}
	return fmt.Sprintf(`{"label":%q,"digest":%q,"hash":%q}`, label, base64.StdEncoding.EncodeToString(digest[:]), opts.HashFunc().String()),
		digest[:], opts
}

// printRows prints the levels as a table. With inProcessServer the server
// shares this process, so the process's CPU is the server's and the
// client's together, and the in-process throughput ratio is the figure
// that matters.
func printRows(w io.Writer, rows []row, inProcessServer bool) {
	self := "client CPU/req"
	if inProcessServer {
		self = "proc CPU/req"
	}
	fmt.Fprintf(w, "%-8s %10s %10s %10s %7s %14s %14s %12s %14s %10s %10s\n",
		"clients", "req/s", "p50", "p99", "errors", "server CPU/req", self, "signer ops/s", "signer CPU/op", "CPU ratio", "req/ops")
	for _, r := range rows {
		h := r.http
		fmt.Fprintf(w, "%-8d %10.0f %10s %10s %7d %14s %14s", h.clients, h.rps, h.p50.Round(time.Microsecond), h.p99.Round(time.Microsecond), h.errors,
			us(cpuPerOp(h.serverCPU, h.n)), us(cpuPerOp(h.selfCPU, h.n)))
		if ip := r.inproc; ip != nil {
			fmt.Fprintf(w, " %12.0f %14s %10s %9.1f%%", ip.rps, us(cpuPerOp(ip.selfCPU, ip.n)),
				ratio(cpuPerOp(h.serverCPU, h.n), cpuPerOp(ip.selfCPU, ip.n)), 100*h.rps/ip.rps)
		}
		fmt.Fprintln(w)
	}
}

// us formats a duration in microseconds, "-" for none.
func us(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

func ratio(a, b time.Duration) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// remoteTarget describes servers running elsewhere.
func remoteTarget(ctx context.Context, urls, caFile, credFile, metricsCredFile, label string) (*target, error) {
	if caFile == "" || credFile == "" || label == "" {
		return nil, fmt.Errorf("-url needs -ca-file, -cred-file and -label")
	}
	cred, err := readCredential(credFile)
	if err != nil {
		return nil, err
	}
	t := &target{label: label}
	for _, raw := range strings.Split(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Scheme != "https" {
			return nil, fmt.Errorf("-url %q: want https://host:port", raw)
		}
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return nil, fmt.Errorf("refload only loads loopback servers")
		}
		c, err := client.New(u.String(), client.WithCAFile(caFile))
		if err != nil {
			return nil, err
		}
		t.urls = append(t.urls, strings.TrimSuffix(u.String(), "/"))
		t.tls = c.HTTPClient().Transport.(*http.Transport).TLSClientConfig
		if metricsCredFile != "" {
			mc, err := readCredential(metricsCredFile)
			if err != nil {
				return nil, err
			}
			t.metrics = append(t.metrics, c.WithCredential(credentialOf(mc)))
		}
	}
	if strings.HasPrefix(cred, "cpk_") {
		t.cred = cred
	} else {
		t.cred = "Bearer " + cred
	}
	if _, err := t.serversCPU(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func readCredential(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// credentialOf is the client credential for a session token or an API key.
func credentialOf(s string) client.Credential {
	if strings.HasPrefix(s, "cpk_") {
		return client.APIKey(s)
	}
	return client.Bearer(s)
}
