package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// app is one invocation of the command: its standard streams, its global
// flags, and the secrets it read (so that they can be scrubbed from error
// lines).
type app struct {
	in   io.Reader
	out  io.Writer
	errw io.Writer

	output  string        // -o: "text" or "json"
	asJSON  bool          // --json
	timeout time.Duration // --timeout; 0: none

	secrets [][]byte // PINs read from the terminal
}

func newApp(in io.Reader, out, errw io.Writer) *app {
	return &app{in: in, out: out, errw: errw}
}

// json reports whether output is to be JSON.
func (a *app) json() bool { return a.asJSON || a.output == "json" }

// run runs the command line args and returns the exit code.
func (a *app) run(args []string) int {
	// A command line cobra refuses is never parsed, so -o json would not
	// take effect for its error; look for it first.
	root := a.rootCommand() // binds --json to a.asJSON, resetting it
	a.asJSON = wantsJSON(args)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var oe *opError
	if code == exitFailure && !errors.As(err, &oe) {
		// Not from a command's own work: cobra refused the command line
		// (unknown command or flag, wrong number of arguments).
		code = exitUsage
	}
	msg := err.Error()
	if !errors.As(err, &oe) {
		msg = "cryptoplug " + commandName(cmd) + ": " + msg
		msg = strings.Replace(msg, "cryptoplug : ", "cryptoplug: ", 1)
		if code == exitUsage {
			msg += " (see '" + strings.TrimSpace("cryptoplug "+commandName(cmd)) + " --help')"
		}
	}
	msg = oneLine(msg, a.secrets...)
	if a.json() {
		b, _ := json.Marshal(struct {
			Error    string `json:"error"`
			ExitCode int    `json:"exit_code"`
			Kind     string `json:"kind"`
		}{msg, code, exitKind(code)})
		fmt.Fprintf(a.errw, "%s\n", b)
	} else {
		fmt.Fprintln(a.errw, msg)
	}
	return code
}

// wantsJSON reports whether args ask for JSON output, before they are
// parsed: --json, -o json, -ojson, -o=json, --output json, --output=json.
func wantsJSON(args []string) bool {
	for i, arg := range args {
		switch arg {
		case "--":
			return false
		case "--json", "-ojson", "-o=json", "--output=json":
			return true
		case "-o", "--output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		}
	}
	return false
}

// commandName is cmd's path below the root, such as "keys show", or "" for
// the root itself.
func commandName(cmd *cobra.Command) string {
	if cmd == nil {
		return ""
	}
	_, name, _ := strings.Cut(cmd.CommandPath(), " ")
	return name
}

// Command groups, as `cryptoplug --help` lists them.
const (
	groupKeys    = "keys"
	groupOps     = "ops"
	groupCerts   = "certs"
	groupBackend = "backend"
	groupTest    = "test"
)

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "cryptoplug",
		Short: "Keys, signatures, certificates and conformance on HSMs, TPMs and key stores",
		Long: `cryptoplug manages and uses the keys of any cryptoplug backend — a PKCS #11 HSM or token,
a TPM 2.0, a software keystore, a reference server — and runs the conformance suite and the
benchmarks against it, without a Go toolchain.

The first argument of every backend command is a backend URI (see 'cryptoplug help uris').
PINs come only from the URI's pin-source=, or from a prompt on the terminal; never from the
command line. Exit codes are listed by 'cryptoplug help exit-codes'.`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          subcommandArgs,
		// Without a subcommand, show the help and exit 0, as git and kubectl do.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.errw)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err.Error()) })
	pf := root.PersistentFlags()
	pf.StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	pf.BoolVar(&a.asJSON, "json", false, "shorthand for --output json")
	pf.DurationVar(&a.timeout, "timeout", 0, "give up after this long, such as 30s (0: no limit beyond the backend's own; conformance and bench bound each check and measurement themselves)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if a.output != "text" && a.output != "json" {
			return usageErr(fmt.Sprintf("--output %q: want text or json", a.output))
		}
		if a.timeout < 0 {
			return usageErr("--timeout must not be negative")
		}
		return nil
	}
	root.AddGroup(
		&cobra.Group{ID: groupKeys, Title: "Keys:"},
		&cobra.Group{ID: groupOps, Title: "Signatures:"},
		&cobra.Group{ID: groupCerts, Title: "Certificates:"},
		&cobra.Group{ID: groupBackend, Title: "Backends:"},
		&cobra.Group{ID: groupTest, Title: "Testing a backend:"},
	)
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd(a))
	}
	return root
}

// context returns the context a command's work runs under: bounded by
// --timeout when it is set.
func (a *app) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if a.timeout > 0 {
		return context.WithTimeout(ctx, a.timeout)
	}
	return context.WithCancel(ctx)
}

// subcommandArgs is the Args of a command that only groups subcommands:
// an argument that is not one of them is an unknown command, with cobra's
// suggestions for a typo.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which it sets only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErr(msg)
}

// usageError is a malformed command line or input; it matches errUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

func usageErr(msg string) error { return &usageError{msg} }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }
