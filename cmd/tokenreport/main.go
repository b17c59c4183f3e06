// Command tokenreport turns the conformance reports of PKCS #11 tokens
// (JSON, as the conformance suite writes them) into docs/tokens.md: per
// token, which implementation and version it is, what passes, what is
// unsupported, and for every failure whose fault it is — the token's wrong
// answer or cryptoplug's — with the evidence. It is the reference the
// backends/pkcs11 tests hold each token to, in the spirit of OpenSC's
// p11test reference files.
//
// Usage:
//
//	go run ./cmd/tokenreport [-o docs/tokens.md] docs/tokens
//
// It reads every NAME.json in the directory (in name order), NAME.version
// beside it when present (the Debian package and version, one line), and
// NAME.notes.md when present (a hand-written analysis of the failures,
// shown as such). A
// failure whose report does not say whose fault it is is shown as
// "unclassified": the command never guesses. `make tokens-report` runs the
// suite on SoftHSM2, opencryptoki and tpm2-pkcs11 and then this command.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "docs/tokens.md", "Markdown file to write")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: tokenreport [-o file.md] dir\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "tokenreport:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	tokens, err := readDir(dir)
	if err != nil {
		return err
	}
	md, err := render(tokens)
	if err != nil {
		return err
	}
	return os.WriteFile(out, md, 0o644)
}
