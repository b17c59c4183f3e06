package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
	"github.com/cryptoplug/cryptoplug/wire"
)

func newKeysCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Short:   "List, show, generate, import and delete keys",
		GroupID: groupKeys,
		Args:    subcommandArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newKeysListCommand(a), newKeysShowCommand(a), newKeysGenerateCommand(a),
		newKeysImportCommand(a), newKeysDeleteCommand(a))
	return cmd
}

// keyInfo is how a key is printed.
type keyInfo struct {
	Label     string   `json:"label"`
	ID        string   `json:"id"`
	Algorithm string   `json:"algorithm"`
	Usage     []string `json:"usage"`
	// SPKISHA256 is the SHA-256 of the public key's PKIX encoding, in hex:
	// what identifies the key to a certificate authority or a pinning
	// client (openssl pkey -pubout -outform DER | sha256sum).
	SPKISHA256 string `json:"spki_sha256,omitempty"`
	// URI is the key's RFC 7512 URI, for PKCS #11 tokens.
	URI string `json:"uri,omitempty"`
}

func describeKey(t *target, k backend.Key) keyInfo {
	ki := keyInfo{Label: k.Label(), ID: k.ID().String(), Algorithm: string(k.Algorithm()), Usage: usageOf(k)}
	if der, err := wire.MarshalPKIX(k.Public()); err == nil {
		sum := sha256.Sum256(der)
		ki.SPKISHA256 = hex.EncodeToString(sum[:])
	}
	if t.uri.Scheme == "pkcs11" {
		ki.URI = pkcs11KeyURI(t.uri, k)
	}
	return ki
}

// usageOf lists the operations the key offers.
func usageOf(k backend.Key) []string {
	u := []string{}
	if _, err := k.Signer(); err == nil {
		u = append(u, "sign")
	}
	if _, err := k.Decrypter(); err == nil {
		u = append(u, "decrypt")
	}
	if _, err := k.Decapsulator(); err == nil {
		u = append(u, "decapsulate")
	}
	return u
}

// pkcs11KeyURI is the key's RFC 7512 URI: the token attributes of the
// backend URI, the label as object=, the ID as id=.
func pkcs11KeyURI(u *backend.URI, k backend.Key) string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	for _, name := range []string{"token", "serial", "manufacturer", "model"} {
		if v, ok := u.Get(name); ok {
			b.WriteString(name + "=" + percentEncode([]byte(v)) + ";")
		}
	}
	b.WriteString("object=" + percentEncode([]byte(k.Label())))
	b.WriteString(";id=" + percentEncode(k.ID()))
	return b.String()
}

func (a *app) printKey(t *target, ki keyInfo) error {
	if a.json() {
		return printJSON(a.out, ki)
	}
	return fields(a.out,
		[2]string{"label", ki.Label},
		[2]string{"id", ki.ID},
		[2]string{"algorithm", ki.Algorithm},
		[2]string{"usage", strings.Join(ki.Usage, ", ")},
		[2]string{"spki-sha256", ki.SPKISHA256},
		[2]string{"uri", ki.URI},
		[2]string{"backend", t.redacted})
}

// keyFlags are the flags that name an existing key.
type keyFlags struct{ label, id string }

func (f *keyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.label, "key", "k", "", "the key's label")
	cmd.Flags().StringVar(&f.id, "id", "", "the key's ID, in hex (with --key, both must match)")
}

func newKeysListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list URI",
		Short: "List the keys in a backend",
		Long: `List every key the backend can use, sorted by label.

When some stored entries cannot be read back (a damaged key file, an object with unusable
attributes), the readable keys are listed and the command exits 9 naming the bad entries.`,
		Example: `  cryptoplug keys list 'pkcs11:token=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/cp/pin'
  cryptoplug keys list -o json 'tpm:device=/dev/tpmrm0;dir=/var/lib/tpmkeys'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, err := a.open(ctx, "keys list", args[0], withLogin)
			if err != nil {
				return err
			}
			defer t.close(&err)
			keys, listErr := t.b.Keys(ctx)
			infos := []keyInfo{}
			for _, k := range keys {
				infos = append(infos, describeKey(t, k))
			}
			slices.SortFunc(infos, func(x, y keyInfo) int { return strings.Compare(x.Label+"\x00"+x.ID, y.Label+"\x00"+y.ID) })
			if a.json() {
				err = printJSON(a.out, infos)
			} else {
				rows := make([][]string, 0, len(infos))
				for _, ki := range infos {
					rows = append(rows, []string{ki.Label, ki.ID, ki.Algorithm, strings.Join(ki.Usage, ",")})
				}
				err = table(a.out, []string{"LABEL", "ID", "ALGORITHM", "USAGE"}, rows)
			}
			if listErr != nil {
				return t.fail("", listErr)
			}
			return err
		},
	}
}

func newKeysShowCommand(a *app) *cobra.Command {
	var kf keyFlags
	cmd := &cobra.Command{
		Use:   "show URI --key LABEL",
		Short: "Show one key: label, ID, algorithm, usage, public key fingerprint",
		Example: `  cryptoplug keys show "$URI" --key web
  cryptoplug keys show 'pkcs11:token=signing;object=web?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:PIN'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, k, err := a.openKey(ctx, "keys show", args[0], kf)
			if err != nil {
				return err
			}
			defer t.close(&err)
			return a.printKey(t, describeKey(t, k))
		},
	}
	kf.add(cmd)
	return cmd
}

