package main

import (
	"crypto"
	_ "crypto/sha256" // the hashes --hash names
	_ "crypto/sha3"
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
)

// schemeFlags map the command line to a signature scheme and its
// parameters, which become the standard library's option types through
// backend.SignRequest.Options: the flags say what a Go caller would put in
// crypto.Hash, *rsa.PSSOptions, *ed25519.Options, ed448.SignerOptions or
// backend.MLDSAOptions.
type schemeFlags struct {
	scheme     string
	hash       string
	salt       string
	context    string
	contextHex string
	prehashed  bool
	sigFormat  string
}

func (f *schemeFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.scheme, "scheme", "", "signature scheme: PKCS1v15 or PSS (RSA), ECDSA, Ed25519, Ed25519ph, Ed448, Ed448ph, ML-DSA (default: PKCS1v15 for RSA, the key's own otherwise)")
	fl.StringVar(&f.hash, "hash", "", "digest hash for PKCS1v15, PSS and ECDSA: SHA-224, SHA-256, SHA-384, SHA-512, SHA3-256, SHA3-384, SHA3-512 (default: SHA-256 for RSA, the curve's hash for ECDSA)")
	fl.StringVar(&f.salt, "pss-salt", "hash", "PSS salt length: hash (the digest's size, what TLS and X.509 require), auto (sign with the largest, verify any), or a number of bytes")
	fl.StringVar(&f.context, "context", "", "context string for Ed25519 (Ed25519ctx), Ed25519ph, Ed448, Ed448ph and ML-DSA, at most 255 bytes")
	fl.StringVar(&f.contextHex, "context-hex", "", "the context in hex, for a binary context")
	fl.BoolVar(&f.prehashed, "prehashed", false, "the input is the digest itself (raw bytes of the hash's size), not the message: for PKCS1v15, PSS, ECDSA and Ed25519ph")
	fl.StringVar(&f.sigFormat, "signature-format", "raw", "how the signature is written or read: raw, base64 or hex")
	_ = cmd.RegisterFlagCompletionFunc("scheme", cobra.FixedCompletions(
		[]string{"PKCS1v15", "PSS", "ECDSA", "Ed25519", "Ed25519ph", "Ed448", "Ed448ph", "ML-DSA"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("hash", cobra.FixedCompletions(
		[]string{"SHA-224", "SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("signature-format", cobra.FixedCompletions([]string{"raw", "base64", "hex"}, cobra.ShellCompDirectiveNoFileComp))
}

// signatureHashes are the hashes --hash takes, by every spelling: the
// allow-list of backend.SignatureHashAllowed.
var signatureHashes = map[string]crypto.Hash{
	"sha224": crypto.SHA224, "sha-224": crypto.SHA224,
	"sha256": crypto.SHA256, "sha-256": crypto.SHA256,
	"sha384": crypto.SHA384, "sha-384": crypto.SHA384,
	"sha512": crypto.SHA512, "sha-512": crypto.SHA512,
	"sha3-256": crypto.SHA3_256, "sha3_256": crypto.SHA3_256,
	"sha3-384": crypto.SHA3_384, "sha3_384": crypto.SHA3_384,
	"sha3-512": crypto.SHA3_512, "sha3_512": crypto.SHA3_512,
}

// plan is a signing or verification request before its input is read:
// the scheme and parameters, and whether the input is to be hashed.
type plan struct {
	req    backend.SignRequest // Input is set once the input is read
	hashIn bool                // the input is a message to hash with req.Hash
}

// plan resolves the flags for a key of algorithm alg. Combinations the
// algorithm cannot have fail with a usage error here, before any input
// is read; what is left (salt too long for the modulus, context too long)
// fails in backend.ParseSignOptions like any Go caller's options.
func (f *schemeFlags) plan(alg backend.Algorithm) (plan, error) {
	var p plan
	scheme, err := f.resolveScheme(alg)
	if err != nil {
		return p, err
	}
	p.req.Scheme = scheme
	ctx, err := f.contextBytes()
	if err != nil {
		return p, err
	}
	switch scheme {
	case backend.SchemePKCS1v15, backend.SchemePSS, backend.SchemeECDSA:
		if ctx != nil {
			return p, usagef("--context: %s takes no context", scheme)
		}
		h := crypto.SHA256
		if scheme == backend.SchemeECDSA {
			h = alg.CurveHash()
		}
		if f.hash != "" {
			var ok bool
			if h, ok = signatureHashes[strings.ToLower(f.hash)]; !ok {
				return p, usagef("--hash %q: want SHA-224, SHA-256, SHA-384, SHA-512, SHA3-256, SHA3-384 or SHA3-512", f.hash)
			}
		}
		p.req.Hash, p.hashIn = h, !f.prehashed
		if scheme == backend.SchemePSS {
			if err := f.resolveSalt(&p.req); err != nil {
				return p, err
			}
		}
	case backend.SchemeEd25519ph:
		if f.hash != "" && signatureHashes[strings.ToLower(f.hash)] != crypto.SHA512 {
			return p, usagef("--hash: Ed25519ph hashes with SHA-512 only")
		}
		p.req.Hash, p.hashIn, p.req.Context = crypto.SHA512, !f.prehashed, ctx
	default: // pure schemes sign the message itself
		if f.hash != "" {
			return p, usagef("--hash: %s signs the whole message; it takes no hash (Ed25519ph does)", scheme)
		}
		if f.prehashed {
			return p, usagef("--prehashed: %s signs the whole message (Ed448ph hashes it inside the store)", scheme)
		}
		p.req.Context = ctx // Ed25519 with a context is Ed25519ctx (RFC 8032)
	}
	if scheme != backend.SchemePSS && f.salt != "hash" {
		return p, usagef("--pss-salt: only for the PSS scheme")
	}
	return p, nil
}

// resolveScheme returns --scheme, or the algorithm's default, checked
// against the algorithm's family.
func (f *schemeFlags) resolveScheme(alg backend.Algorithm) (backend.SignScheme, error) {
	allowed := map[backend.Family][]backend.SignScheme{
		backend.FamilyRSA:   {backend.SchemePKCS1v15, backend.SchemePSS},
		backend.FamilyECDSA: {backend.SchemeECDSA},
		backend.FamilyMLDSA: {backend.SchemeMLDSA},
	}
	switch alg {
	case backend.Ed25519:
		allowed[backend.FamilyEdDSA] = []backend.SignScheme{backend.SchemeEd25519, backend.SchemeEd25519ph}
	case backend.Ed448:
		allowed[backend.FamilyEdDSA] = []backend.SignScheme{backend.SchemeEd448, backend.SchemeEd448ph}
	}
	choices := allowed[alg.Family()]
	if len(choices) == 0 {
		return 0, fmt.Errorf("%s keys do not sign: %w", alg, backend.ErrUnsupported)
	}
	if f.scheme == "" {
		return choices[0], nil
	}
	name := strings.ToLower(strings.ReplaceAll(f.scheme, "_", "-"))
	if name == "ed25519ctx" {
		name = "ed25519"
	}
	for _, s := range choices {
		if strings.ToLower(s.String()) == name || strings.ReplaceAll(strings.ToLower(s.String()), "-", "") == name {
			return s, nil
		}
	}
	var names []string
	for _, s := range choices {
		names = append(names, s.String())
	}
	return 0, usagef("--scheme %q: a %s key signs with %s", f.scheme, alg, strings.Join(names, " or "))
}

func (f *schemeFlags) resolveSalt(req *backend.SignRequest) error {
	switch strings.ToLower(f.salt) {
	case "hash", "equals-hash", "":
		req.SaltLength = req.Hash.Size()
	case "auto":
		req.SaltAuto = true
	default:
		n, err := strconv.Atoi(f.salt)
		if err != nil || n < 1 || n > 1024 {
			// The standard library's PSSOptions reads 0 as "auto", so a
			// zero-length salt cannot be asked for.
			return usagef("--pss-salt %q: want hash, auto, or 1 to 1024 bytes", f.salt)
		}
		req.SaltLength = n
	}
	return nil
}

func (f *schemeFlags) contextBytes() ([]byte, error) {
	switch {
	case f.context != "" && f.contextHex != "":
		return nil, usageErr("give --context or --context-hex, not both")
	case f.contextHex != "":
		b, err := hex.DecodeString(f.contextHex)
		if err != nil {
			return nil, usagef("--context-hex: %v", err)
		}
		return b, checkContextLen(b)
	case f.context != "":
		return []byte(f.context), checkContextLen([]byte(f.context))
	}
	return nil, nil
}

func checkContextLen(b []byte) error {
	if len(b) > backend.MaxSignContextLen {
		return usagef("the context is %d bytes, at most %d", len(b), backend.MaxSignContextLen)
	}
	return nil
}

// readSignInput reads the input the plan signs or verifies: a message
// hashed as it streams (no size limit), a digest given whole, or a message
// for a pure scheme, read whole up to maxInputLen.
func (p *plan) readSignInput(in io.Reader, path string) error {
	if p.hashIn {
		r, name, closeFn, err := openInput(in, path)
		if err != nil {
			return err
		}
		defer closeFn()
		h := p.req.Hash.New()
		if _, err := io.Copy(h, r); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		p.req.Input = h.Sum(nil)
		return nil
	}
	b, err := readInput(in, path, maxInputLen)
	if err != nil {
		return err
	}
	if p.req.Scheme.Digest() && len(b) != p.req.Hash.Size() {
		return usagef("--prehashed: the input is %d bytes, a %v digest is %d", len(b), p.req.Hash, p.req.Hash.Size())
	}
	p.req.Input = b
	return nil
}

// encodeSignature formats sig for output.
func encodeSignature(sig []byte, format string) ([]byte, error) {
	switch strings.ToLower(format) {
	case "raw":
		return sig, nil
	case "base64":
		return []byte(base64.StdEncoding.EncodeToString(sig) + "\n"), nil
	case "hex":
		return []byte(hex.EncodeToString(sig) + "\n"), nil
	}
	return nil, usagef("--signature-format %q: want raw, base64 or hex", format)
}

// decodeSignature reads a signature written by encodeSignature.
func decodeSignature(b []byte, format string) ([]byte, error) {
	switch strings.ToLower(format) {
	case "raw":
		return b, nil
	case "base64":
		s, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, usagef("the signature is not base64: %v", err)
		}
		return s, nil
	case "hex":
		s, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, usagef("the signature is not hex: %v", err)
		}
		return s, nil
	}
	return nil, usagef("--signature-format %q: want raw, base64 or hex", format)
}

// signatureJSON is the JSON form of a signature and how it was made.
type signatureJSON struct {
	Key        string `json:"key"`
	KeyID      string `json:"key_id"`
	Algorithm  string `json:"algorithm"`
	Scheme     string `json:"scheme"`
	Hash       string `json:"hash,omitempty"`
	SaltLength int    `json:"pss_salt_length,omitempty"`
	Context    string `json:"context_hex,omitempty"`
	Signature  []byte `json:"signature,omitempty"` // base64
	Valid      *bool  `json:"valid,omitempty"`
}

func describeRequest(k backend.Key, req *backend.SignRequest) signatureJSON {
	s := signatureJSON{Key: k.Label(), KeyID: k.ID().String(), Algorithm: string(k.Algorithm()), Scheme: req.Scheme.String(),
		Context: hex.EncodeToString(req.Context)}
	if req.Hash != 0 {
		s.Hash = req.Hash.String()
	}
	if req.Scheme == backend.SchemePSS && !req.SaltAuto {
		s.SaltLength = req.SaltLength
	}
	return s
}
