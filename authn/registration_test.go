package authn_test

import (
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/seal"
)

// clientKeys is what a client generates locally: the private key stays
// with it, only the public key is submitted.
func clientKeys(t *testing.T) (ed25519.PrivateKey, []byte) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return priv, der
}

func withRecovery(dk *mlkem.DecapsulationKey768) func(*authn.Config) {
	return func(c *authn.Config) { c.RecoveryPublicKey = dk.EncapsulationKey() }
}

func TestClientRegistrationWithBackup(t *testing.T) {
	recovery := mlkem768(t)
	e := newEnv(t, withRecovery(recovery))
	admin := e.admin(t)
	tok, err := e.svc.CreateRegistrationToken(ctx, admin, authn.RegistrationTokenSpec{
		Roles: authn.NewRoleSet(authn.RoleKeyOperation), Uses: 2, ValidFor: time.Hour})
	require.NoError(t, err)
	require.NoError(t, authn.ParseToken(authn.TokenRegistration, tok.Token.Reveal()))

	// The client: key pair made locally, backup sealed locally to the
	// recovery public key the server publishes.
	priv, pubDER := clientKeys(t)
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	blob, err := seal.Seal(e.svc.RecoveryPublicKey(), privDER)
	require.NoError(t, err)

	reg, err := e.svc.RegisterClient(ctx, tok.Token, authn.ClientRegistration{Name: "laptop", PublicKeys: [][]byte{pubDER}, Backup: blob}, addr)
	require.NoError(t, err)
	require.Equal(t, authn.KindClient, reg.Kind)
	require.Equal(t, [][]byte{pubDER}, reg.PublicKeys)
	require.Len(t, reg.APIKeys, 1)
	p, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: reg.APIKeys[0].Key})
	require.NoError(t, err)
	require.Equal(t, reg.ID, p.ID)
	require.Equal(t, authn.KindClient, p.Kind)
	require.True(t, p.HasRole(authn.RoleKeyOperation))
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: reg.ID, BasicPassword: reg.APIKeys[0].Key})
	require.NoError(t, err, "client ID and API key open a session like an application's")
	require.NotEmpty(t, s.Token.Reveal())

	// The administrator recovers the private key with the recovery key.
	stored, err := e.svc.GetBackup(ctx, admin, reg.ID)
	require.NoError(t, err)
	got, err := seal.Open(recovery, stored)
	require.NoError(t, err)
	require.Equal(t, privDER, got)

	_, err = e.svc.GetBackup(ctx, p, reg.ID)
	require.ErrorIs(t, err, authn.ErrForbidden, "only administrators fetch backups")

	// The client replaces its backup later, e.g. to add its API key.
	blob2, err := seal.Seal(e.svc.RecoveryPublicKey(), append(privDER, reg.APIKeys[0].Key.Reveal()...))
	require.NoError(t, err)
	require.NoError(t, e.svc.StoreBackup(ctx, p, blob2))
	stored, err = e.svc.GetBackup(ctx, admin, reg.ID)
	require.NoError(t, err)
	require.Equal(t, blob2, stored)
	require.ErrorIs(t, e.svc.StoreBackup(ctx, admin, blob2), authn.ErrForbidden, "only a client stores its own backup")

	// Without a backup the private key exists only on the client.
	_, pub2 := clientKeys(t)
	reg2, err := e.svc.RegisterClient(ctx, tok.Token, authn.ClientRegistration{Name: "phone", PublicKeys: [][]byte{pub2}}, addr)
	require.NoError(t, err)
	_, err = e.svc.GetBackup(ctx, admin, reg2.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)

	_, pub3 := clientKeys(t)
	_, err = e.svc.RegisterClient(ctx, tok.Token, authn.ClientRegistration{Name: "third", PublicKeys: [][]byte{pub3}}, addr)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the token had two uses")
}