// specFlags are the flags that describe a key to create.
type specFlags struct {
	label, id, alg string
	usage          []string
}

func (f *specFlags) add(cmd *cobra.Command, algRequired bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.label, "label", "l", "", "the new key's label (required)")
	fl.StringVar(&f.id, "id", "", "the new key's ID in hex (default: chosen by the backend)")
	fl.StringSliceVar(&f.usage, "usage", nil, "what the key may do: sign, decrypt, decapsulate (default: the algorithm's natural use; RSA signs)")
	help := "the key's algorithm: " + algorithmList()
	if !algRequired {
		help = "the algorithm the key must have (default: the one in the file)"
	}
	fl.StringVarP(&f.alg, "algorithm", "a", "", help)
	_ = cmd.MarkFlagRequired("label")
	if algRequired {
		_ = cmd.MarkFlagRequired("algorithm")
	}
	_ = cmd.RegisterFlagCompletionFunc("algorithm", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, a := range backend.Algorithms() {
			out = append(out, string(a))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("usage", cobra.FixedCompletions([]string{"sign", "decrypt", "decapsulate"}, cobra.ShellCompDirectiveNoFileComp))
}

func algorithmList() string {
	var names []string
	for _, a := range backend.Algorithms() {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

// spec builds the KeySpec; alg is the algorithm when the flag is empty.
func (f *specFlags) spec(alg backend.Algorithm) (backend.KeySpec, error) {
	s := backend.KeySpec{Label: f.label, Algorithm: alg}
	if f.alg != "" {
		a, err := parseAlgorithm(f.alg)
		if err != nil {
			return s, err
		}
		if alg != "" && a != alg {
			return s, usagef("--algorithm %s, but the key in the file is %s", a, alg)
		}
		s.Algorithm = a
	}
	if err := backend.ValidateLabel(f.label); err != nil {
		return s, usagef("--label: %v", err)
	}
	if f.id != "" {
		id, err := backend.ParseKeyID(f.id)
		if err != nil {
			return s, usagef("--id: %v", err)
		}
		s.ID = id
	}
	for _, u := range f.usage {
		switch strings.ToLower(strings.TrimSpace(u)) {
		case "sign":
			s.Usage |= backend.UsageSign
		case "decrypt":
			s.Usage |= backend.UsageDecrypt
		case "decapsulate":
			s.Usage |= backend.UsageDecapsulate
		default:
			return s, usagef("--usage %q: want sign, decrypt or decapsulate", u)
		}
	}
	if err := s.Validate(); err != nil {
		return s, usageErr(err.Error())
	}
	return s, nil
}

// parseAlgorithm accepts an algorithm's name in any case.
func parseAlgorithm(s string) (backend.Algorithm, error) {
	for _, a := range backend.Algorithms() {
		if strings.EqualFold(string(a), strings.TrimSpace(s)) {
			return a, nil
		}
	}
	return "", usagef("unknown algorithm %q: want one of %s", s, algorithmList())
}

func newKeysGenerateCommand(a *app) *cobra.Command {
	var sf specFlags
	cmd := &cobra.Command{
		Use:   "generate URI --algorithm ALG --label LABEL",
		Short: "Generate a key inside the backend",
		Long: `Generate a key inside the backend. On an HSM or a TPM the private key never leaves it:
PKCS #11 keys are sensitive and not extractable, TPM keys are bound to that TPM.

An existing key with the same label or ID is an error (exit 6); nothing is overwritten.`,
		Example: `  cryptoplug keys generate "$URI" --algorithm ECDSA-P256 --label web
  cryptoplug keys generate "$URI" -a RSA-3072 -l backup-decrypt --usage decrypt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			spec, err := sf.spec("")
			if err != nil {
				return &opError{cmd: "keys generate", uri: backend.RedactURI(args[0]), err: err}
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, err := a.open(ctx, "keys generate", args[0], withLogin)
			if err != nil {
				return err
			}
			defer t.close(&err)
			k, err := t.b.GenerateKey(ctx, spec)
			if err != nil {
				return t.fail(spec.Label, err)
			}
			return a.printKey(t, describeKey(t, k))
		},
	}
	sf.add(cmd, true)
	return cmd
}

func newKeysImportCommand(a *app) *cobra.Command {
	var (
		sf specFlags
		in string
	)
	cmd := &cobra.Command{
		Use:   "import URI --label LABEL [--in FILE]",
		Short: "Import a private key from a PEM or PKCS #8 file",
		Long: `Import a private key into the backend, from PEM or DER: PKCS #8 ("PRIVATE KEY": RSA,
ECDSA, Ed25519, Ed448, ML-DSA, ML-KEM), PKCS #1 ("RSA PRIVATE KEY") or SEC 1
("EC PRIVATE KEY"). Other PEM blocks in the file (certificates) are ignored. Encrypted keys are
not supported. The key is read from --in, or from standard input when --in is - or absent, so
that it need not sit in a file: openssl genpkey … | cryptoplug keys import URI --label web.

Many HSMs and every TPM refuse imports (exit 5). The copy in this process is wiped after the
import; the file is left as it is.`,
		Example: `  openssl genpkey -algorithm ed25519 | cryptoplug keys import "$URI" --label signer
  cryptoplug keys import "$URI" --label legacy --in legacy-rsa.pem`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			redacted := backend.RedactURI(args[0])
			data, err := readInput(a.in, in, maxKeyFileLen)
			if err != nil {
				return &opError{cmd: "keys import", uri: redacted, err: err}
			}
			alg, priv, err := parsePrivateKey(data)
			clear(data)
			if err != nil {
				return &opError{cmd: "keys import", uri: redacted, err: err}
			}
			defer privkey.Wipe(priv)
			spec, err := sf.spec(alg)
			if err != nil {
				return &opError{cmd: "keys import", uri: redacted, err: err}
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, err := a.open(ctx, "keys import", args[0], withLogin)
			if err != nil {
				return err
			}
			defer t.close(&err)
			imp, ok := t.b.(backend.Importer)
			if !ok {
				return t.fail(spec.Label, fmt.Errorf("this backend cannot import keys: %w", backend.ErrUnsupported))
			}
			k, err := imp.ImportKey(ctx, spec, priv)
			if err != nil {
				return t.fail(spec.Label, err)
			}
			return a.printKey(t, describeKey(t, k))
		},
	}
	sf.add(cmd, false)
	cmd.Flags().StringVar(&in, "in", "-", "the key file (- for standard input)")
	return cmd
}

func newKeysDeleteCommand(a *app) *cobra.Command {
	var (
		kf  keyFlags
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "delete URI --key LABEL",
		Short: "Delete a key from the backend (asks first)",
		Long: `Delete a key. The key is looked up first; it is then deleted by its ID and label together,
so that nothing else can match. Without --yes the command asks on the terminal, and refuses
when there is none (exit 2). A deleted HSM or TPM key cannot be recovered.`,
		Example: `  cryptoplug keys delete "$URI" --key old-web
  cryptoplug keys delete "$URI" --id 0a1b2c3d --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, k, err := a.openKey(ctx, "keys delete", args[0], kf)
			if err != nil {
				return err
			}
			defer t.close(&err)
			if !yes {
				if err := confirm(fmt.Sprintf("Delete %s key %q (id %s) from %s? [y/N] ", k.Algorithm(), k.Label(), k.ID(), t.redacted)); err != nil {
					return t.fail(k.Label(), err)
				}
			}
			exact := backend.KeyRef{ID: k.ID(), Label: k.Label()}
			if err := t.b.DeleteKey(ctx, exact); err != nil {
				return t.fail(exact.String(), err)
			}
			if a.json() {
				return printJSON(a.out, struct {
					Deleted keyInfo `json:"deleted"`
				}{describeKey(t, k)})
			}
			_, err = fmt.Fprintf(a.out, "deleted %s key %q (id %s)\n", k.Algorithm(), k.Label(), k.ID())
			return err
		},
	}
	kf.add(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}

// confirm asks question on the controlling terminal and succeeds only on
// "y" or "yes". Without a terminal it fails: a destructive command in a
// script must say --yes.
func confirm(question string) error {
	tty, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		return usageErr("no terminal to confirm on; pass --yes to delete without asking")
	}
	defer tty.Close()
	fmt.Fprint(tty, question)
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil {
		return usageErr("no answer; nothing deleted")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed; nothing deleted")
}
