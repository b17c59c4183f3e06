// Command refserver is cryptoplug's reference server: a key backend over
// HTTPS behind authentication (see package refserver).
//
//	refserver init  -data DIR [-admin-email E] [-credential-file F] [-seal-to URI] [flags]
//	refserver serve -data DIR [-listen ADDR] [-backend URI] [-seal-to URI] [-ready-file F] [flags]
//	refserver seal-migrate -data DIR -seal-to URI [-keep-plaintext] [-rollback] [-credential-file F] [flags]
//	refserver version
//	refserver help [init|serve|seal-migrate]
//
// init creates DIR (0700) with a pepper, a keystore passphrase, a self-signed
// TLS certificate (DIR/tls/server.crt, 0644, to give clients as their CA;
// its key 0600), the SQLite authn store, the keystore, and an administrator
// whose credential is printed once or written to a 0600 file. serve runs
// until SIGTERM or SIGINT, then finishes in-flight requests before exiting;
// with -ready-file it writes the address it listens on (useful with
// -listen 127.0.0.1:0) to that file once it accepts connections: make it a
// FIFO (mkfifo) and a shell can wait for the server with `read`, without
// polling. Configuration: defaults < -config FILE (JSON) < REFSERVER_*
// environment < flags; `refserver serve -h` lists them.
//
// With -seal-to URI (a TPM, PKCS #11 token or keystore backend) init writes
// the pepper, passphrase, TLS key and credential file sealed to a key there
// (<name>.sealed, 0600), serve unseals them at start, and seal-migrate
// seals an existing data directory in place (or, with -rollback, unseals it
// back); see docs/sealing.md.
//
// --help, -h and `help` work everywhere and exit 0; an unknown command or
// flag exits 2, any other failure 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/refserver"
)

const usage = `refserver is cryptoplug's reference server: a key backend over HTTPS behind authentication.

Usage:
  refserver init  -data DIR [-admin-email E] [-credential-file F] [-seal-to URI] [flags]
        create a data directory and an administrator
  refserver serve -data DIR [-listen ADDR] [-backend URI] [-seal-to URI] [-ready-file F] [flags]
        serve until SIGTERM or SIGINT
  refserver seal-migrate -data DIR -seal-to URI [-keep-plaintext] [-rollback] [-credential-file F] [flags]
        seal an existing data directory in place (see docs/sealing.md)
  refserver version
        print the version
  refserver help [init|serve|seal-migrate]
        this text, or a command's flags

Configuration: defaults < -config FILE (JSON) < REFSERVER_* environment < flags.
`

// errUsage marks a command line refserver cannot run: exit code 2.
var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "refserver:", err)
	os.Exit(1)
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command; run `refserver help`", errUsage)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			return run([]string{args[1], "-h"}, stdout)
		}
		_, err := io.WriteString(stdout, usage)
		return err
	case "version", "-version", "--version":
		_, err := fmt.Fprintln(stdout, version())
		return err
	}
	fs := flag.NewFlagSet("refserver "+args[0], flag.ContinueOnError)
	out := io.Writer(os.Stderr)
	if asksHelp(args[1:]) {
		out = stdout // help asked for is output, not an error
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: refserver %s [flags]\n\nFlags:\n", args[0])
		fs.PrintDefaults()
	}
	switch args[0] {
	case "init":
		email := fs.String("admin-email", "admin@localhost", "the administrator's login")
		credFile := fs.String("credential-file", "", "write the administrator's credential to this new 0600 file instead of standard output")
		cfg, err := refserver.LoadConfig(fs, args[1:], os.Getenv)
		if err != nil {
			return flagError(err)
		}
		return refserver.Init(context.Background(), cfg, refserver.InitOptions{AdminEmail: *email, CredentialFile: *credFile, Out: os.Stdout})
	case "seal-migrate":
		rollback := fs.Bool("rollback", false, "unseal the sealed files back to plaintext and remove them")
		keep := fs.Bool("keep-plaintext", false, "seal and verify, but keep the plaintext files for now")
		credFile := fs.String("credential-file", "", "also seal this credential file (init's -credential-file)")
		cfg, err := refserver.LoadConfig(fs, args[1:], os.Getenv)
		if err != nil {
			return flagError(err)
		}
		o := refserver.MigrateOptions{Rollback: *rollback, KeepPlaintext: *keep, Out: os.Stdout}
		if *credFile != "" {
			o.CredentialFiles = []string{*credFile}
		}
		return refserver.SealMigrate(context.Background(), cfg, o)
	case "serve":
		readyFile := fs.String("ready-file", "", "once listening, write the address to this file (a FIFO lets a shell wait with read)")
		cfg, err := refserver.LoadConfig(fs, args[1:], os.Getenv)
		if err != nil {
			return flagError(err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		var ready func(net.Addr)
		if *readyFile != "" {
			ready = func(addr net.Addr) {
				// On a FIFO, OpenFile waits for the reader: the shell's read.
				f, err := os.OpenFile(*readyFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err == nil {
					_, err = fmt.Fprintln(f, addr.String())
					err = errors.Join(err, f.Close())
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "refserver: ready file:", err)
				}
			}
		}
		return refserver.Run(ctx, cfg, nil, ready)
	}
	return fmt.Errorf("%w: unknown command %q: want init, serve, seal-migrate, version or help", errUsage, args[0])
}

// asksHelp reports whether args hold -h, -help or --help before "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// flagError marks a flag or configuration refusal as a usage error; -h
// (flag.ErrHelp) passes through.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return fmt.Errorf("%w: %w", errUsage, err)
}

// version is the one line `refserver version` prints.
func version() string {
	v, rev := "devel", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value + ", "
			}
		}
	}
	return fmt.Sprintf("refserver %s (%s%s, %s/%s)", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
