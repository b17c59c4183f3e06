package conformance

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// The suite knows the private key of every key it imports, so it can look
// for that key in every error the backend returns. A secret is indexed as
// overlapping windows of leakWindow bytes, taken every leakStride bytes;
// any run of leakWindow+leakStride-1 (19) consecutive secret bytes in an
// error, under any of the encodings an error is likely to use (raw bytes,
// hex in either case, standard or URL base64, a decimal integer as %v prints
// a *big.Int, a byte list as %v and %#v print a []byte), contains a window
// and is found. Sixteen random bytes never match by chance.
const (
	leakWindow = 16
	leakStride = 4
)

// secretIndex maps each window of every known secret to a description of
// the secret ("D of the RSA-2048 key imported as …"). Not safe for
// concurrent use; the recorder guards it.
type secretIndex struct {
	windows map[[leakWindow]byte]string
}

// add indexes secret under the description what. Secrets shorter than a
// window are indexed whole, zero-padded (none of the keys the suite imports
// has a component that short).
func (s *secretIndex) add(what string, secret []byte) {
	if s.windows == nil {
		s.windows = map[[leakWindow]byte]string{}
	}
	if len(secret) < leakWindow {
		return
	}
	var w [leakWindow]byte
	for i := 0; ; i += leakStride {
		if i+leakWindow > len(secret) {
			i = len(secret) - leakWindow // the tail, so that the last bytes are covered too
		}
		copy(w[:], secret[i:i+leakWindow])
		if _, known := s.windows[w]; !known { // the first key a secret was seen in names it
			s.windows[w] = what
		}
		if i == len(secret)-leakWindow {
			return
		}
	}
}

// find returns the description of a secret some window of b belongs to.
func (s *secretIndex) find(b []byte) (string, bool) {
	var w [leakWindow]byte
	for i := 0; i+leakWindow <= len(b); i++ {
		copy(w[:], b[i:i+leakWindow])
		if what, ok := s.windows[w]; ok {
			return what, true
		}
	}
	return "", false
}

