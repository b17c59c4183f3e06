package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Help topics: commands without an action, listed by `cryptoplug --help`
// under "Additional help topics" and shown by `cryptoplug help TOPIC`.

func newURIsTopic(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "uris",
		Short: "Backend URIs: which store, which token, where the PIN comes from",
		Long: `Every backend command takes a backend URI, in RFC 7512's grammar (the PKCS #11 URI):
scheme:attr=value;attr=value?attr=value&attr=value, percent-encoded. An unknown attribute is an
error, never ignored. Quote URIs in the shell: they hold ';', '?' and '&'.

  software:                                         an in-memory store (gone when the command ends)
  software:dir=/var/lib/keys?pin-source=file:/etc/keys.pass
                                                    an encrypted directory store (age, scrypt)
  pkcs11:token=NAME?module-path=/path/lib.so&pin-source=file:/path
                                                    a PKCS #11 token, by token=, serial= or slot-id=;
                                                    max-sessions=N, timeout=10s; key URIs with
                                                    object= and id= name a key, as pkcs11-tool does
  tpm:device=/dev/tpmrm0;dir=/var/lib/tpmkeys       the machine's TPM; keys are files in dir
  tpm:swtpm=/run/swtpm/sock;dir=/path               an swtpm daemon's socket
  tpm:simulator;dir=/path                           the in-process TPM simulator (tests and demos)
  remote:https://host:8443?session-source=file:/path&ca-file=/path
                                                    keys behind a cryptoplug reference server

PINs and passphrases: pin-source=file:/abs/path (the file's contents, one trailing newline
removed) or pin-source=env:NAME. pin-value= is refused on the command line, where ps and shell
history would show it. Without a pin-source, a command that needs the PIN asks for it on the
terminal, without echo; with no terminal it fails with exit code 4.`,
	}
}

func newExitCodesTopic(*app) *cobra.Command {
	var b strings.Builder
	b.WriteString("cryptoplug's exit codes; scripts can rely on them, and they never change meaning:\n\n")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "  %2d  %-17s %s\n", c.code, c.kind, c.what)
	}
	b.WriteString("\nWith -o json, a failing command also prints {\"error\", \"exit_code\", \"kind\"} on standard error.")
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "What each exit code means",
		Long:  b.String(),
	}
}
