package authn_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func b64key(b byte) string {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return base64.StdEncoding.EncodeToString(k)
}

func TestParsePeppers(t *testing.T) {
	cases := []struct {
		name     string
		text     string
		current  uint32
		versions []uint32
		bad      bool
	}{
		{name: "one", text: "1:" + b64key(1), current: 1, versions: []uint32{1}},
		{name: "highest is current", text: "1:" + b64key(1) + "\n2:" + b64key(2), current: 2, versions: []uint32{2, 1}},
		{name: "explicit current, commas", text: "1:" + b64key(1) + ",2:" + b64key(2) + ",current=1", current: 1, versions: []uint32{1, 2}},
		{name: "comments and blanks", text: "# peppers\n\n 3 : " + b64key(3) + " \n", current: 3, versions: []uint32{3}},
		{name: "empty", text: "", bad: true},
		{name: "short key", text: "1:" + base64.StdEncoding.EncodeToString(make([]byte, 31)), bad: true},
		{name: "version zero", text: "0:" + b64key(1), bad: true},
		{name: "duplicate version", text: "1:" + b64key(1) + "\n1:" + b64key(2), bad: true},
		{name: "bad base64", text: "1:not*base64", bad: true},
		{name: "no colon", text: b64key(1), bad: true},
		{name: "current without key", text: "1:" + b64key(1) + "\ncurrent=2", bad: true},
		{name: "current twice", text: "1:" + b64key(1) + "\ncurrent=1\ncurrent=1", bad: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := authn.ParsePeppers(c.text)
			if c.bad {
				require.ErrorIs(t, err, authn.ErrInvalidArgument)
				require.NotContains(t, err.Error(), b64key(1)[:20], "errors never show key material")
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.current, p.Current())
			require.Equal(t, c.versions, p.Versions())
			require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", p, p, p, p), b64key(byte(c.current))[:20])
		})
	}
}

func TestLoadPeppersFromFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pepper")
	require.NoError(t, os.WriteFile(path, []byte("7:"+b64key(7)+"\n"), 0o600))
	p, err := authn.LoadPepperFile(path)
	require.NoError(t, err)
	require.Equal(t, uint32(7), p.Current())

	_, err = authn.LoadPepperFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)

	t.Setenv("CRYPTOPLUG_TEST_PEPPERS", "4:"+b64key(4)+",5:"+b64key(5)+",current=4")
	p, err = authn.PeppersFromEnv("CRYPTOPLUG_TEST_PEPPERS")
	require.NoError(t, err)
	require.Equal(t, uint32(4), p.Current())
	_, err = authn.PeppersFromEnv("CRYPTOPLUG_TEST_PEPPERS_UNSET")
	require.ErrorIs(t, err, authn.ErrInvalidArgument)
}

// TestPepperRotation walks the three rotation steps across services sharing
// one store: credentials made under v1 keep working while v2 is added and
// made current, are re-hashed to v2 on use, and keep working once v1 is
// dropped; a credential never used during the rotation dies with v1.
func TestPepperRotation(t *testing.T) {
	e := newEnv(t) // v1 only
	app, keys := e.app(t, authn.RoleKeyOperation, authn.RoleService)
	used, unused := keys[0].Key, keys[1].Key
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: used})
	require.NoError(t, err)

	withPeppers := func(p *authn.PepperSet) *env {
		return newEnvOn(t, e.store, e.path, func(c *authn.Config) { c.Peppers = p; c.Clock = e.clock.Now })
	}
	// Step 1: v2 known but v1 still current.
	step1 := withPeppers(testPeppers(t, 1, 1, 2))
	_, err = step1.svc.Authenticate(ctx, authn.Credentials{APIKey: used})
	require.NoError(t, err)
	rec, err := e.store.GetAPIKey(ctx, keys[0].ID)
	require.NoError(t, err)
	require.Equal(t, uint32(1), rec.PepperVersion, "no re-hash while v1 is current")

	// Step 2: v2 current: a credential found under v1 moves to v2.
	step2 := withPeppers(testPeppers(t, 2, 1, 2))
	for _, c := range []authn.Credentials{{APIKey: used}, {Bearer: sess.Token}} {
		_, err = step2.svc.Authenticate(ctx, c)
		require.NoError(t, err)
	}
	rec, err = e.store.GetAPIKey(ctx, keys[0].ID)
	require.NoError(t, err)
	require.Equal(t, uint32(2), rec.PepperVersion, "re-hashed on success")
	sessions, err := e.store.ListSessions(ctx, app.ID)
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	require.Equal(t, uint32(2), sessions[0].PepperVersion, "session re-hashed too")

	// Step 3: v1 dropped. The used key and session survive; the unused key,
	// still hashed under v1, no longer authenticates.
	step3 := withPeppers(testPeppers(t, 2, 2))
	_, err = step3.svc.Authenticate(ctx, authn.Credentials{APIKey: used})
	require.NoError(t, err)
	_, err = step3.svc.Authenticate(ctx, authn.Credentials{Bearer: sess.Token})
	require.NoError(t, err)
	_, err = step3.svc.Authenticate(ctx, authn.Credentials{APIKey: unused})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
}
