package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

// server is a refserver process this run started.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	log  *bytes.Buffer // its operational log, for errors
}

// startServer runs `refserver serve` with args and waits until it listens.
func startServer(bin string, args ...string) (*server, error) {
	cmd := exec.Command(bin, append([]string{"serve", "-listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan error, 1), log: &bytes.Buffer{}}
	addr := make(chan string, 1)
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		for l := range lines {
			if s.log.Len() < 64<<10 {
				s.log.WriteString(l + "\n")
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case a := <-addr:
		s.url = "https://" + a
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("refserver exited before listening: %v", err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("refserver did not listen within 60s")
	}
}

// stop ends the server with SIGTERM, or SIGKILL after 30 s.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// setup is one deployment under load: a data directory initialised once,
// the servers serving it, and the credentials the load uses.
type setup struct {
	name     string // "SQLite" or "PostgreSQL"
	bin      string
	dir      string
	ca       string // the self-signed certificate init wrote
	args     []string
	servers  []*server
	session  string // token of a user with keyOperation
	apiKey   string // an API key with role keyOperation
	metrics  string // an API key with role service
	keyLabel string
}

// newSetup initialises dir with `refserver init` and the extra
// configuration args, starts one server and provisions, through the API, a
// user and an application with role keyOperation, one with role service,
// and the key the load signs with.
func newSetup(ctx context.Context, st settings, name, bin, dir string, args ...string) (*setup, error) {
	s := &setup{name: name, bin: bin, dir: dir, ca: filepath.Join(dir, "tls", "server.crt"), keyLabel: "load",
		args: append([]string{"-data", dir}, args...)}
	cred := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+".admin")
	out, err := exec.Command(bin, append([]string{"init", "-credential-file", cred}, s.args...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("refserver init: %v\n%s", err, out)
	}
	if err := s.addServer(); err != nil {
		return nil, err
	}
	email, password, err := adminCredential(cred)
	if err != nil {
		return nil, err
	}
	c, err := client.New(s.servers[0].url, client.WithCAFile(s.ca))
	if err != nil {
		return nil, err
	}
	admin, err := c.Login(ctx, email, password)
	if err != nil {
		return nil, fmt.Errorf("administrator login: %w", err)
	}
	ac := c.WithCredential(client.Bearer(admin.AccessToken))
	const pw = "refload password 0123456789"
	if _, err := ac.CreateUser(ctx, wire.CreateUser{Email: "load@localhost", Password: pw, Roles: []string{"keyOperation", "keyManagement"}}); err != nil {
		return nil, fmt.Errorf("create the load user: %w", err)
	}
	user, err := c.Login(ctx, "load@localhost", pw)
	if err != nil {
		return nil, err
	}
	s.session = user.AccessToken
	for _, a := range []struct {
		name, role string
		dst        *string
	}{{"load", "keyOperation", &s.apiKey}, {"metrics", "service", &s.metrics}} {
		ic, err := ac.CreateApplication(ctx, wire.CreateApplication{Name: a.name, Roles: []string{a.role}, Method: "apiKey"})
		if err != nil {
			return nil, fmt.Errorf("create application %s: %w", a.name, err)
		}
		*a.dst = ic.APIKeys[0].Key
	}
	uc := c.WithCredential(client.Bearer(s.session))
	if _, err := uc.CreateKey(ctx, wire.KeySpec{Label: s.keyLabel, Algorithm: string(st.alg)}); err != nil {
		return nil, fmt.Errorf("create the key: %w", err)
	}
	return s, nil
}

// addServer starts one more server on the setup's data and database.
func (s *setup) addServer() error {
	n := len(s.servers)
	srv, err := startServer(s.bin, append(s.args, "-audit-log", filepath.Join(s.dir, fmt.Sprintf("audit-%d.log", n)))...)
	if err != nil {
		return err
	}
	s.servers = append(s.servers, srv)
	return nil
}

func (s *setup) close() {
	for _, srv := range s.servers {
		srv.stop()
	}
}

// target returns the load's target: the first n servers, the session or
// API-key credential, and the metrics credential.
func (s *setup) target(n int, auth string) (*target, error) {
	t := &target{label: s.keyLabel}
	cred := s.session
	if auth == "apikey" {
		cred = s.apiKey
	}
	t.cred = "Bearer " + cred
	if auth == "apikey" {
		t.cred = cred
	}
	for _, srv := range s.servers[:n] {
		c, err := client.New(srv.url, client.WithCAFile(s.ca))
		if err != nil {
			return nil, err
		}
		t.urls = append(t.urls, srv.url)
		t.tls = c.HTTPClient().Transport.(*http.Transport).TLSClientConfig
		t.metrics = append(t.metrics, c.WithCredential(client.APIKey(s.metrics)))
	}
	return t, nil
}

func adminCredential(path string) (email, password string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "email="); ok {
			email = v
		}
		if v, ok := strings.CutPrefix(line, "password="); ok {
			password = v
		}
	}
	return email, password, nil
}

// configRun is the measurement of one configuration of one setup.
type configRun struct {
	store, auth string
	h2          bool
	rows        []row
}

// writeReport runs the matrix and writes the Markdown report to path.
func writeReport(ctx context.Context, st settings, path, bin string) (err error) {
	started := time.Now()
	load0 := loadAvg()
	work, err := os.MkdirTemp("", "refload-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		bin = filepath.Join(work, "refserver")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/cryptoplug/cryptoplug/cmd/refserver").CombinedOutput(); err != nil {
			return fmt.Errorf("go build refserver: %v\n%s", err, out)
		}
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "refload: %s: "+format+"\n", append([]any{time.Since(started).Round(time.Second)}, args...)...)
	}

	progress("SQLite setup")
	lite, err := newSetup(ctx, st, "SQLite", bin, filepath.Join(work, "sqlite"))
	if err != nil {
		return err
	}
	defer lite.close()

	progress("PostgreSQL setup")
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	pgDir := filepath.Join(work, "postgres")
	if err := os.MkdirAll(pgDir, 0o700); err != nil {
		return err
	}
	dsnFile := filepath.Join(work, "dsn")
	if err := os.WriteFile(dsnFile, []byte(cluster.DSN()+"\n"), 0o600); err != nil {
		return err
	}
	pg, err := newSetup(ctx, st, "PostgreSQL", bin, pgDir, "-authn-store", cluster.DSN(),
		"-backend", "software:postgres?dsn-source=file:"+dsnFile+"&pin-source=file:"+filepath.Join(pgDir, "keystore.pass"))
	if err != nil {
		return err
	}
	defer pg.close()

	var runs []configRun
	signer := map[string][]row{}
	for _, s := range []*setup{lite, pg} {
		for _, auth := range []string{"session", "apikey"} {
			for _, h2 := range []bool{false, true} {
				progress("%s, %s, %s", s.name, auth, proto(h2))
				t, err := s.target(1, auth)
				if err != nil {
					return err
				}
				first := signer[s.name] == nil
				rows, err := measure(ctx, st, t, h2, first)
				if err != nil {
					return fmt.Errorf("%s, %s, %s: %w\n%s", s.name, auth, proto(h2), err, s.servers[0].log)
				}
				if first {
					signer[s.name] = rows
				}
				runs = append(runs, configRun{store: s.name, auth: auth, h2: h2, rows: rows})
			}
		}
	}

	progress("the floor: GET /healthz")
	var floor []configRun
	for _, s := range []*setup{lite, pg} {
		for _, h2 := range []bool{false, true} {
			t, err := s.target(1, "session")
			if err != nil {
				return err
			}
			r, err := loadHTTP(ctx, t, floorCall, 16, st.duration, st.maxReq, h2)
			if err != nil {
				return fmt.Errorf("floor: %w", err)
			}
			floor = append(floor, configRun{store: s.name, h2: h2, rows: []row{{http: r}}})
		}
	}

	progress("three PostgreSQL instances")
	for range 2 {
		if err := pg.addServer(); err != nil {
			return err
		}
	}
	var multi []configRun
	multiSt := st
	multiSt.levels = []int{64}
	for _, h2 := range []bool{false, true} {
		t, err := pg.target(3, "session")
		if err != nil {
			return err
		}
		rows, err := measure(ctx, multiSt, t, h2, false)
		if err != nil {
			return fmt.Errorf("three instances: %w", err)
		}
		multi = append(multi, configRun{store: "PostgreSQL ×3", auth: "session", h2: h2, rows: rows})
	}

	progress("in-process server")
	var inproc []configRun
	for _, auth := range []string{"session", "apikey"} {
		sh, err := selfHost(ctx, st.alg, auth)
		if err != nil {
			return err
		}
		rows, err := measure(ctx, st, sh.target, false, true)
		sh.close()
		if err != nil {
			return err
		}
		inproc = append(inproc, configRun{store: "SQLite, in process", auth: auth, rows: rows})
	}

	var b bytes.Buffer
	renderReport(&b, st, reportContext{
		started: started, took: time.Since(started), load0: load0, load1: loadAvg(),
		runs: runs, signer: signer, multi: multi, inproc: inproc, floor: floor,
	})
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return err
	}
	progress("wrote %s", path)
	return nil
}

