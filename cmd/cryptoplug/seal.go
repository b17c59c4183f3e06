package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/cmd/internal/sealcmd"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// The sealed-secret commands: what cmd/cryptoplug-seal did, with this
// command's conventions (URI first, --key, -o json, its exit codes). The
// outcome is printed by sealcmd, as cryptoplug-seal prints it.

const sealedHelp = `A sealed secret file holds a PIN, passphrase, pepper or credential encrypted to a key in a
TPM, a PKCS #11 token or another keystore, so that no plaintext copy sits on disk. Programs read
it through a sealed: secret source (pin-source=sealed:…, see docs/sealing.md), which these
commands print. The URI is opened again, without a terminal, each time the file is read: if the
store needs a PIN, the URI must name a pin-source.`

// sealTarget is the URI and key a sealed file is sealed to.
type sealTarget struct {
	t   *target
	src backend.SealedSource
}

// sealArgs parses URI, --key and FILE. The URI must open without a prompt:
// whoever reads the file later has no terminal, and a prompted PIN would
// end up in the printed source.
func sealArgs(cmd, raw, key, file string) (*sealTarget, error) {
	t, err := parseTarget(cmd, raw)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, t.fail("", usageErr("--key LABEL is required: the key the file is sealed to"))
	}
	if what, needed := pinNeeded(t.uri, withLogin); needed && !t.uri.Has("pin-source") {
		return nil, t.fail(key, fmt.Errorf("%w: the %s must come from the URI's pin-source=file:/path or pin-source=env:NAME: "+
			"the sealed file is opened later without a terminal", errNoPIN, what))
	}
	path, err := filepath.Abs(file)
	if err != nil {
		return nil, t.fail(key, err)
	}
	st := &sealTarget{t: t, src: backend.SealedSource{Path: path, By: raw, Key: key}}
	if _, err := backend.ParseSealedSource(st.src.String()); err != nil {
		return nil, t.fail(key, err)
	}
	return st, nil
}

// fail names the command and the cause: sealedfile's errors name the file,
// the key and the URI themselves.
func (st *sealTarget) fail(err error) error {
	if err == nil {
		return nil
	}
	return &opError{cmd: st.t.cmd, err: err}
}

func (a *app) printSealed(r sealcmd.Result) error {
	if a.json() {
		return printJSON(a.out, r.JSON())
	}
	return r.WriteText(a.out)
}

func newSealCommand(a *app) *cobra.Command {
	var key, in string
	var replace, keepOld bool
	cmd := &cobra.Command{
		Use:     "seal URI --key LABEL FILE",
		Short:   "Seal a secret (standard input) to a key, into a sealed secret file",
		GroupID: groupKeys,
		Long: `Seal the secret read from standard input (or --in FILE; one trailing newline is dropped)
to the key LABEL in the backend URI, prove that the result opens through that key, and write
FILE (mode 0600) atomically; an existing FILE needs --replace. On a terminal the secret is asked
for twice, without echo. It prints the sealed: source that reads FILE.

` + sealedHelp + `

The subcommands check, rotate, inspect and source work on an existing file; 'cryptoplug unseal'
prints the secret. cmd/cryptoplug-seal offers the same commands with Go-style flags.`,
		Example: `  printf %s "$PIN" | cryptoplug seal 'tpm:device=/dev/tpmrm0;dir=/var/lib/tpmkeys' -k pin-kek /etc/app/pin.sealed
  cryptoplug seal 'pkcs11:token=vault?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/root/so' -k kek pin.sealed --in pin.txt
  cryptoplug seal check "$URI" -k kek pin.sealed`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := sealArgs("seal", args[0], key, args[1])
			if err != nil {
				return err
			}
			secret, err := a.readSealSecret(in)
			if err != nil {
				return st.t.fail(key, err)
			}
			defer clear(secret)
			ctx, cancel := a.context(cmd)
			defer cancel()
			info, err := sealedfile.Seal(ctx, st.src, secret, sealedfile.Options{Replace: replace, KeepOld: keepOld})
			if err != nil {
				return st.fail(err)
			}
			return a.printSealed(sealcmd.Result{File: st.src.Path, Info: info, Source: &st.src})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&key, "key", "k", "", "label of the key to seal to (required)")
	fl.StringVar(&in, "in", "", "read the secret from this file instead of standard input")
	fl.BoolVar(&replace, "replace", false, "replace FILE if it exists")
	fl.BoolVar(&keepOld, "keep-old", false, "keep a replaced FILE as FILE.old")
	cmd.AddCommand(newSealCheckCommand(a), newSealRotateCommand(a), newSealInspectCommand(a), newSealSourceCommand(a))
	return cmd
}

// readSealSecret reads the secret to seal: from --in, else from standard
// input, asked for twice without echo when standard input is a terminal.
// It is remembered so that no error line can carry it.
func (a *app) readSealSecret(path string) ([]byte, error) {
	if f, ok := a.in.(*os.File); ok && path == "" && term.IsTerminal(int(f.Fd())) {
		return a.askPIN("Secret to seal", true)
	}
	secret, err := sealcmd.ReadSecret(a.in, path)
	if err != nil {
		return nil, err
	}
	a.secrets = append(a.secrets, append([]byte(nil), secret...))
	return secret, nil
}

