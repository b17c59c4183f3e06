//go:build cgo

package pkcs11

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

// readAttrs reads boolean and byte attributes of the key pair's objects.
func readAttrs(t *testing.T, b *Backend, k backend.Key) (priv, pub map[uint][]byte) {
	t.Helper()
	types := []uint{pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE, pkcs11.CKA_SIGN, pkcs11.CKA_DECRYPT,
		pkcs11.CKA_LABEL, pkcs11.CKA_ID}
	pubTypes := []uint{pkcs11.CKA_TOKEN, pkcs11.CKA_LABEL, pkcs11.CKA_ID, pkcs11.CKA_VERIFY, pkcs11.CKA_ENCRYPT}
	err := b.withSession(context.Background(), func(s *session) error {
		hs, err := b.findObjects(s.h, refTemplate(pkcs11.CKO_PRIVATE_KEY, backend.KeyRef{ID: k.ID(), Label: k.Label()}))
		require.NoError(t, err)
		require.Len(t, hs, 1)
		priv = map[uint][]byte{}
		for _, typ := range types {
			v, err := attrs(b.p11, s.h, hs[0], typ)
			if err == nil {
				priv[typ] = v[0]
			}
		}
		ph, err := b.findPublic(s.h, k.ID(), k.Label())
		require.NoError(t, err)
		pub = map[uint][]byte{}
		for _, typ := range pubTypes {
			v, err := attrs(b.p11, s.h, ph, typ)
			if err == nil {
				pub[typ] = v[0]
			}
		}
		return nil
	})
	require.NoError(t, err)
	return priv, pub
}

