package remote_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/remote"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

func TestOpenRefusesBadURIs(t *testing.T) {
	in := refservertest.Start(t, refservertest.Options{})
	_, sess := in.User(t, authn.RoleKeyOperation)
	f := in.WriteSecret(t, sess)
	cases := []struct {
		name, uri string
		want      error
	}{
		{"no credential", "remote:" + in.URL + "?ca-file=" + in.CAFile, backend.ErrInvalidInput},
		{"two credentials", "remote:" + in.URL + "?session-source=file:" + f + "&api-key-source=file:" + f + "&ca-file=" + in.CAFile, backend.ErrInvalidInput},
		{"credential in the URI", "remote:" + in.URL + "?api-key=cpk_x&ca-file=" + in.CAFile, backend.ErrInvalidInput},
		{"pin-value", "remote:" + in.URL + "?pin-value=x&ca-file=" + in.CAFile, backend.ErrInvalidInput},
		{"relative file", "remote:" + in.URL + "?session-source=file:tok&ca-file=" + in.CAFile, backend.ErrInvalidInput},
		{"plain http off loopback", "remote:http://example.com?session-source=file:" + f, backend.ErrInvalidInput},
		{"wrong credential", "remote:" + in.URL + "?session-source=file:" + in.WriteSecret(t, "cps_wrong") + "&ca-file=" + in.CAFile, backend.ErrAuth},
		{"untrusted server", "remote:" + in.URL + "?session-source=file:" + f, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := backend.Open(context.Background(), tc.uri)
			require.Error(t, err)
			require.Nil(t, b)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
			require.NotContains(t, err.Error(), sess)
		})
	}
}

// An API key grants one role: a keyOperation key signs with a key made
// elsewhere and is refused generation with ErrAuth.
func TestAPIKeyOneRole(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{})
	_, err := in.Backend.GenerateKey(ctx, backend.KeySpec{Label: "k", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	_, keys := in.Application(t, authn.RoleKeyOperation)
	b, err := backend.Open(ctx, "remote:"+in.URL+"?api-key-source=file:"+in.WriteSecret(t, keys[authn.RoleKeyOperation])+"&ca-file="+in.CAFile)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, "remote", b.Info().Name)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Label: "x", Algorithm: backend.ECDSAP256})
	require.ErrorIs(t, err, backend.ErrAuth)
	_, err = b.Key(ctx, backend.ByLabel("k"))
	require.ErrorIs(t, err, backend.ErrAuth, "finding keys needs keyManagement")
}

func TestSignAndErrors(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{})
	b, err := backend.Open(ctx, in.RemoteURI(t))
	require.NoError(t, err)
	defer b.Close()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Label: "web", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	d := sha256.Sum256([]byte("x"))
	_, err = s.Sign(nil, d[:], crypto.SHA256)
	require.NoError(t, err)
	_, err = s.Sign(nil, d[:31], crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Label: "web", Algorithm: backend.ECDSAP256})
	require.ErrorIs(t, err, backend.ErrKeyExists)
	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("web")))
	_, err = s.Sign(nil, d[:], crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.SignContext(cctx, nil, d[:], crypto.SHA256)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, b.Close())
	_, err = s.Sign(nil, d[:], crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrClosed)
}
