package remote_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Keys imported through the remote backend sign on the server, the
// signatures verify with the standard library, and the audit log never
// carries the key material, not even for a refused import.
func TestImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	var audit syncBuffer
	in := refservertest.Start(t, refservertest.Options{Audit: slog.New(slog.NewJSONHandler(&audit, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	b, err := backend.Open(ctx, in.RemoteURI(t))
	require.NoError(t, err)
	defer b.Close()
	imp, ok := b.(backend.Importer)
	require.True(t, ok)
	require.True(t, b.Capabilities().Supports(backend.ECDSAP256, backend.OpImport))
	require.True(t, b.Capabilities().Supports(backend.Ed25519, backend.OpImport))

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var secrets [][]byte
	for _, p := range []struct {
		alg  backend.Algorithm
		priv crypto.PrivateKey
	}{{backend.ECDSAP256, ec}, {backend.Ed25519, ed}} {
		enc, err := wire.MarshalPrivateKey(p.alg, p.priv)
		require.NoError(t, err)
		secrets = append(secrets, enc)
	}
	ecBytes, err := ec.Bytes()
	require.NoError(t, err)
	secrets = append(secrets, ecBytes, ed.Seed())

	k, err := imp.ImportKey(ctx, backend.KeySpec{Label: "imp-ec", Algorithm: backend.ECDSAP256}, ec)
	require.NoError(t, err)
	require.True(t, ec.PublicKey.Equal(k.Public()))
	s, err := k.Signer()
	require.NoError(t, err)
	d := sha256.Sum256([]byte("hello"))
	sig, err := s.Sign(nil, d[:], crypto.SHA256)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(&ec.PublicKey, d[:], sig))

	k, err = imp.ImportKey(ctx, backend.KeySpec{Label: "imp-ed", Algorithm: backend.Ed25519}, ed)
	require.NoError(t, err)
	require.True(t, ed.Public().(ed25519.PublicKey).Equal(k.Public()))
	s, err = k.Signer()
	require.NoError(t, err)
	sig, err = s.Sign(nil, []byte("hello"), crypto.Hash(0))
	require.NoError(t, err)
	require.True(t, ed25519.Verify(ed.Public().(ed25519.PublicKey), []byte("hello"), sig))

	// Found again by label, and refused a second time.
	_, err = b.Key(ctx, backend.ByLabel("imp-ed"))
	require.NoError(t, err)
	_, err = imp.ImportKey(ctx, backend.KeySpec{Label: "imp-ed", Algorithm: backend.Ed25519}, ed)
	require.ErrorIs(t, err, backend.ErrKeyExists)
	// The wrong type for the algorithm is refused before anything is sent.
	_, err = imp.ImportKey(ctx, backend.KeySpec{Label: "imp-x", Algorithm: backend.ECDSAP256}, ed)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.NotContains(t, err.Error(), hex.EncodeToString(ed.Seed()))

	log := audit.String()
	require.Contains(t, log, "imp-ec")
	require.Contains(t, log, "imp-ed")
	for _, sec := range secrets {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(sec), base64.RawStdEncoding.EncodeToString(sec), hex.EncodeToString(sec), string(sec)} {
			require.NotContains(t, log, enc)
		}
	}
}