func TestGeneratedKeyAttributes(t *testing.T) {
	b, _ := newToken(t, "")
	tests := []struct {
		alg     backend.Algorithm
		usage   backend.Usage
		sign    bool
		decrypt bool
	}{
		{backend.ECDSAP256, 0, true, false},
		{backend.Ed25519, 0, true, false},
		{backend.RSA2048, 0, true, false},
		{backend.RSA2048, backend.UsageDecrypt, false, true},
		{backend.RSA2048, backend.UsageSign | backend.UsageDecrypt, true, true},
	}
	ids := map[string]bool{}
	for i, tt := range tests {
		label := string(tt.alg) + "-" + string(rune('a'+i))
		t.Run(label, func(t *testing.T) {
			k := generate(t, b, tt.alg, label, tt.usage)
			require.Len(t, k.ID(), randomIDLen)
			require.False(t, ids[k.ID().String()], "CKA_ID reused")
			ids[k.ID().String()] = true

			priv, pub := readAttrs(t, b, k)
			yes, no := []byte{1}, []byte{0}
			require.Equal(t, yes, priv[pkcs11.CKA_TOKEN], "CKA_TOKEN")
			require.Equal(t, yes, priv[pkcs11.CKA_PRIVATE], "CKA_PRIVATE")
			require.Equal(t, yes, priv[pkcs11.CKA_SENSITIVE], "CKA_SENSITIVE")
			require.Equal(t, no, priv[pkcs11.CKA_EXTRACTABLE], "CKA_EXTRACTABLE")
			require.Equal(t, yes, priv[pkcs11.CKA_ALWAYS_SENSITIVE], "CKA_ALWAYS_SENSITIVE")
			require.Equal(t, yes, priv[pkcs11.CKA_NEVER_EXTRACTABLE], "CKA_NEVER_EXTRACTABLE")
			require.Equal(t, []byte(label), priv[pkcs11.CKA_LABEL])
			require.Equal(t, []byte(k.ID()), priv[pkcs11.CKA_ID])
			require.Equal(t, []byte(label), pub[pkcs11.CKA_LABEL])
			require.Equal(t, []byte(k.ID()), pub[pkcs11.CKA_ID])
			require.Equal(t, yes, pub[pkcs11.CKA_TOKEN])
			require.Equal(t, tt.sign, priv[pkcs11.CKA_SIGN][0] == 1, "CKA_SIGN")
			require.Equal(t, tt.decrypt, priv[pkcs11.CKA_DECRYPT][0] == 1, "CKA_DECRYPT")

			_, err := k.Signer()
			if tt.sign {
				require.NoError(t, err)
				signAndVerify(t, k)
			} else {
				require.ErrorIs(t, err, backend.ErrUnsupported)
			}
			_, err = k.Decrypter()
			if tt.decrypt {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, backend.ErrUnsupported)
			}
		})
	}
}

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	b, _ := newToken(t, "")
	k := generate(t, b, backend.ECDSAP256, "web", 0)

	_, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP384, Label: "web"})
	require.ErrorIs(t, err, backend.ErrKeyExists, "duplicate label")
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP384, Label: "other", ID: k.ID()})
	require.ErrorIs(t, err, backend.ErrKeyExists, "duplicate ID")
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.MLDSA65, Label: "pq"})
	require.ErrorIs(t, err, backend.ErrUnsupported)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: ""})
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	for _, ref := range []backend.KeyRef{backend.ByLabel("web"), backend.ByID(k.ID()), {ID: k.ID(), Label: "web"}} {
		got, err := b.Key(ctx, ref)
		require.NoError(t, err, ref)
		require.Equal(t, k.ID(), got.ID())
		require.Equal(t, "web", got.Label())
		require.Equal(t, backend.ECDSAP256, got.Algorithm())
		require.True(t, k.Public().(*ecdsa.PublicKey).Equal(got.Public()))
	}
	_, err = b.Key(ctx, backend.KeyRef{ID: k.ID(), Label: "not-web"})
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	_, err = b.Key(ctx, backend.ByLabel("missing"))
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	_, err = b.Key(ctx, backend.KeyRef{})
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	generate(t, b, backend.Ed25519, "ed", 0)
	keys, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)

	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("web")))
	require.ErrorIs(t, b.DeleteKey(ctx, backend.ByLabel("web")), backend.ErrKeyNotFound)
	s, err := k.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, make([]byte, 32), cryptoSHA256)
	require.ErrorIs(t, err, backend.ErrKeyNotFound, "a deleted key's signer must fail")

	// A new key under the deleted one's label and ID is not used by the old value.
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "web", ID: k.ID()})
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, make([]byte, 32), cryptoSHA256)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)

	keys, err = b.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)
}

// TestCorruptObject plants private key objects whose attributes do not
// make a usable key and checks they are reported, by name, as corrupt.
func TestCorruptObject(t *testing.T) {
	ctx := context.Background()
	b, _ := newToken(t, "")
	generate(t, b, backend.ECDSAP256, "good", 0)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	scalar, err := ec.Bytes()
	require.NoError(t, err)
	create := func(label string, id []byte, params []byte) {
		err := b.withSession(ctx, func(s *session) error {
			_, err := b.p11.CreateObject(s.h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
				pkcs11.NewAttribute(pkcs11.CKA_ID, id),
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar),
			})
			return err
		})
		require.NoError(t, err)
	}
	create("orphan", []byte{0xaa}, ecParams(backend.ECDSAP256))     // no public key object
	create("garbled", []byte{0xbb}, []byte{0x06, 0x08, 0x2a, 0x86}) // truncated OID

	for _, label := range []string{"orphan", "garbled"} {
		_, err := b.Key(ctx, backend.ByLabel(label))
		require.ErrorIs(t, err, backend.ErrCorrupt, label)
		require.ErrorContains(t, err, `object "`+label+`"`)
	}
	keys, err := b.Keys(ctx)
	require.ErrorIs(t, err, backend.ErrCorrupt)
	require.ErrorContains(t, err, "orphan")
	require.ErrorContains(t, err, "garbled")
	require.Len(t, keys, 1, "the usable key is still listed")
	require.Equal(t, "good", keys[0].Label())
}
