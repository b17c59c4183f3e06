package conformance

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
)

// ed25519Vector is one line of the Ed25519 known-answer file that ships with
// Go (GOROOT/src/crypto/ed25519/testdata/sign.input.gz, from SUPERCOP):
// seed, public key, message and signature.
type ed25519Vector struct {
	seed, pub, msg, sig []byte
}

func loadEd25519Vectors() ([]ed25519Vector, string, error) {
	path := filepath.Join(goroot(), "src", "crypto", "ed25519", "testdata", "sign.input.gz")
	f, err := os.Open(path)
	if err != nil {
		return nil, path, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, path, err
	}
	var out []ed25519Vector
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ":")
		if len(parts) != 5 {
			return nil, path, fmt.Errorf("%s: malformed line", path)
		}
		var v [4][]byte
		for i := range v {
			if v[i], err = hex.DecodeString(parts[i]); err != nil {
				return nil, path, fmt.Errorf("%s: %v", path, err)
			}
		}
		if len(v[0]) != 64 || len(v[3]) < ed25519.SignatureSize {
			return nil, path, fmt.Errorf("%s: malformed line", path)
		}
		out = append(out, ed25519Vector{seed: v[0][:32], pub: v[1], msg: v[2], sig: v[3][:ed25519.SignatureSize]})
	}
	return out, path, sc.Err()
}

// checkKnownAnswerEdDSA imports Ed25519 keys from the known-answer file
// that ships with Go and signs each message: Ed25519 is deterministic, so
// every signature must equal the expected bytes. (Wycheproof's
// ed25519_test.json and ed448_test.json hold public keys only, so they
// cannot test a signer; Ed448 is recorded as skipped.)
func checkKnownAnswerEdDSA(r *runner, c *cell, a backend.Algorithm) {
	imp := r.knownAnswers(c, a, backend.OpSign)
	if a != backend.Ed25519 {
		c.Skip("no %s private-key vectors: Wycheproof's ed448_test.json holds public keys only", a)
	}
	vectors, path, err := loadEd25519Vectors()
	if err != nil {
		c.Skip("Go's Ed25519 vectors are not readable here: %v", err)
	}
	if l := r.cfg.wycheproofLimit; l > 0 && len(vectors) > l {
		vectors = vectors[:l]
	}
	pass := 0
	for i, v := range vectors {
		priv := ed25519.NewKeyFromSeed(v.seed)
		if !bytes.Equal(priv.Public().(ed25519.PublicKey), v.pub) {
			c.suiteFatal("%s line %d: the seed does not give the listed public key", path, i+1)
		}
		err := r.withImported(c, imp, a, backend.UsageSign, fmt.Sprintf("ed25519-%d", i), priv, func(k backend.Key) {
			s, err := k.Signer()
			if err != nil {
				c.callFatal("Signer()", err)
			}
			ms, ok := s.(backend.MessageSigner)
			if !ok {
				c.fatalf(FaultCryptoplug, "a backend.MessageSigner", fmt.Sprintf("%T", s), "the Signer of an Ed25519 key is not a backend.MessageSigner")
			}
			sig, err := ms.SignMessageContext(c.ctx, rand.Reader, v.msg, crypto.Hash(0))
			switch {
			case err != nil:
				c.callFailed(fmt.Sprintf("line %d", i+1), err)
			case !bytes.Equal(sig, v.sig):
				c.failf(FaultStore, "the expected deterministic signature", "other bytes", "line %d (%d-byte message): signature differs from the expected one", i+1, len(v.msg))
			default:
				pass++
			}
		})
		if err != nil {
			c.callFailed(fmt.Sprintf("line %d: import", i+1), err)
		}
	}
	c.Notef("%d of %d Ed25519 signatures equal the expected ones (%s)", pass, len(vectors), filepath.Base(path))
}
