package main

import "github.com/spf13/cobra"

// subcommands are the top-level commands, each built by the constructor in
// the file named after it. A new command is that file and one line here:
var subcommands = []func(*app) *cobra.Command{
	newKeysCommand,         // keys.go
	newPubkeyCommand,       // pubkey.go
	newSignCommand,         // sign.go
	newVerifyCommand,       // verify.go
	newCSRCommand,          // x509.go
	newSelfsignCommand,     // x509.go
	newSealCommand,         // seal.go
	newUnsealCommand,       // seal.go
	newCapabilitiesCommand, // info.go
	newInfoCommand,         // info.go
	newConformanceCommand,  // conformance.go
	newBenchCommand,        // bench.go
	newVersionCommand,      // version.go
	newURIsTopic,           // topics.go
	newExitCodesTopic,      // topics.go
}
