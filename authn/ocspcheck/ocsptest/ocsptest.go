// Package ocsptest gives tests a throwaway client-certificate CA and a real
// OCSP responder for it: `openssl ocsp -index … -port 0 -rsigner … -rkey …
// -CA …`, started and stopped by the test.
//
// OpenSSL 3.0's responder binds every interface (-port takes only a
// number), and tests listen on loopback only. So the responder runs in a
// network namespace of its own (it is started with CLONE_NEWNET): only its
// loopback exists there, and only [Responder.HTTPClient]'s dialer enters
// it, from a locked OS thread that is discarded afterwards. That needs
// root (CAP_SYS_ADMIN), as the project's CI has; without it, or without
// openssl, the test fails saying so (`make deps` installs openssl).
//
// It lives outside internal/ so that the reference server's tests can use
// it too.
package ocsptest

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Hint ends every error that means "the responder cannot run here".
const Hint = "the OCSP tests need the openssl binary (`make deps`) and root for a private network namespace"

// PKI is a CA with its key, the certificates it issued, and the index file
// an openssl responder reads their status from. Its methods are safe for
// concurrent use.
type PKI struct {
	Name   string
	Dir    string
	CA     *x509.Certificate
	CAKey  crypto.Signer
	CAFile string // PEM

	mu    sync.Mutex
	index map[string]string // serial hex -> index line
}

// Leaf is a client certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	TLS  tls.Certificate // for a TLS client
}

// NewPKI creates a CA named name (its subject CN) in a temp dir.
func NewPKI(tb testing.TB, name string) *PKI {
	tb.Helper()
	p := &PKI{Name: name, Dir: tb.TempDir(), index: map[string]string{}}
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
	p.CA, p.CAKey = create(tb, tmpl, nil, key, key), key
	p.CAFile = p.write(tb, "ca.pem", "CERTIFICATE", p.CA.Raw)
	p.write(tb, "ca.key", "PRIVATE KEY", pkcs8(tb, key))
	p.writeIndex(tb)
	return p
}

// Issue returns a client certificate for cn, listed as valid in the index.
// aia, if not empty, is put in its Authority Information Access as the
// OCSP responder URL.
func (p *PKI) Issue(tb testing.TB, cn, aia string) *Leaf {
	tb.Helper()
	l := p.IssueUnlisted(tb, cn, aia)
	p.setStatus(tb, l.Cert, "V", "")
	return l
}

