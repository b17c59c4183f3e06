package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

func newVerifyCommand(a *app) *cobra.Command {
	var (
		kf             keyFlags
		sf             schemeFlags
		in, sigPath    string
		pubPath        string
		maxSignatureSz = int64(64 << 10)
	)
	cmd := &cobra.Command{
		Use:     "verify [URI --key LABEL | --pubkey FILE] --signature FILE [--in FILE]",
		Short:   "Verify a signature over a file or standard input (exit 7 when it does not verify)",
		GroupID: groupOps,
		Long: `Verify a signature with a key's public key: a key in the backend (URI and --key), or a PEM
public key file (--pubkey, no backend needed). The scheme flags are sign's; the verification is
exact: PSS with --pss-salt hash accepts only a salt of the digest's size, auto accepts any.

Exit 0: the signature is valid. Exit 7: it is not. Any other code: the verification could not
be made (no such key, unreadable file, a scheme the key cannot have).`,
		Example: `  cryptoplug verify "$URI" --key web --in release.tar.gz --signature release.tar.gz.sig
  cryptoplug verify --pubkey web.pub.pem --in release.tar.gz --signature release.tar.gz.sig`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			var (
				pub   crypto.PublicKey
				alg   backend.Algorithm
				where = &opError{cmd: "verify"}
			)
			switch {
			case len(args) == 1 && pubPath != "":
				return usageErr("give a backend URI and --key, or --pubkey, not both")
			case len(args) == 1:
				t, k, oerr := a.openKey(ctx, "verify", args[0], kf)
				if oerr != nil {
					return oerr
				}
				defer t.close(&err) // the command's error, not this case's
				pub, alg = k.Public(), k.Algorithm()
				where = &opError{cmd: "verify", uri: t.redacted, key: k.Label()}
			case pubPath != "":
				pemText, err := readInput(a.in, pubPath, maxKeyFileLen)
				if err != nil {
					return err
				}
				if pub, err = wire.ParsePublicKey(string(pemText)); err != nil {
					return usagef("--pubkey %s: %v", pubPath, err)
				}
				if alg, err = algorithmOfPublic(pub); err != nil {
					return fmt.Errorf("--pubkey %s: %w", pubPath, err)
				}
				where = &opError{cmd: "verify", uri: pubPath}
			default:
				return usageErr("give a backend URI and --key, or --pubkey FILE")
			}
			fail := func(err error) error {
				if err == nil {
					return nil
				}
				e := *where
				e.err = err
				return &e
			}
			if sigPath == "" {
				return fail(usageErr("--signature FILE is required"))
			}
			if (in == "" || in == "-") && sigPath == "-" {
				return fail(usageErr("the input and the signature cannot both come from standard input"))
			}
			p, err := sf.plan(alg)
			if err != nil {
				return fail(err)
			}
			rawSig, err := readInput(a.in, sigPath, maxSignatureSz)
			if err != nil {
				return fail(err)
			}
			sig, err := decodeSignature(rawSig, sf.sigFormat)
			if err != nil {
				return fail(err)
			}
			if err := p.readSignInput(a.in, in); err != nil {
				return fail(err)
			}
			req, err := backend.ParseSignOptions(alg, pub, p.req.Input, p.req.Options(), false)
			if err != nil {
				return fail(err)
			}
			valid := backend.VerifySignature(pub, &req, sig)
			if a.json() {
				j := signatureJSON{Algorithm: string(alg), Scheme: req.Scheme.String(), Valid: &valid}
				if where.key != "" {
					j.Key = where.key
				}
				if req.Hash != 0 {
					j.Hash = req.Hash.String()
				}
				if err := printJSON(a.out, j); err != nil {
					return fail(err)
				}
			} else if valid {
				fmt.Fprintln(a.out, "signature OK")
			}
			if !valid {
				return fail(fmt.Errorf("%s signature: %w", req.Scheme, errBadSignature))
			}
			return nil
		},
	}
	kf.add(cmd)
	sf.add(cmd)
	cmd.Flags().StringVar(&in, "in", "-", "the signed file (- for standard input)")
	cmd.Flags().StringVarP(&sigPath, "signature", "s", "", "the signature file (required)")
	cmd.Flags().StringVar(&pubPath, "pubkey", "", "verify with this PEM public key instead of a backend's key")
	return cmd
}

// algorithmOfPublic returns the algorithm of a public key.
func algorithmOfPublic(pub crypto.PublicKey) (backend.Algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return backend.RSA2048, nil
		case 3072:
			return backend.RSA3072, nil
		case 4096:
			return backend.RSA4096, nil
		}
	case *ecdsa.PublicKey:
		for _, a := range []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521} {
			if k.Curve == a.Curve() {
				return a, nil
			}
		}
	case ed25519.PublicKey:
		return backend.Ed25519, nil
	case ed448.PublicKey:
		return backend.Ed448, nil
	case *mldsa44.PublicKey:
		return backend.MLDSA44, nil
	case *mldsa65.PublicKey:
		return backend.MLDSA65, nil
	case *mldsa87.PublicKey:
		return backend.MLDSA87, nil
	case *mlkem.EncapsulationKey768:
		return backend.MLKEM768, nil
	case *mlkem.EncapsulationKey1024:
		return backend.MLKEM1024, nil
	}
	return "", fmt.Errorf("a %s public key of this size is not one cryptoplug knows: %w", algorithmName(pub), backend.ErrUnsupported)
}