// loadAvg returns the 1, 5 and 15 minute load averages, as /proc/loadavg
// has them, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

type reportContext struct {
	started      time.Time
	took         time.Duration
	load0, load1 string
	runs         []configRun
	signer       map[string][]row // per store: the in-process signer, by level
	multi        []configRun
	inproc       []configRun
	floor        []configRun // GET /healthz at 16 clients, per store and protocol
}

// renderReport writes the Markdown report. Everything in it comes from the
// run: the prose only says how to read the tables.
func renderReport(w io.Writer, st settings, rc reportContext) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Reference server load: `POST /v1/sign`\n\n")
	p("Generated by `go run ./cmd/refload -report docs/load.md` on %s; the run took %s. Do not edit by hand: run it again.\n\n",
		rc.started.UTC().Format("2006-01-02 15:04 MST"), rc.took.Round(time.Second))
	p("Machine: %s, %d logical cores, GOMAXPROCS=%d, %s, %s/%s. Load average (1, 5, 15 min) %s before the run, %s after it.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, rc.load0, rc.load1)
	p("Every request signs a SHA-256 digest with an %s key over TLS 1.3, %v per level after a 0.5 s warm-up, from 1, 16 and 64 concurrent clients "+
		"(each with its own keep-alive connection on HTTP/1.1; one multiplexed connection per server on HTTP/2). The servers are `refserver serve` "+
		"processes started by this run, with an audit log file; the load generator runs on the same cores. "+
		"**Server CPU/req** is the servers' own CPU time (`process_cpu_seconds_total` from `GET /metrics`, read before and after the level, "+
		"10 ms resolution) divided by the requests answered; **signer CPU/op** is this process's CPU time per signature while the same key type's "+
		"`Signer` runs in process at the same concurrency, in the same run; their ratio is what authentication, TLS, HTTP, JSON and the audit log "+
		"cost on top of the signature. Requests per second are shared with the load generator's own CPU and with whatever else the machine runs: "+
		"read them as a floor.\n\n", st.alg, st.duration)

	p("## One server\n\n")
	p("| store | auth | protocol | clients | req/s | p50 | p99 | errors | server CPU/req | signer CPU/op | ratio | client CPU/req |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rc.runs {
		for i, rw := range r.rows {
			h := rw.http
			sig := rc.signer[r.store][i].inproc
			p("| %s | %s | %s | %d | %.0f | %s | %s | %d | %s | %s | %s | %s |\n", r.store, r.auth, protoShort(r.h2), h.clients, h.rps,
				h.p50.Round(time.Microsecond), h.p99.Round(time.Microsecond), h.errors, us(cpuPerOp(h.serverCPU, h.n)),
				us(cpuPerOp(sig.selfCPU, sig.n)), ratio(cpuPerOp(h.serverCPU, h.n), cpuPerOp(sig.selfCPU, sig.n)), us(cpuPerOp(h.selfCPU, h.n)))
		}
	}
	p("\nThe in-process signer, measured once per store at the start of its block:\n\n")
	p("| store | clients | signs/s | p99 | CPU/op |\n|---|---|---|---|---|\n")
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		for _, rw := range rc.signer[store] {
			ip := rw.inproc
			p("| %s | %d | %.0f | %s | %s |\n", store, ip.clients, ip.rps, ip.p99.Round(time.Microsecond), us(cpuPerOp(ip.selfCPU, ip.n)))
		}
	}

	p("\n## Where a signature's server CPU goes\n\n")
	p("`GET /healthz` at 16 clients is what every request costs the server before any work of its own: TLS, HTTP, routing, " +
		"metrics and the audit record, with no authentication, JSON body or cryptography. What `POST /v1/sign` costs beyond that " +
		"floor and the signature itself is authentication (cached), the key lookup and its group check (cached), and the JSON " +
		"request and answer.\n\n")
	p("| store | protocol | floor CPU/req | sign CPU/req (session, 16 clients) | signer CPU/op | sign − floor − signer |\n|---|---|---|---|---|---|\n")
	for _, f := range rc.floor {
		fl := f.rows[0].http
		for _, r := range rc.runs {
			if r.store != f.store || r.h2 != f.h2 || r.auth != "session" {
				continue
			}
			for i, rw := range r.rows {
				if rw.http.clients != 16 {
					continue
				}
				sig := rc.signer[r.store][i].inproc
				fCPU, sCPU, gCPU := cpuPerOp(fl.serverCPU, fl.n), cpuPerOp(rw.http.serverCPU, rw.http.n), cpuPerOp(sig.selfCPU, sig.n)
				p("| %s | %s | %s | %s | %s | %s |\n", f.store, protoShort(f.h2), us(fCPU), us(sCPU), us(gCPU), us(sCPU-fCPU-gCPU))
			}
		}
	}

	p("\n## Three instances on one PostgreSQL\n\n")
	p("Three `refserver` processes sharing the PostgreSQL authn store and the `software:postgres` keystore; the clients are spread evenly " +
		"over them, with the same session token (made on one instance, used on all).\n\n")
	p("| protocol | clients | aggregate req/s | per server | p50 | p99 | errors | server CPU/req (sum of three) |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rc.multi {
		for _, rw := range r.rows {
			h := rw.http
			per := make([]string, len(h.perServer))
			for i, n := range h.perServer {
				per[i] = fmt.Sprint(n)
			}
			p("| %s | %d | %.0f | %s | %s | %s | %d | %s |\n", protoShort(r.h2), h.clients, h.rps, strings.Join(per, " / "),
				h.p50.Round(time.Microsecond), h.p99.Round(time.Microsecond), h.errors, us(cpuPerOp(h.serverCPU, h.n)))
		}
	}
	p("\nAll processes share the machine's %d cores, so the aggregate can only show that three instances serve together without "+
		"errors and at what CPU cost per request; it cannot show scaling, which needs CPU the instances do not share.\n", runtime.NumCPU())

	p("\n## The server in process\n\n")
	p("`refload` without flags: the server runs in the load generator's process (SQLite, a `software:` memory key, HTTP/1.1), then the " +
		"signer alone at the same concurrency; **req/ops** is the server's throughput as a share of the signer's.\n\n")
	p("| auth | clients | req/s | p50 | p99 | errors | signer signs/s | req/ops |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rc.inproc {
		for _, rw := range r.rows {
			h, ip := rw.http, rw.inproc
			p("| %s | %d | %.0f | %s | %s | %d | %.0f | %.1f%% |\n", r.auth, h.clients, h.rps, h.p50.Round(time.Microsecond),
				h.p99.Round(time.Microsecond), h.errors, ip.rps, 100*h.rps/ip.rps)
		}
	}

	p("\n## Goals\n\n")
	renderGoals(p, rc)
}

