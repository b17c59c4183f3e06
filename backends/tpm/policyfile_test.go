package tpm

import (
	"testing"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// TestKeyFilePolicyRoundTrip writes each policy shape as key file entries
// and reads it back.
func TestKeyFilePolicyRoundTrip(t *testing.T) {
	bound := &pcrBinding{sel: pcrSelection(tpm2.TPMAlgSHA256, []int{0, 7, 16}), digest: make([]byte, 32)}
	bound.digest[0] = 0xaa
	for _, p := range []keyPolicy{
		{},
		{authValue: true},
		{pcrs: bound},
		{authValue: true, pcrs: bound},
	} {
		var tk keyfile.TPMKey
		tk.EmptyAuth = true
		for _, o := range p.fileOptions() {
			o(&tk)
		}
		require.Equal(t, !p.authValue, tk.EmptyAuth)
		got, err := parseFilePolicy(tk.Policy, tk.EmptyAuth)
		require.NoError(t, err)
		require.Equal(t, p.authValue, got.authValue)
		require.Equal(t, p.pcrs != nil, got.pcrs != nil)
		if p.pcrs != nil {
			require.True(t, sameSelection(p.pcrs.sel, got.pcrs.sel))
			require.Equal(t, p.pcrs.digest, got.pcrs.digest)
			want, err := p.authPolicy()
			require.NoError(t, err)
			again, err := got.authPolicy()
			require.NoError(t, err)
			require.Equal(t, want, again)
		}
	}
}

// TestKeyFilePolicyRefused: key files whose policy cryptoplug cannot run
// are unsupported, never misread.
func TestKeyFilePolicyRefused(t *testing.T) {
	pcr := (keyPolicy{pcrs: &pcrBinding{sel: pcrSelection(tpm2.TPMAlgSHA256, []int{7}), digest: make([]byte, 32)}}).fileEntries()[0]
	authValue := &keyfile.TPMPolicy{CommandCode: int(tpm2.TPMCCPolicyAuthValue)}
	for _, tc := range []struct {
		name      string
		entries   []*keyfile.TPMPolicy
		emptyAuth bool
		want      error
	}{
		{"PolicySigned", []*keyfile.TPMPolicy{{CommandCode: int(tpm2.TPMCCPolicySigned), CommandPolicy: []byte{1}}}, true, backend.ErrUnsupported},
		{"PolicyAuthValue first", []*keyfile.TPMPolicy{authValue, pcr}, false, backend.ErrUnsupported},
		{"two PolicyPCR", []*keyfile.TPMPolicy{pcr, pcr}, true, backend.ErrUnsupported},
		{"PolicyAuthValue without auth", []*keyfile.TPMPolicy{pcr, authValue}, true, backend.ErrUnsupported},
		{"auth without PolicyAuthValue", []*keyfile.TPMPolicy{pcr}, false, backend.ErrUnsupported},
		{"SHA-1 digest", []*keyfile.TPMPolicy{{CommandCode: pcr.CommandCode, CommandPolicy: pcr.CommandPolicy[:len(pcr.CommandPolicy)-12]}}, true, backend.ErrUnsupported},
		{"truncated selection", []*keyfile.TPMPolicy{{CommandCode: pcr.CommandCode, CommandPolicy: []byte{0, 1, 0}}}, true, backend.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFilePolicy(tc.entries, tc.emptyAuth)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// FuzzParseFilePolicy reads arbitrary policy entries, as a key file from
// anywhere could carry them: errors, never a panic, and anything accepted
// computes a policy digest.
func FuzzParseFilePolicy(f *testing.F) {
	entries := (keyPolicy{authValue: true, pcrs: &pcrBinding{sel: pcrSelection(tpm2.TPMAlgSHA256, []int{7}), digest: make([]byte, 32)}}).fileEntries()
	f.Add(int64(entries[0].CommandCode), entries[0].CommandPolicy, true, false)
	f.Add(int64(tpm2.TPMCCPolicyPCR), []byte{0, 0, 0, 1, 0, 0x0b, 3, 0, 0, 1}, true, true)
	f.Fuzz(func(t *testing.T, code int64, policy []byte, withAuthValue, emptyAuth bool) {
		in := []*keyfile.TPMPolicy{{CommandCode: int(code), CommandPolicy: policy}}
		if withAuthValue {
			in = append(in, &keyfile.TPMPolicy{CommandCode: int(tpm2.TPMCCPolicyAuthValue)})
		}
		p, err := parseFilePolicy(in, emptyAuth)
		if err != nil {
			return
		}
		if _, err := p.authPolicy(); err != nil {
			t.Fatalf("accepted a policy whose digest cannot be computed: %v", err)
		}
	})
}
