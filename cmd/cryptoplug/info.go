package main

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
)

func newInfoCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "info URI",
		Short:   "Describe a backend: kind, manufacturer, model, firmware, persistence",
		GroupID: groupBackend,
		Long: `Describe the backend the URI opens: what holds the keys, the token's or TPM's manufacturer,
model and firmware where it reports them, and whether keys outlive the process. A PKCS #11
token is opened without logging in.`,
		Example: `  cryptoplug info 'pkcs11:token=signing?module-path=/usr/lib/softhsm/libsofthsm2.so'
  cryptoplug info -o json 'tpm:device=/dev/tpmrm0;dir=/var/lib/tpmkeys'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, err := a.open(ctx, "info", args[0], withoutLogin)
			if err != nil {
				return err
			}
			defer t.close(&err)
			info := t.b.Info()
			info.URI = backend.RedactURI(info.URI)
			if a.json() {
				return printJSON(a.out, info)
			}
			return fields(a.out,
				[2]string{"name", info.Name},
				[2]string{"kind", info.Kind},
				[2]string{"uri", info.URI},
				[2]string{"manufacturer", info.Manufacturer},
				[2]string{"model", info.Model},
				[2]string{"firmware", info.Firmware},
				[2]string{"persistent", strconv.FormatBool(info.Persistent)})
		},
	}
}

func newCapabilitiesCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "capabilities URI",
		Aliases: []string{"caps"},
		Short:   "List what the backend can do with each algorithm",
		GroupID: groupBackend,
		Long: `List, per algorithm, the operations the backend reports it can perform (generate, sign,
decrypt, decapsulate, import), as read from the store itself: a PKCS #11 token's mechanism list,
a TPM's algorithm capabilities. An algorithm that is not listed is not supported. A store may
still refuse a parameter combination within a listed operation (SoftHSM2 does OAEP with SHA-1
only); 'cryptoplug conformance' finds those.`,
		Example: `  cryptoplug capabilities 'pkcs11:token=signing?module-path=/usr/lib/softhsm/libsofthsm2.so'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx, cancel := a.context(cmd)
			defer cancel()
			t, err := a.open(ctx, "capabilities", args[0], withoutLogin)
			if err != nil {
				return err
			}
			defer t.close(&err)
			caps := t.b.Capabilities()
			if a.json() {
				out := map[string][]string{}
				for _, alg := range caps.Algorithms() {
					out[string(alg)] = strings.Split(caps[alg].String(), "|")
				}
				return printJSON(a.out, out)
			}
			var rows [][]string
			for _, alg := range caps.Algorithms() {
				rows = append(rows, []string{string(alg), strings.ReplaceAll(caps[alg].String(), "|", ", ")})
			}
			return table(a.out, []string{"ALGORITHM", "OPERATIONS"}, rows)
		},
	}
}