// sealedKeyCommand is a command on FILE through URI and --key; its RunE is
// set with wrapSealed once its own flags are declared.
func sealedKeyCommand(use, short, long string) (*cobra.Command, *string) {
	key := new(string)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + "\n\n" + sealedHelp,
		Args:  cobra.ExactArgs(2),
	}
	cmd.Flags().StringVarP(key, "key", "k", "", "label of the key FILE is sealed to (required)")
	return cmd, key
}

func newSealCheckCommand(a *app) *cobra.Command {
	cmd, key := sealedKeyCommand("check URI --key LABEL FILE", "Prove that a sealed file opens here, without printing the secret",
		`Unseal FILE through the key LABEL in URI and discard the secret: it proves the file opens on
this machine, as a service will open it. Exit 11 when FILE was sealed to another key, 9 when
it is tampered with or truncated.`)
	cmd.RunE = wrapSealed(a, key, func(ctx context.Context, st *sealTarget) error {
		info, err := sealedfile.Check(ctx, st.src)
		if err != nil {
			return st.fail(err)
		}
		return a.printSealed(sealcmd.Result{File: st.src.Path, Info: info, Source: &st.src})
	})
	return cmd
}

func newSealRotateCommand(a *app) *cobra.Command {
	var toURI, toKey, out string
	var keepOld bool
	cmd, key := sealedKeyCommand("rotate URI --key LABEL --to-key LABEL2 [--to URI2] FILE", "Re-seal a sealed file to another key",
		`Re-seal FILE, now sealed to the key LABEL in URI, to the key LABEL2 (in URI2, default URI):
in place unless --out. Nothing is written unless the new file opens through the new key.`)
	cmd.RunE = wrapSealed(a, key, func(ctx context.Context, from *sealTarget) error {
		if toKey == "" {
			return from.t.fail(*key, usageErr("--to-key LABEL is required"))
		}
		if toURI == "" {
			toURI = from.src.By
		}
		file := from.src.Path
		o := sealedfile.Options{Replace: true, KeepOld: keepOld}
		if out != "" {
			file, o.Replace = out, false
		}
		to, err := sealArgs("seal rotate", toURI, toKey, file)
		if err != nil {
			return err
		}
		info, err := sealedfile.Rotate(ctx, from.src, to.src, o)
		if err != nil {
			return from.fail(err)
		}
		return a.printSealed(sealcmd.Result{File: to.src.Path, Info: info, Source: &to.src})
	})
	fl := cmd.Flags()
	fl.StringVar(&toURI, "to", "", "backend URI holding the new key (default: URI)")
	fl.StringVar(&toKey, "to-key", "", "label of the new key (required)")
	fl.StringVar(&out, "out", "", "write the re-sealed file here instead of replacing FILE")
	fl.BoolVar(&keepOld, "keep-old", false, "keep the replaced FILE as FILE.old")
	return cmd
}

func newSealSourceCommand(a *app) *cobra.Command {
	cmd, key := sealedKeyCommand("source URI --key LABEL FILE", "Print the pin-source value that reads a sealed file",
		`Print the sealed: secret source that reads FILE through the key LABEL in URI, and the same as a
URI's pin-source= value. Nothing is opened: FILE need not exist yet.`)
	cmd.RunE = wrapSealed(a, key, func(_ context.Context, st *sealTarget) error {
		r := sealcmd.Result{File: st.src.Path, Source: &st.src}
		if a.json() {
			j := r.JSON()
			return printJSON(a.out, struct {
				File      string `json:"file"`
				Source    string `json:"source"`
				PINSource string `json:"pin_source"`
			}{j.File, j.Source, j.PINSource})
		}
		return r.WriteSource(a.out)
	})
	return cmd
}

// wrapSealed gives a sealedKeyCommand its work, once the flags it closes
// over are declared.
func wrapSealed(a *app, key *string, run func(context.Context, *sealTarget) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		st, err := sealArgs(commandName(c), args[0], *key, args[1])
		if err != nil {
			return err
		}
		ctx, cancel := a.context(c)
		defer cancel()
		return run(ctx, st)
	}
}

func newSealInspectCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Say what a sealed file's framing says, without a key",
		Long: `Print FILE's scheme, algorithm and the ID of the key it is sealed to, as its framing says;
no key is used, so nothing printed is authenticated until 'cryptoplug seal check' succeeds.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			info, err := sealedfile.Inspect(path)
			if err != nil {
				return &opError{cmd: "seal inspect", err: err}
			}
			return a.printSealed(sealcmd.Result{File: path, Info: info})
		},
	}
}

func newUnsealCommand(a *app) *cobra.Command {
	cmd, key := sealedKeyCommand("unseal URI --key LABEL FILE", "Print a sealed file's secret on standard output",
		`Unseal FILE through the key LABEL in URI and write the secret, and only it, to standard
output: for a person who must read it once (the administrator credential 'refserver init
-seal-to' seals). -o json does not change what is written.`)
	cmd.GroupID = groupKeys
	cmd.RunE = wrapSealed(a, key, func(ctx context.Context, st *sealTarget) error {
		secret, err := st.src.Open(ctx)
		if err != nil {
			return st.fail(err)
		}
		defer secret.Wipe()
		_, err = a.out.Write(secret)
		return err
	})
	return cmd
}
