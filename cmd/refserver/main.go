// Command refserver is cryptoplug's reference server: a key backend over
// HTTPS behind authentication (see package refserver).
//
//	refserver init  -data DIR [-admin-email E] [-credential-file F] [-seal-to URI] [flags]
//	refserver serve -data DIR [-listen ADDR] [-backend URI] [-seal-to URI] [-ready-file F] [flags]
//	refserver seal-migrate -data DIR -seal-to URI [-keep-plaintext] [-rollback] [-credential-file F] [flags]
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
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/refserver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: refserver init|serve|seal-migrate -data DIR [flags]")
	}
	fs := flag.NewFlagSet("refserver "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "init":
		email := fs.String("admin-email", "admin@localhost", "the administrator's login")
		credFile := fs.String("credential-file", "", "write the administrator's credential to this new 0600 file instead of standard output")
		cfg, err := refserver.LoadConfig(fs, args[1:], os.Getenv)
		if err != nil {
			return err
		}
		return refserver.Init(context.Background(), cfg, refserver.InitOptions{AdminEmail: *email, CredentialFile: *credFile, Out: os.Stdout})
	case "seal-migrate":
		rollback := fs.Bool("rollback", false, "unseal the sealed files back to plaintext and remove them")
		keep := fs.Bool("keep-plaintext", false, "seal and verify, but keep the plaintext files for now")
		credFile := fs.String("credential-file", "", "also seal this credential file (init's -credential-file)")
		cfg, err := refserver.LoadConfig(fs, args[1:], os.Getenv)
		if err != nil {
			return err
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
			return err
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
	return fmt.Errorf("unknown command %q: want init, serve or seal-migrate", args[0])
}