func TestRegistrationTokenExpiryAndRevocation(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)
	spec := authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(authn.RoleService), Uses: 5, ValidFor: time.Hour}
	expiring, err := e.svc.CreateRegistrationToken(ctx, admin, spec)
	require.NoError(t, err)
	revoked, err := e.svc.CreateRegistrationToken(ctx, admin, spec)
	require.NoError(t, err)
	tokens, err := e.svc.ListRegistrationTokens(ctx)
	require.NoError(t, err)
	require.Len(t, tokens, 2)
	require.Equal(t, 5, tokens[0].UsesLeft)

	require.NoError(t, e.svc.RevokeRegistrationToken(ctx, revoked.ID))
	require.ErrorIs(t, e.svc.RevokeRegistrationToken(ctx, revoked.ID), authn.ErrNotFound)
	_, pub := clientKeys(t)
	reg := authn.ClientRegistration{Name: "c", PublicKeys: [][]byte{pub}}
	_, err = e.svc.RegisterClient(ctx, revoked.Token, reg, addr)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "revoked at once")

	e.clock.Advance(time.Hour)
	_, err = e.svc.RegisterClient(ctx, expiring.Token, reg, addr)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "expired")
}

func TestRegistrationRefusesBadSubmissionsWithoutSpendingTheToken(t *testing.T) {
	recovery := mlkem768(t)
	e := newEnv(t, withRecovery(recovery))
	admin := e.admin(t)
	tok, err := e.svc.CreateRegistrationToken(ctx, admin, authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(authn.RoleService), Uses: 1, ValidFor: time.Hour})
	require.NoError(t, err)

	priv, pub := clientKeys(t)
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	wrongRecovery, err := seal.Seal(mlkem768(t).EncapsulationKey(), []byte("x"))
	require.NoError(t, err)
	otherKey := append([]byte(nil), pub...)
	otherKey[len(otherKey)-1] ^= 1 // another valid Ed25519 key: any 32 bytes are
	cases := map[string]authn.ClientRegistration{
		"a private key instead of a public key": {Name: "c", PublicKeys: [][]byte{privDER}},
		"garbage":                               {Name: "c", PublicKeys: [][]byte{[]byte("not DER")}},
		"no public key":                         {Name: "c"},
		"trailing data":                         {Name: "c", PublicKeys: [][]byte{append(append([]byte(nil), pub...), 0)}},
		"empty name":                            {PublicKeys: [][]byte{pub}},
		"backup sealed to another key":          {Name: "c", PublicKeys: [][]byte{pub}, Backup: wrongRecovery},
		"backup that is not a backup":           {Name: "c", PublicKeys: [][]byte{pub}, Backup: []byte("plaintext private key")},
	}
	for name, reg := range cases {
		_, err := e.svc.RegisterClient(ctx, tok.Token, reg, addr)
		require.ErrorIs(t, err, authn.ErrInvalidArgument, name)
	}
	_, err = e.svc.RegisterClient(ctx, tok.Token, authn.ClientRegistration{Name: "c", PublicKeys: [][]byte{otherKey}}, addr)
	require.NoError(t, err, "the token's one use is still there")

	noBackups := newEnv(t)
	tok2, err := noBackups.svc.CreateRegistrationToken(ctx, noBackups.admin(t), authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(authn.RoleService), Uses: 1, ValidFor: time.Hour})
	require.NoError(t, err)
	blob, err := seal.Seal(recovery.EncapsulationKey(), []byte("x"))
	require.NoError(t, err)
	_, err = noBackups.svc.RegisterClient(ctx, tok2.Token, authn.ClientRegistration{Name: "c", PublicKeys: [][]byte{pub}, Backup: blob}, addr)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "backups need a configured recovery key")
}

func TestCreateRegistrationTokenRules(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)
	_, keys := e.app(t, authn.RoleService)
	notAdmin, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.NoError(t, err)
	ok := authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(authn.RoleService), Uses: 1, ValidFor: time.Hour}
	_, err = e.svc.CreateRegistrationToken(ctx, notAdmin, ok)
	require.ErrorIs(t, err, authn.ErrForbidden)
	for name, spec := range map[string]authn.RegistrationTokenSpec{
		"no role":       {Uses: 1, ValidFor: time.Hour},
		"no uses":       {Roles: ok.Roles, ValidFor: time.Hour},
		"too many uses": {Roles: ok.Roles, Uses: authn.MaxRegistrationUses + 1, ValidFor: time.Hour},
		"no expiry":     {Roles: ok.Roles, Uses: 1},
		"too long":      {Roles: ok.Roles, Uses: 1, ValidFor: authn.MaxRegistrationValidity + time.Second},
	} {
		_, err := e.svc.CreateRegistrationToken(ctx, admin, spec)
		require.ErrorIs(t, err, authn.ErrInvalidArgument, name)
	}
}
