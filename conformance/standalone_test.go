package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// RunStandalone must record what Run records: the same cells with the same
// statuses, a FAIL where the backend is broken, no key of its own left
// behind and no foreign key touched. (The passing path runs in the
// cryptoplug command's tests, on SoftHSM2 and the TPM simulator.)
func TestRunStandalone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		breaks   func(b *brokenBackend)
		wantFail []cellRef
	}{
		{name: "PSS options ignored", breaks: func(b *brokenBackend) {
			b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
				return signerFunc{s, func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
					if p, ok := opts.(*rsa.PSSOptions); ok {
						opts = p.HashFunc()
					}
					return s.SignContext(ctx, rand, digest, opts)
				}}
			}
		}, wantFail: []cellRef{{"sign-pss-sha256", "RSA-2048"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			pass := filepath.Join(dir, "passphrase")
			require.NoError(t, os.WriteFile(pass, []byte("standalone test"), 0o600))
			uri := "software:dir=" + filepath.Join(dir, "keys") + "?pin-source=file:" + pass
			b, err := backend.Open(ctx, uri)
			require.NoError(t, err)
			foreign, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "an operator's key"})
			require.NoError(t, err)
			require.NoError(t, b.Close())

			open := func(ctx context.Context) (backend.Backend, error) {
				inner, err := backend.Open(ctx, uri)
				if err != nil {
					return nil, err
				}
				bb := &brokenBackend{Backend: inner}
				if tc.breaks != nil {
					tc.breaks(bb)
				}
				return bb, nil
			}
			opts := fastOptions(backend.ECDSAP256, backend.RSA2048)
			var log bytes.Buffer
			rep := RunStandalone(open, &log, opts...)
			want, rt := runRecorded(t, open, opts...)

			require.Equal(t, reportCells(want), reportCells(rep), "RunStandalone and Run record different cells")
			require.Equal(t, rt.Failed(), len(rep.Failures()) > 0)
			for _, f := range tc.wantFail {
				res, ok := rep.Lookup(f.check, f.alg)
				require.True(t, ok, "no result for %s/%s", f.check, f.alg)
				require.Equal(t, StatusFail, res.Status, res.Detail)
				require.Contains(t, log.String(), f.check+"/"+f.alg+": FAIL: ", "the transcript names the failing cell")
			}
			if tc.wantFail == nil {
				require.Empty(t, rep.Failures())
			}
			for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
				require.Regexp(t, `^[a-z0-9-]+(/[A-Za-z0-9-]+)?: `, line, "every transcript line names its check")
			}

			b, err = backend.Open(ctx, uri)
			require.NoError(t, err)
			defer b.Close()
			keys, err := b.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, 1, "only the foreign key may remain")
			require.Equal(t, foreign.ID(), keys[0].ID())
		})
	}
}

// A panic in the backend ends one cell as a failure; the run goes on and
// returns.
func TestRunStandaloneSurvivesAPanic(t *testing.T) {
	open := openBroken(func(b *brokenBackend) {
		b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
			return signerFunc{s, func(context.Context, io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
				panic("token driver bug")
			}}
		}
	})
	rep := RunStandalone(open, nil, fastOptions(backend.ECDSAP256)...)
	res, ok := rep.Lookup("sign-ecdsa-sha256", "ECDSA-P256")
	require.True(t, ok)
	require.Equal(t, StatusFail, res.Status)
	require.Contains(t, res.Detail, "token driver bug")
	_, ok = rep.Lookup("delete", "ECDSA-P256")
	require.True(t, ok, "the run went on after the panic")
}

// reportCells lists a report's check/algorithm/status triples, sorted.
func reportCells(r *Report) []string {
	var out []string
	for _, res := range r.Results() {
		out = append(out, res.Check+"/"+res.Algorithm+"="+string(res.Status))
	}
	slices.Sort(out)
	return out
}