func protoShort(h2 bool) string {
	if h2 {
		return "HTTP/2"
	}
	return "HTTP/1.1"
}

// renderGoals states each performance goal of issue 18 against the run's
// figures.
func renderGoals(p func(string, ...any), rc reportContext) {
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}
	p("- Server CPU per `POST /v1/sign` (session auth, TLS, cached lookups) at most 1.5× the in-process signer's CPU per signature:\n")
	for _, r := range rc.runs {
		if r.auth != "session" {
			continue
		}
		var parts []string
		worst := 0.0
		for i, rw := range r.rows {
			h, sig := rw.http, rc.signer[r.store][i].inproc
			x := float64(cpuPerOp(h.serverCPU, h.n)) / float64(cpuPerOp(sig.selfCPU, sig.n))
			worst = max(worst, x)
			parts = append(parts, fmt.Sprintf("%.2f× at %d", x, h.clients))
		}
		p("  %s, %s: %s — %s.\n", r.store, protoShort(r.h2), strings.Join(parts, ", "), verdict(worst <= 1.5))
	}
	for _, r := range rc.inproc {
		for _, rw := range r.rows {
			h, ip := rw.http, rw.inproc
			if h.clients != 64 {
				continue
			}
			share := 100 * h.rps / ip.rps
			p("- In-process server at 64 clients (%s auth): %.1f%% of the in-process signer's throughput (goal ≥ 40%%) — %s; p99 %s (goal < 20 ms) — %s.\n",
				r.auth, share, verdict(share >= 40), h.p99.Round(time.Microsecond), verdict(h.p99 < 20*time.Millisecond))
		}
	}
	for _, r := range rc.multi {
		for _, rw := range r.rows {
			h := rw.http
			p("- Three instances on one PostgreSQL, %s, %d clients: %.0f req/s in aggregate, %d errors, %s of server CPU per request.\n",
				protoShort(r.h2), h.clients, h.rps, h.errors, us(cpuPerOp(h.serverCPU, h.n)))
		}
	}
}
