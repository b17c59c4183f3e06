package refserver_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

var netipLoopback = netip.MustParseAddr("127.0.0.1")

func encryptOAEP(t *testing.T, pub crypto.PublicKey, msg []byte) []byte {
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), msg, nil)
	require.NoError(t, err)
	return ct
}

func clientBearer(s string) client.Credential { return client.Bearer(s) }

func keySpec(label, alg string) wire.KeySpec { return wire.KeySpec{Label: label, Algorithm: alg} }
