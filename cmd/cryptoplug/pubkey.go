package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/ed448"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

func newPubkeyCommand(a *app) *cobra.Command {
	var (
		kf     keyFlags
		format string
		out    string
	)
	cmd := &cobra.Command{
		Use:     "pubkey URI --key LABEL [--format pem|jwk|ssh]",
		Short:   "Print a key's public key as PEM, JWK or an SSH authorized_keys line",
		GroupID: groupKeys,
		Long: `Print a key's public key.

  pem  a PEM "PUBLIC KEY" block holding the PKIX SubjectPublicKeyInfo (every algorithm; Ed448,
       ML-DSA and ML-KEM with their RFC 8410 / NIST OIDs), as openssl pkey -pubout writes it
  jwk  a JSON Web Key (RFC 7517): RSA, EC (P-256/384/521), OKP (Ed25519, Ed448, RFC 8037) and
       AKP for ML-DSA (draft-ietf-cose-dilithium); "kid" is the RFC 7638 thumbprint
  ssh  an authorized_keys line (RSA, ECDSA, Ed25519), commented with the key's label`,
		Example: `  cryptoplug pubkey "$URI" --key web > web.pub.pem
  cryptoplug pubkey "$URI" --key deploy --format ssh >> ~/.ssh/authorized_keys`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			enc, ok := pubkeyFormats[strings.ToLower(format)]
			if !ok {
				return &opError{cmd: "pubkey", uri: backend.RedactURI(args[0]), err: usagef("--format %q: want pem, jwk or ssh", format)}
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, k, err := a.openKey(ctx, "pubkey", args[0], kf)
			if err != nil {
				return err
			}
			defer t.close(&err)
			b, err := enc(k.Public(), k.Label())
			if err != nil {
				return t.fail(k.Label(), err)
			}
			if a.json() {
				var v any = string(b) // PEM and SSH: the text, in a string
				if strings.EqualFold(format, "jwk") {
					v = json.RawMessage(b)
				}
				b, err = json.MarshalIndent(struct {
					Key       string `json:"key"`
					ID        string `json:"id"`
					Algorithm string `json:"algorithm"`
					Format    string `json:"format"`
					PublicKey any    `json:"public_key"`
				}{k.Label(), k.ID().String(), string(k.Algorithm()), strings.ToLower(format), v}, "", "  ")
				if err != nil {
					return t.fail(k.Label(), err)
				}
				b = append(b, '\n')
			}
			return t.fail(k.Label(), writeOutput(a.out, out, b, 0o644))
		},
	}
	kf.add(cmd)
	cmd.Flags().StringVarP(&format, "format", "f", "pem", "pem, jwk or ssh")
	cmd.Flags().StringVar(&out, "out", "-", "write to this new file instead of standard output")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"pem", "jwk", "ssh"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// pubkeyFormats encode a public key; label is the key's label, for formats
// that carry a comment.
var pubkeyFormats = map[string]func(pub crypto.PublicKey, label string) ([]byte, error){
	"pem": func(pub crypto.PublicKey, _ string) ([]byte, error) {
		s, err := wire.MarshalPublicKey(pub)
		return []byte(s), err
	},
	"jwk": func(pub crypto.PublicKey, _ string) ([]byte, error) {
		j, err := newJWK(pub)
		if err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(j, "", "  ")
		return append(b, '\n'), err
	},
	"ssh": func(pub crypto.PublicKey, label string) ([]byte, error) {
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("SSH has no format for %s keys: %w", algorithmName(pub), backend.ErrUnsupported)
		}
		line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sp)), "\n")
		// A comment with a space or control character would change the
		// line's meaning to sshd; keep printable ASCII only.
		comment := strings.Map(func(r rune) rune {
			if r <= ' ' || r > '~' {
				return '_'
			}
			return r
		}, label)
		return []byte(line + " " + comment + "\n"), nil
	},
}

// jwk is a public JSON Web Key. Members are in the order RFC 7517's
// examples use; only those of the key type are set.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	Pub string `json:"pub,omitempty"`
}

var b64 = base64.RawURLEncoding

// newJWK returns the JWK of pub with its RFC 7638 thumbprint as kid.
func newJWK(pub crypto.PublicKey) (*jwk, error) {
	var j jwk
	switch k := pub.(type) {
	case *rsa.PublicKey:
		j = jwk{Kty: "RSA", N: b64.EncodeToString(k.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes() // 0x04 || X || Y, each the field's full length as RFC 7518 requires
		if err != nil {
			return nil, err
		}
		n := (len(raw) - 1) / 2
		j = jwk{Kty: "EC", Crv: k.Curve.Params().Name, X: b64.EncodeToString(raw[1 : 1+n]), Y: b64.EncodeToString(raw[1+n:])}
	case ed25519.PublicKey:
		j = jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k)}
	case ed448.PublicKey:
		j = jwk{Kty: "OKP", Crv: "Ed448", X: b64.EncodeToString(k)}
	case sign.PublicKey:
		raw, err := k.MarshalBinary()
		if err != nil {
			return nil, err
		}
		j = jwk{Kty: "AKP", Alg: k.Scheme().Name(), Pub: b64.EncodeToString(raw)}
	default:
		return nil, fmt.Errorf("JWK has no registered format for %s keys: %w", algorithmName(pub), backend.ErrUnsupported)
	}
	j.Kid = j.thumbprint()
	return &j, nil
}

// thumbprint is the RFC 7638 thumbprint: SHA-256 over the required
// members in lexicographic order, without whitespace.
func (j *jwk) thumbprint() string {
	var members [][2]string
	switch j.Kty {
	case "RSA":
		members = [][2]string{{"e", j.E}, {"kty", j.Kty}, {"n", j.N}}
	case "EC":
		members = [][2]string{{"crv", j.Crv}, {"kty", j.Kty}, {"x", j.X}, {"y", j.Y}}
	case "OKP":
		members = [][2]string{{"crv", j.Crv}, {"kty", j.Kty}, {"x", j.X}}
	case "AKP":
		members = [][2]string{{"alg", j.Alg}, {"kty", j.Kty}, {"pub", j.Pub}}
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		// Every value here is base64url or a fixed name: no escaping needed.
		fmt.Fprintf(&b, "%q:%q", m[0], m[1])
	}
	b.WriteByte('}')
	sum := sha256.Sum256([]byte(b.String()))
	return b64.EncodeToString(sum[:])
}

// algorithmName names a public key's type for messages.
func algorithmName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	case ed448.PublicKey:
		return "Ed448"
	case sign.PublicKey:
		return k.Scheme().Name()
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", pub), "*")
}
