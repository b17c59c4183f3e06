// Command cryptoplug is the command-line tool for the people who run HSMs,
// TPMs and key stores: key management, signing, certificates, and the
// conformance suite and benchmarks, against any cryptoplug backend URI and
// without a Go toolchain.
//
//	cryptoplug keys list|show|generate|delete|import URI …
//	cryptoplug pubkey URI --key LABEL [--format pem|jwk|ssh]
//	cryptoplug sign|verify URI --key LABEL [--in FILE] [--scheme …] [--hash …]
//	cryptoplug csr|selfsign URI --key LABEL --subject 'CN=…'
//	cryptoplug capabilities|info URI
//	cryptoplug seal URI --key LABEL FILE             seal standard input into a sealed secret file
//	cryptoplug seal check|rotate|source URI --key LABEL FILE; seal inspect FILE
//	cryptoplug unseal URI --key LABEL FILE
//	cryptoplug conformance URI [--report FILE]      the whole suite, exit 0 iff no FAIL
//	                                                 (a progress bar on a terminal: --progress)
//	cryptoplug conformance report --format md|html report.json
//	cryptoplug bench URI                             benchstat-compatible output
//	cryptoplug completion bash|zsh|fish|powershell
//	cryptoplug version
//
// The first argument of every backend command is a backend URI
// ("pkcs11:token=…?module-path=…&pin-source=file:…", "tpm:swtpm=…;dir=…",
// "software:dir=…?pin-source=…"), as in the Go API; `cryptoplug help uris`
// describes them. Keys are named with --key LABEL or --id HEX (or, for
// PKCS #11, object= and id= in the URI, as pkcs11-tool and RFC 7512 write
// them). --help works on every command; -o json (or --json) makes every
// command print JSON instead of text.
//
// # Secrets
//
// No secret is ever taken from the command line, where ps and shell history
// would show it. PINs and passphrases come from the URI's
// pin-source=file:/path or pin-source=env:NAME; a URI with pin-value= is
// refused. When a command needs a PIN (a PKCS #11 login, a software
// keystore's passphrase) and the URI names none, cryptoplug asks for it on
// the controlling terminal (/dev/tty) without echo, and fails with exit
// code 4 when there is no terminal. The PIN never appears in output or in
// an error.
//
// # Errors and exit codes
//
// An error is one line on standard error (a JSON object with -o json) that
// names the command, the backend URI with secrets removed, the key, and
// the cause. The exit code says what kind of failure it was, so scripts
// can rely on it (`cryptoplug help exit-codes`):
//
//	0   success (verify: the signature is valid; conformance: no FAIL)
//	1   any other failure (I/O, a store's error, an internal error)
//	2   usage: unknown command or flag, malformed URI or attribute, bad input file
//	3   not found: no such key (or token)
//	4   authentication: wrong PIN or passphrase, or none available; a key refused to unseal
//	5   unsupported: the backend, token or key cannot do what was asked
//	6   exists: a key with that label or ID (or the sealed file) already exists
//	7   verify: the signature does not verify
//	8   conformance: at least one check FAILed
//	9   corrupt: stored key data could not be read back, or a sealed secret file is tampered with
//	10  timeout: --timeout expired
//	11  wrong key: a sealed secret file (pin-source=sealed:) was sealed to another key
//
// # Why cobra
//
// The command line is built with github.com/spf13/cobra (and its pflag).
// The conventions operators expect from kubectl, step, gh and the like —
// nested subcommands, --help and `help CMD` at every level, POSIX short and
// long flags, "did you mean" suggestions, and bash/zsh/fish completion
// scripts generated from the same command tree — would be several hundred
// lines of hand-written flag handling with the standard flag package, which
// knows neither subcommands nor completion. cobra is the most widely used
// Go CLI library, maintained, small in dependencies (pflag and, on Windows
// only, mousetrap), and served by the module proxy; it parses arguments
// and nothing else, so every operation still goes through the backend
// contract like any other Go program.
//
// # Layout
//
// One file per command (keys.go, sign.go, conformance.go, …); commands.go
// holds the table of top-level commands, where a new command is one line.
// Shared plumbing: target.go opens a backend from a URI (PIN policy,
// prompting), exit.go maps errors to exit codes, output.go prints text and
// JSON.
package main