// IssueUnlisted returns a client certificate the index does not list: the
// responder answers "unknown" for it.
func (p *PKI) IssueUnlisted(tb testing.TB, cn, aia string) *Leaf {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if aia != "" {
		tmpl.OCSPServer = []string{aia}
	}
	cert := create(tb, tmpl, p.CA, key, p.CAKey)
	return &Leaf{Cert: cert, Key: key, TLS: tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
}

// IssueResponder returns a certificate for an OCSP responder signed by
// this CA, with the OCSP signing extended key usage unless noEKU, and
// writes it and its key as PEM files (returned).
func (p *PKI) IssueResponder(tb testing.TB, cn string, noEKU bool) (certFile, keyFile string, cert *x509.Certificate) {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
	}
	if noEKU {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	cert = create(tb, tmpl, p.CA, key, p.CAKey)
	base := strings.ReplaceAll(cn, " ", "-")
	return p.write(tb, base+".pem", "CERTIFICATE", cert.Raw), p.write(tb, base+".key", "PRIVATE KEY", pkcs8(tb, key)), cert
}

// Revoke marks l revoked in the index. A running responder reads the
// index at start only: call [Responder.Restart] to publish.
func (p *PKI) Revoke(tb testing.TB, l *Leaf) {
	tb.Helper()
	p.setStatus(tb, l.Cert, "R", time.Now().Add(-time.Minute).UTC().Format("060102150405Z")+",keyCompromise")
}

func (p *PKI) setStatus(tb testing.TB, c *x509.Certificate, status, revoked string) {
	tb.Helper()
	hex := strings.ToUpper(c.SerialNumber.Text(16))
	if len(hex)%2 == 1 {
		hex = "0" + hex
	}
	p.mu.Lock()
	p.index[hex] = strings.Join([]string{status, c.NotAfter.UTC().Format("060102150405Z"), revoked, hex, "unknown", "/CN=" + c.Subject.CommonName}, "\t")
	p.mu.Unlock()
	p.writeIndex(tb)
}

func (p *PKI) writeIndex(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, line := range p.index {
		b.WriteString(line + "\n")
	}
	tmp := filepath.Join(p.Dir, "index.txt.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		tb.Fatalf("ocsptest: write index: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(p.Dir, "index.txt")); err != nil {
		tb.Fatalf("ocsptest: write index: %v", err)
	}
}

func (p *PKI) write(tb testing.TB, name, typ string, der []byte) string {
	tb.Helper()
	path := filepath.Join(p.Dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatalf("ocsptest: write %s: %v", name, err)
	}
	return path
}

// ResponderOptions choose how the responder signs.
type ResponderOptions struct {
	// SignerCert and SignerKey are PEM files; empty means the CA's own.
	SignerCert, SignerKey string
	// Args are more openssl ocsp arguments, such as "-nmin", "1" or
	// "-resp_no_certs".
	Args []string
}

// Responder is a running `openssl ocsp` process in its own network
// namespace. Its methods are safe for concurrent use.
type Responder struct {
	p    *PKI
	opts ResponderOptions
	host string // the virtual host:port in URL, which only HTTPClient reaches

	mu   sync.Mutex
	cmd  *exec.Cmd
	ns   *os.File
	port string
	done chan struct{}
}

// StartResponder starts a responder for p and stops it when the test ends.
func (p *PKI) StartResponder(tb testing.TB, opts ResponderOptions) *Responder {
	tb.Helper()
	r := &Responder{p: p, opts: opts, host: p.host()}
	r.start(tb)
	tb.Cleanup(r.Stop)
	return r
}

// URL is the responder URL to configure: [PKI.ResponderURL].
func (r *Responder) URL() string { return r.p.ResponderURL() }

// ResponderURL is the URL of p's responder, known before it starts (to put
// in a certificate's AIA). Only a Responder's HTTPClient reaches it.
func (p *PKI) ResponderURL() string { return "http://" + strings.TrimSuffix(p.host(), ":80") + "/" }

func (p *PKI) host() string {
	return strings.ToLower(strings.ReplaceAll(p.Name, " ", "-")) + ".ocsp.test:80"
}

func (r *Responder) start(tb testing.TB) {
	tb.Helper()
	cert, key := r.opts.SignerCert, r.opts.SignerKey
	if cert == "" {
		cert, key = r.p.CAFile, filepath.Join(r.p.Dir, "ca.key")
	}
	args := append([]string{"ocsp", "-index", filepath.Join(r.p.Dir, "index.txt"), "-port", "0",
		"-rsigner", cert, "-rkey", key, "-CA", r.p.CAFile, "-ignore_err"}, r.opts.Args...)
	cmd := exec.Command("openssl", args...)
	cmd.SysProcAttr = ownNetworkNamespace()
	cmd.Stderr = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("ocsptest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("ocsptest: start openssl ocsp: %v; %s", err, Hint)
	}
	// It prints "ACCEPT [::]:PORT PID=N" once it listens; the rest of its
	// output is drained so that it never blocks on a full pipe.
	first, done := make(chan string, 1), make(chan struct{})
	go func() {
		br := bufio.NewReader(out)
		line, _ := br.ReadString('\n')
		first <- line
		io.Copy(io.Discard, br)
		cmd.Wait()
		close(done)
	}()
	line := <-first
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "ACCEPT" {
		cmd.Process.Kill()
		<-done
		tb.Fatalf("ocsptest: openssl ocsp did not start listening (it printed %q); %s", line, Hint)
	}
	port := f[1][strings.LastIndexByte(f[1], ':')+1:]
	ns, err := os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net")
	if err == nil {
		err = inNamespace(ns, loopbackUp)
	}
	if err != nil {
		cmd.Process.Kill()
		<-done
		tb.Fatalf("ocsptest: enter the responder's network namespace: %v; %s", err, Hint)
	}
	r.mu.Lock()
	r.cmd, r.ns, r.port, r.done = cmd, ns, port, done
	r.mu.Unlock()
}

// Stop kills the responder and waits for it; requests then fail to connect.
func (r *Responder) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.ns.Close()
	r.cmd, r.ns = nil, nil
}

// Pause stops the responder process (SIGSTOP) without closing its socket:
// connections are accepted by the kernel and never answered, as with a
// hung responder. [Responder.Resume] continues it; Stop works either way.
func (r *Responder) Pause(tb testing.TB) { r.signal(tb, syscall.SIGSTOP) }

// Resume continues a paused responder (SIGCONT).
func (r *Responder) Resume(tb testing.TB) { r.signal(tb, syscall.SIGCONT) }

func (r *Responder) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		tb.Fatal("ocsptest: the responder is not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("ocsptest: signal the responder: %v", err)
	}
}

// Restart stops the responder and starts a new one on the current index,
// behind the same URL.
func (r *Responder) Restart(tb testing.TB) {
	tb.Helper()
	r.Stop()
	r.start(tb)
}

// HTTPClient returns a client whose connections to URL's host reach the
// responder inside its namespace; it refuses every other address.
func (r *Responder) HTTPClient() *http.Client { return HTTPClient(r) }

// HTTPClient returns a client that reaches each of rs by its URL's host,
// and refuses every other address.
func HTTPClient(rs ...*Responder) *http.Client {
	byHost := map[string]*Responder{}
	for _, r := range rs {
		byHost[r.host] = r
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		r := byHost[addr]
		if r == nil {
			return nil, fmt.Errorf("ocsptest: refusing to dial %s: no responder there", addr)
		}
		return r.dial(ctx, network, addr)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

func (r *Responder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr != r.host {
		return nil, fmt.Errorf("ocsptest: refusing to dial %s: only %s is served", addr, r.host)
	}
	r.mu.Lock()
	ns, port := r.ns, r.port
	r.mu.Unlock()
	if ns == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	var conn net.Conn
	err := inNamespace(ns, func() (err error) {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
		return err
	})
	return conn, err
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("ocsptest: %v", err)
	}
	return k
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 96))
	if err != nil {
		tb.Fatalf("ocsptest: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

func create(tb testing.TB, tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		tb.Fatalf("ocsptest: create certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("ocsptest: %v", err)
	}
	return c
}

func pkcs8(tb testing.TB, k crypto.Signer) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatalf("ocsptest: %v", err)
	}
	return der
}
