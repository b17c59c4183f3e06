package main

import (
	"crypto/rand"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
)

func newSignCommand(a *app) *cobra.Command {
	var (
		kf      keyFlags
		sf      schemeFlags
		in, out string
	)
	cmd := &cobra.Command{
		Use:     "sign URI --key LABEL [--in FILE] [--out FILE]",
		Short:   "Sign a file or standard input",
		GroupID: groupOps,
		Long: `Sign the input with a key in the backend, with any scheme the key's algorithm has:

  RSA      PKCS1v15 (default) or PSS, over --hash (default SHA-256); PSS salt with --pss-salt
  ECDSA    over --hash (default: the curve's, SHA-256/384/512); the signature is ASN.1 DER
  Ed25519  pure (default), Ed25519ctx with --context, Ed25519ph (SHA-512 digest, optional context)
  Ed448    pure (default) or Ed448ph, both with an optional --context
  ML-DSA   pure, with an optional --context (FIPS 204)

The message is hashed as it is read, so a digest scheme signs files of any size; pure schemes
read the whole message (at most 256 MiB). --prehashed gives the digest itself. The signature
is checked against the public key before it is written, and written raw unless
--signature-format says base64 or hex; with -o json it is printed with its parameters.`,
		Example: `  cryptoplug sign "$URI" --key web --in release.tar.gz --out release.tar.gz.sig
  cryptoplug sign "$URI" --key rsa --scheme PSS --hash SHA-384 --in msg --signature-format base64
  printf hello | cryptoplug sign "$URI" --key ed --scheme Ed25519ph --context app-v1 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, k, err := a.openKey(ctx, "sign", args[0], kf)
			if err != nil {
				return err
			}
			defer t.close(&err)
			p, err := sf.plan(k.Algorithm())
			if err != nil {
				return t.fail(k.Label(), err)
			}
			if _, err := encodeSignature(nil, sf.sigFormat); err != nil {
				return t.fail(k.Label(), err)
			}
			if err := p.readSignInput(a.in, in); err != nil {
				return t.fail(k.Label(), err)
			}
			s, err := k.Signer()
			if err != nil {
				return t.fail(k.Label(), err)
			}
			// The options a Go caller would pass, checked as every backend
			// checks them; the parsed request is what the signature is
			// verified against.
			opts := p.req.Options()
			req, err := backend.ParseSignOptions(k.Algorithm(), k.Public(), p.req.Input, opts, false)
			if err != nil {
				return t.fail(k.Label(), err)
			}
			sig, err := s.SignContext(ctx, rand.Reader, p.req.Input, opts)
			if err != nil {
				return t.fail(k.Label(), err)
			}
			if !backend.VerifySignature(k.Public(), &req, sig) {
				return t.fail(k.Label(), fmt.Errorf("the backend returned a %s signature that does not verify under the key's public key; not written", req.Scheme))
			}
			if a.json() {
				j := describeRequest(k, &req)
				j.Signature = sig
				return printJSON(a.out, j)
			}
			b, err := encodeSignature(sig, sf.sigFormat)
			if err != nil {
				return t.fail(k.Label(), err)
			}
			return t.fail(k.Label(), writeOutput(a.out, out, b, 0o644))
		},
	}
	kf.add(cmd)
	sf.add(cmd)
	cmd.Flags().StringVar(&in, "in", "-", "the file to sign (- for standard input)")
	cmd.Flags().StringVar(&out, "out", "-", "write the signature to this new file instead of standard output")
	return cmd
}
