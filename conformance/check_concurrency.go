//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// errWrongResult marks a plaintext or shared key that is not the one the
// suite expected.
var errWrongResult = errors.New("wrong result")

// concurrentOp is one kind of work the concurrency check spreads over its
// goroutines: an operation with one shared key, verified.
type concurrentOp struct {
	name string
	key  backend.Key
	do   func(c *cell, i int) (outcome, error)
}

// outcome is what one operation leaves for the checks after all goroutines
// are done. unique, when set, must differ from every other operation's of
// the same key (an ECDSA r, a PSS salt); recheck verifies the returned bytes
// again, to catch a backend that hands out a buffer it later reuses.
type outcome struct {
	unique  string
	recheck func() error
}

// checkConcurrency runs goroutines × operations (32 × 20 by default, see
// [WithConcurrency]) across every shared key at once: signatures (verified),
// decryptions and decapsulations (compared), with lookups by ID and a
// listing mixed in. Run it under the race detector to find data races in
// the backend; without it, the check still catches the effects of state
// shared between calls: a wrong or swapped result, an ECDSA r or a PSS salt
// that two concurrent signatures of different inputs share (a nonce or salt
// drawn once for two calls), and a returned signature, plaintext or key
// whose bytes change after the call returned (a reused output buffer).
func checkConcurrency(r *runner, c *cell) {
	var ops []concurrentOp
	for _, a := range r.algs {
		for _, u := range r.usages(a) {
			f, _ := r.ensureFixture(c.ctx, a, u)
			if f.err != nil || f.dead {
				continue
			}
			op, err := concurrentOpFor(f.key, u)
			if err != nil {
				c.callFailed(fmt.Sprintf("%s %s key", a, usageName(u)), err)
				continue
			}
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		c.Skip("no shared keys to use")
	}
	b := r.backend()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		fails    = map[string][]error{}
		done     = map[string]int{}
		outcomes = map[string][]outcome{}
	)
	record := func(name string, o outcome, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fails[name] = append(fails[name], err)
			return
		}
		done[name]++
		if o.unique != "" || o.recheck != nil {
			outcomes[name] = append(outcomes[name], o)
		}
	}
	start := time.Now()
	for g := range r.cfg.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					record("panic", outcome{}, fmt.Errorf("goroutine %d: %v", g, p))
				}
			}()
			for i := range r.cfg.opsPerGoroutine {
				if c.ctx.Err() != nil {
					record("timeout", outcome{}, c.ctx.Err())
					return
				}
				op := ops[(g+i)%len(ops)]
				switch {
				case i%16 == 15 && g%8 == 0:
					_, err := b.Keys(c.ctx)
					record("Keys", outcome{}, err)
				case i%8 == 7:
					k, err := b.Key(c.ctx, backend.ByID(op.key.ID()))
					if err == nil && !publicEqual(k.Public(), op.key.Public()) {
						err = fmt.Errorf("%w: Key(%s) returned a different public key", errWrongResult, op.key.ID())
					}
					record("Key", outcome{}, err)
				default:
					o, err := op.do(c, g*r.cfg.opsPerGoroutine+i)
					record(op.name, o, err)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)

	names := make([]string, 0, len(done)+len(fails))
	for n := range done {
		names = append(names, n)
	}
	for n := range fails {
		if _, ok := done[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var summary []string
	for _, n := range names {
		summary = append(summary, fmt.Sprintf("%s %d", n, done[n]))
		reportConcurrent(c, n, done[n], fails[n], outcomes[n])
	}
	c.Notef("%d goroutines × %d operations in %v: %s", r.cfg.goroutines, r.cfg.opsPerGoroutine,
		took.Round(time.Millisecond), strings.Join(summary, ", "))
}

// reportConcurrent records what went wrong with the concurrent operations
// named n: failed or wrong results, nonces or salts used twice, results
// changed after they were returned.
func reportConcurrent(c *cell, n string, done int, fails []error, outcomes []outcome) {
	if len(fails) > 0 {
		fault, expected := faultOf(fails[0]), "success"
		if errors.Is(fails[0], errBadSignature) || errors.Is(fails[0], errWrongResult) {
			fault, expected = FaultStore, "the right result"
		}
		if n == "panic" {
			fault, expected = FaultCryptoplug, "no panic"
		}
		c.failf(fault, expected, fmt.Sprintf("%d of %d wrong or failed; first: %v", len(fails), len(fails)+done, fails[0]),
			"%s: %d of %d concurrent operations failed, first: %v", n, len(fails), len(fails)+done, fails[0])
	}
	seen := map[string]bool{}
	reused, changed := 0, 0
	var firstChange error
	for _, o := range outcomes {
		if o.unique != "" {
			if seen[o.unique] {
				reused++
			}
			seen[o.unique] = true
		}
		if o.recheck != nil {
			if err := o.recheck(); err != nil {
				changed++
				if firstChange == nil {
					firstChange = err
				}
			}
		}
	}
	if reused > 0 {
		c.failf(FaultStore, "a fresh nonce or salt for every signature", fmt.Sprintf("%d repeated among %d concurrent signatures", reused, len(outcomes)),
			"%s: %d concurrent signatures of distinct inputs repeat an ECDSA r or PSS salt already used by another: state shared between calls", n, reused)
	}
	if changed > 0 {
		c.failf(FaultCryptoplug, "results that stay as returned", fmt.Sprintf("%d changed after the call returned", changed),
			"%s: %d results no longer verify after all goroutines finished (first: %v): the backend reuses a buffer it returned", n, changed, firstChange)
	}
}

// concurrentOpFor returns the verified operation the concurrency check runs
// with k: for RSA signing keys it alternates PKCS #1 v1.5 and PSS, for RSA
// decryption keys PKCS #1 v1.5 and OAEP-SHA-1.
func concurrentOpFor(k backend.Key, u backend.Usage) (concurrentOp, error) {
	a := k.Algorithm()
	pub := k.Public()
	op := concurrentOp{name: fmt.Sprintf("%s %s", a, usageName(u)), key: k}
	switch u {
	case backend.UsageSign:
		s, err := k.Signer()
		if err != nil {
			return op, fmt.Errorf("Signer(): %w", err)
		}
		op.do = func(c *cell, i int) (outcome, error) {
			var (
				input []byte
				opts  crypto.SignerOpts
				sig   []byte
				err   error
			)
			switch a.Family() {
			case backend.FamilyRSA:
				input, opts = randomDigest(crypto.SHA256), crypto.SHA256
				if i%2 == 1 {
					opts = &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}
				}
				sig, err = s.SignContext(c.ctx, rand.Reader, input, opts)
			case backend.FamilyECDSA:
				input, opts = randomDigest(a.CurveHash()), a.CurveHash()
				sig, err = s.SignContext(c.ctx, rand.Reader, input, opts)
			default:
				input, opts = randomBytes(32), crypto.Hash(0)
				sig, err = s.(backend.MessageSigner).SignMessageContext(c.ctx, rand.Reader, input, opts)
			}
			if err != nil {
				return outcome{}, err
			}
			if err := verify(pub, input, sig, opts); err != nil {
				return outcome{}, err
			}
			o := outcome{recheck: func() error { return verify(pub, input, sig, opts) }}
			switch p := pub.(type) {
			case *ecdsa.PublicKey:
				if rr, _, ok := parseECDSA(sig); ok {
					o.unique = "r " + rr.String()
				}
			case *rsa.PublicKey:
				if _, isPSS := opts.(*rsa.PSSOptions); isPSS {
					if salt, err := pssSalt(p, crypto.SHA256, input, sig); err == nil {
						o.unique = "salt " + string(salt)
					}
				}
			}
			return o, nil
		}
	case backend.UsageDecrypt:
		d, err := k.Decrypter()
		if err != nil {
			return op, fmt.Errorf("Decrypter(): %w", err)
		}
		rpub := pub.(*rsa.PublicKey)
		op.do = func(c *cell, i int) (outcome, error) {
			msg := randomBytes(32)
			var opts crypto.DecrypterOpts
			var ct []byte
			var err error
			if i%2 == 1 {
				opts = &rsa.OAEPOptions{Hash: crypto.SHA1}
				ct, err = rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, rpub, msg, nil)
			} else {
				ct, err = rsa.EncryptPKCS1v15(rand.Reader, rpub, msg)
			}
			if err != nil {
				return outcome{}, err
			}
			pt, err := d.DecryptContext(c.ctx, rand.Reader, ct, opts)
			if err != nil {
				return outcome{}, err
			}
			if !bytes.Equal(pt, msg) {
				return outcome{}, fmt.Errorf("%w: not the plaintext encrypted (another goroutine's?)", errWrongResult)
			}
			return outcome{recheck: func() error {
				if !bytes.Equal(pt, msg) {
					return fmt.Errorf("%w: the plaintext changed", errWrongResult)
				}
				return nil
			}}, nil
		}
	case backend.UsageDecapsulate:
		d, err := k.Decapsulator()
		if err != nil {
			return op, fmt.Errorf("Decapsulator(): %w", err)
		}
		ek, ok := pub.(crypto.Encapsulator)
		if !ok {
			return op, fmt.Errorf("public key %T is not a crypto.Encapsulator", pub)
		}
		op.do = func(c *cell, _ int) (outcome, error) {
			want, ct := ek.Encapsulate()
			got, err := d.DecapsulateContext(c.ctx, ct)
			if err != nil {
				return outcome{}, err
			}
			if !bytes.Equal(got, want) {
				return outcome{}, fmt.Errorf("%w: not the shared key encapsulated (another goroutine's?)", errWrongResult)
			}
			return outcome{recheck: func() error {
				if !bytes.Equal(got, want) {
					return fmt.Errorf("%w: the shared key changed", errWrongResult)
				}
				return nil
			}}, nil
		}
	}
	return op, nil
}
