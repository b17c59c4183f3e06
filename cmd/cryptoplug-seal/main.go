// Command cryptoplug-seal seals, checks and rotates sealed secret files
// (package sealedfile): a PIN, passphrase, pepper or credential sealed to
// a key in a TPM, a PKCS #11 token or another keystore, so that no
// plaintext copy sits on disk. Programs read such a file through a
// sealed: secret source (pin-source=sealed:…, see docs/sealing.md).
//
//	cryptoplug-seal seal    -by URI -key LABEL [-in FILE] [-replace] [-keep-old] FILE
//	cryptoplug-seal check   -by URI -key LABEL FILE
//	cryptoplug-seal unseal  -by URI -key LABEL FILE
//	cryptoplug-seal rotate  -by URI -key LABEL -to-by URI -to-key LABEL [-out FILE] [-keep-old] FILE
//	cryptoplug-seal inspect FILE
//	cryptoplug-seal source  -by URI -key LABEL FILE
//
// seal reads the secret from standard input (or -in FILE; one trailing
// newline is dropped), never from the command line, seals it to the key
// LABEL in the backend URI, proves the result opens through that key, and
// writes FILE (mode 0600) atomically; an existing FILE needs -replace.
// check unseals FILE and discards the secret: it proves the file opens on
// this machine. unseal writes the secret to standard output, for a person
// who must read it once (the administrator credential `refserver init
// -seal-to` seals). rotate re-seals FILE to another key (in place unless
// -out), writing nothing unless the new file opens. inspect prints what
// FILE's framing says (scheme, algorithm, key ID) without a key. source
// prints the pin-source value that reads FILE. Each prints the sealed:
// source to use.
//
// The project CLI carries the same commands, with its conventions (URI
// first, --key, -o json): `cryptoplug seal URI --key LABEL FILE`,
// `cryptoplug seal check|rotate|inspect|source`, `cryptoplug unseal`. This
// binary stays for the scripts written against it; both read the secret
// and print the outcome through cmd/internal/sealcmd, so they say the same
// thing. Exit codes, as that CLI's:
// 0 ok, 1 other failure, 2 usage, 3 key not found, 4 the key refused
// (policy or authorization not satisfied), 5 the key cannot unseal,
// 6 FILE exists, 9 FILE tampered with, truncated or of an unknown format
// version (or the TPM refuses the key's own file: made by another TPM),
// 11 FILE sealed to another key.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	_ "github.com/cryptoplug/cryptoplug/backends/remote"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/cmd/internal/sealcmd"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// Exit codes; see the package documentation.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitRefused     = 4
	exitUnsupported = 5
	exitExists      = 6
	exitCorrupt     = 9
	exitWrongKey    = 11
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a command line that cannot run.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdin, stdout)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "cryptoplug-seal:", err)
	return exitCode(err)
}

func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, flag.ErrHelp), errors.Is(err, backend.ErrInvalidInput) && !errors.Is(err, seal.ErrCorrupt):
		return exitUsage
	case errors.Is(err, seal.ErrWrongKey):
		return exitWrongKey
	case errors.Is(err, seal.ErrCorrupt), errors.Is(err, backend.ErrCorrupt):
		return exitCorrupt
	case errors.Is(err, backend.ErrUnsealRefused), errors.Is(err, backend.ErrAuth):
		return exitRefused
	case errors.Is(err, backend.ErrKeyNotFound):
		return exitNotFound
	case errors.Is(err, backend.ErrUnsupported), errors.Is(err, seal.ErrUnsupportedKey):
		return exitUnsupported
	case errors.Is(err, sealedfile.ErrExists):
		return exitExists
	}
	return exitFailure
}

const usage = "usage: cryptoplug-seal seal|check|unseal|rotate|inspect|source [flags] FILE (cryptoplug-seal COMMAND -h lists the flags)"

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{usage}
	}
	fs := flag.NewFlagSet("cryptoplug-seal "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	by := fs.String("by", "", "URI of the backend holding the unsealing key")
	key := fs.String("key", "", "label of the unsealing key")
	var (
		in, toBy, toKey, out *string
		replace, keepOld     *bool
	)
	switch args[0] {
	case "seal":
		in = fs.String("in", "", "read the secret from this file instead of standard input")
		replace = fs.Bool("replace", false, "replace FILE if it exists")
		keepOld = fs.Bool("keep-old", false, "keep a replaced FILE as FILE.old")
	case "rotate":
		toBy = fs.String("to-by", "", "URI of the backend holding the new key (default: -by)")
		toKey = fs.String("to-key", "", "label of the new key")
		out = fs.String("out", "", "write the re-sealed file here instead of replacing FILE")
		keepOld = fs.Bool("keep-old", false, "keep the replaced FILE as FILE.old")
	case "check", "source", "inspect", "unseal":
	default:
		return usageError{fmt.Sprintf("unknown command %q; %s", args[0], usage)}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"give exactly one FILE; " + usage}
	}
	path, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if args[0] == "inspect" {
		info, err := sealedfile.Inspect(path)
		if err != nil {
			return err
		}
		return sealcmd.Result{File: path, Info: info}.WriteText(stdout)
	}
	if *by == "" || *key == "" {
		return usageError{"-by URI and -key LABEL are required"}
	}
	src := backend.SealedSource{Path: path, By: *by, Key: *key}
	if _, err := backend.ParseSealedSource(src.String()); err != nil {
		return err
	}
	var info seal.Info
	switch args[0] {
	case "seal":
		secret, err := sealcmd.ReadSecret(stdin, *in)
		if err != nil {
			return err
		}
		defer clear(secret)
		if info, err = sealedfile.Seal(ctx, src, secret, sealedfile.Options{Replace: *replace, KeepOld: *keepOld}); err != nil {
			return err
		}
	case "unseal":
		secret, err := src.Open(ctx)
		if err != nil {
			return err
		}
		defer secret.Wipe()
		_, err = stdout.Write(secret)
		return err
	case "check":
		if info, err = sealedfile.Check(ctx, src); err != nil {
			return err
		}
	case "source":
		// No key is used: the file need not exist yet.
		return sealcmd.Result{File: path, Source: &src}.WriteSource(stdout)
	case "rotate":
		if *toKey == "" {
			return usageError{"-to-key LABEL is required"}
		}
		to := backend.SealedSource{Path: path, By: *by, Key: *toKey}
		if *toBy != "" {
			to.By = *toBy
		}
		o := sealedfile.Options{Replace: true, KeepOld: *keepOld}
		if *out != "" {
			if to.Path, err = filepath.Abs(*out); err != nil {
				return err
			}
			o.Replace = false
		}
		if info, err = sealedfile.Rotate(ctx, src, to, o); err != nil {
			return err
		}
		src = to
	}
	return sealcmd.Result{File: src.Path, Info: info, Source: &src}.WriteText(stdout)
}
