package main

import (
	"os"

	// The backends a URI can name. Each registers its scheme.
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	_ "github.com/cryptoplug/cryptoplug/backends/remote"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
)

func main() {
	os.Exit(newApp(os.Stdin, os.Stdout, os.Stderr).run(os.Args[1:]))
}