// scan looks for a known secret in text under every encoding it knows, and
// returns the secret's description and the encoding it was found in.
func (s *secretIndex) scan(text string) (what, encoding string, found bool) {
	if len(s.windows) == 0 || len(text) < leakWindow {
		return "", "", false
	}
	if what, ok := s.find([]byte(text)); ok {
		return what, "raw bytes", true
	}
	for _, run := range runs(text, isHexDigit, 2*leakWindow) {
		for off := range 2 {
			r := run[off:]
			b, _ := hex.DecodeString(r[:len(r)/2*2])
			if what, ok := s.find(b); ok {
				return what, "hex", true
			}
		}
	}
	for _, run := range runs(text, isBase64Char, 4*leakWindow/3+4) {
		std := strings.NewReplacer("-", "+", "_", "/").Replace(run)
		for off := range 4 {
			r := std[off:]
			b, _ := base64.RawStdEncoding.DecodeString(r[:len(r)/4*4])
			if what, ok := s.find(b); ok {
				return what, "base64", true
			}
		}
	}
	for _, run := range runs(text, isDecimalDigit, 20) {
		n, ok := new(big.Int).SetString(run, 10)
		if !ok {
			continue
		}
		if what, ok := s.find(n.Bytes()); ok {
			return what, "a decimal integer", true
		}
	}
	for _, b := range byteLists(text) {
		if what, ok := s.find(b); ok {
			return what, "a byte list", true
		}
	}
	return "", "", false
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDecimalDigit(c byte) bool { return '0' <= c && c <= '9' }

func isBase64Char(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '+' || c == '/' || c == '-' || c == '_'
}

// runs returns the maximal runs of characters in text for which in is true,
// of at least minLen characters.
func runs(text string, in func(byte) bool, minLen int) []string {
	var out []string
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && in(text[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= minLen {
			out = append(out, text[start:i])
		}
		start = -1
	}
	return out
}

// byteLists finds sequences of at least leakWindow numbers from 0 to 255,
// decimal or 0x-prefixed hex, separated by a space or ", ": how %v and %#v
// print a []byte ("[157 23 …]", "[]byte{0x9d, 0x17, …}").
func byteLists(text string) [][]byte {
	var out [][]byte
	var cur []byte
	flush := func() {
		if len(cur) >= leakWindow {
			out = append(out, cur)
		}
		cur = nil
	}
	i := 0
	for i < len(text) {
		j := i
		base := 10
		if strings.HasPrefix(text[i:], "0x") {
			base, j = 16, i+2
		}
		k := j
		for k < len(text) && (base == 10 && isDecimalDigit(text[k]) || base == 16 && isHexDigit(text[k])) {
			k++
		}
		if k == j {
			flush()
			i++
			continue
		}
		v, err := strconv.ParseUint(text[j:k], base, 16)
		if err != nil || v > 255 {
			flush()
			i = k
			continue
		}
		cur = append(cur, byte(v))
		// The separator decides whether the list goes on.
		switch {
		case strings.HasPrefix(text[k:], ", "):
			i = k + 2
		case strings.HasPrefix(text[k:], " "), strings.HasPrefix(text[k:], ","):
			i = k + 1
		default:
			flush()
			i = k
		}
	}
	flush()
	return out
}

// privateParts returns the secret components of a private key of any type
// backend.Importer accepts, each with its name. Public parts (an RSA
// modulus, ML-DSA's rho and tr, the public half of an Ed25519 key) are left
// out: an error may name a public key.
func privateParts(priv any) map[string][]byte {
	parts := map[string][]byte{}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if k == nil || k.D == nil {
			return parts
		}
		parts["private exponent D"] = k.D.Bytes()
		for i, p := range k.Primes {
			if p != nil {
				parts["prime "+strconv.Itoa(i+1)] = p.Bytes()
			}
		}
		if len(k.Primes) == 2 && k.Primes[0] != nil && k.Primes[1] != nil {
			p, q := k.Primes[0], k.Primes[1]
			one := big.NewInt(1)
			parts["CRT exponent dP"] = new(big.Int).Mod(k.D, new(big.Int).Sub(p, one)).Bytes()
			parts["CRT exponent dQ"] = new(big.Int).Mod(k.D, new(big.Int).Sub(q, one)).Bytes()
			if qinv := new(big.Int).ModInverse(q, p); qinv != nil {
				parts["CRT coefficient qInv"] = qinv.Bytes()
			}
		}
	case *ecdsa.PrivateKey:
		if k == nil {
			return parts
		}
		if b, err := k.Bytes(); err == nil {
			parts["scalar D (fixed length)"] = b
			parts["scalar D"] = new(big.Int).SetBytes(b).Bytes() // as %v or %x of a *big.Int prints it
		}
	case ed25519.PrivateKey:
		if len(k) == ed25519.PrivateKeySize {
			parts["seed"] = k.Seed()
		}
	case ed448.PrivateKey:
		if len(k) == ed448.PrivateKeySize {
			parts["seed"] = k.Seed()
		}
	case *mldsa44.PrivateKey:
		if k != nil {
			addMLDSA(parts, k.Bytes(), k.Seed())
		}
	case *mldsa65.PrivateKey:
		if k != nil {
			addMLDSA(parts, k.Bytes(), k.Seed())
		}
	case *mldsa87.PrivateKey:
		if k != nil {
			addMLDSA(parts, k.Bytes(), k.Seed())
		}
	case *mlkem.DecapsulationKey768:
		if k != nil {
			parts["seed"] = k.Bytes()
		}
	case *mlkem.DecapsulationKey1024:
		if k != nil {
			parts["seed"] = k.Bytes()
		}
	}
	return parts
}

// addMLDSA adds the secret parts of an ML-DSA private key: its seed when
// the key still knows it, and from the packed form (FIPS 204 skEncode: rho,
// K, tr, s1, s2, t0) K and what follows tr.
func addMLDSA(parts map[string][]byte, packed, seed []byte) {
	if seed != nil {
		parts["seed"] = seed
	}
	if len(packed) < 128+leakWindow {
		return
	}
	parts["signing seed K"] = packed[32:64]
	parts["secret vectors s1, s2, t0"] = packed[128:]
}
