//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// concurrentOp is one kind of work the concurrency check spreads over its
// goroutines: an operation with one shared key, verified.
type concurrentOp struct {
	name string
	key  backend.Key
	do   func(c *cell, i int) error
}

// checkConcurrency runs goroutines × operations (32 × 20 by default, see
// [WithConcurrency]) across every shared key at once: signatures (verified),
// decryptions and decapsulations (compared), with lookups by ID and a
// listing mixed in. Run it under the race detector to find data races in
// the backend; any failed or wrong result fails the check.
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
				c.Errorf("%s %s key: %v", a, usageName(u), err)
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
		wg    sync.WaitGroup
		mu    sync.Mutex
		fails = map[string][]string{}
		done  = map[string]int{}
	)
	record := func(name string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fails[name] = append(fails[name], err.Error())
			return
		}
		done[name]++
	}
	start := time.Now()
	for g := range r.cfg.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					record("panic", fmt.Errorf("goroutine %d: %v", g, p))
				}
			}()
			for i := range r.cfg.opsPerGoroutine {
				if c.ctx.Err() != nil {
					record("timeout", c.ctx.Err())
					return
				}
				op := ops[(g+i)%len(ops)]
				switch {
				case i%16 == 15 && g%8 == 0:
					_, err := b.Keys(c.ctx)
					record("Keys", err)
				case i%8 == 7:
					k, err := b.Key(c.ctx, backend.ByID(op.key.ID()))
					if err == nil && !publicEqual(k.Public(), op.key.Public()) {
						err = fmt.Errorf("Key(%s) returned a different public key", op.key.ID())
					}
					record("Key", err)
				default:
					record(op.name, op.do(c, g*r.cfg.opsPerGoroutine+i))
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
		if f := fails[n]; len(f) > 0 {
			c.Errorf("%s: %d of %d concurrent operations failed, first: %s", n, len(f), len(f)+done[n], f[0])
		}
	}
	c.Notef("%d goroutines × %d operations in %v: %s", r.cfg.goroutines, r.cfg.opsPerGoroutine,
		took.Round(time.Millisecond), strings.Join(summary, ", "))
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
		op.do = func(c *cell, i int) error {
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
				return err
			}
			return verify(pub, input, sig, opts)
		}
	case backend.UsageDecrypt:
		d, err := k.Decrypter()
		if err != nil {
			return op, fmt.Errorf("Decrypter(): %w", err)
		}
		rpub := pub.(*rsa.PublicKey)
		op.do = func(c *cell, i int) error {
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
				return err
			}
			pt, err := d.DecryptContext(c.ctx, rand.Reader, ct, opts)
			if err == nil && !bytes.Equal(pt, msg) {
				err = fmt.Errorf("wrong plaintext")
			}
			return err
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
		op.do = func(c *cell, _ int) error {
			want, ct := ek.Encapsulate()
			got, err := d.DecapsulateContext(c.ctx, ct)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("wrong shared key")
			}
			return err
		}
	}
	return op, nil
}
