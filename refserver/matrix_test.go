package refserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/wire"
)

// call is one request of the matrix: the path with its parameters filled in,
// the body, and the credential kind to use.
type call struct {
	path   string
	body   any
	basic  [2]string // HTTP Basic instead of a credential (session auth)
	client bool      // authenticate as a registered client (backups)
	tpm    bool      // call the world's TPM-backed server (key attestation)
	// as, when set, makes the call afresh for a principal holding role
	// and returns it with that principal's session: for routes whose
	// valid call depends on the caller (its own approval request, a task
	// that names it).
	as func(t *testing.T, role authn.Role) (call, string)
}

// world is the state the fixtures share.
type world struct {
	in       *refservertest.Instance
	admin    authn.Principal
	recovery *mlkem.DecapsulationKey768
	tpmIn    *refservertest.Instance // started by the first call that needs it
	opts     refservertest.Options   // both instances start with them
	appr     *approvalWorld          // made on first use
}

// server is the instance c goes to: the TPM-backed one (a TPM simulator,
// holding the key "m-tpm") for calls that need a key a TPM holds, the
// software-backed one otherwise.
func (w *world) server(t *testing.T, c call) *refservertest.Instance {
	if !c.tpm {
		return w.in
	}
	if w.tpmIn == nil {
		o := w.opts
		o.BackendURI = "tpm:simulator;dir=" + t.TempDir()
		w.tpmIn = refservertest.Start(t, o)
		_, err := w.tpmIn.Backend.GenerateKey(context.Background(), backend.KeySpec{Label: "m-tpm", Algorithm: backend.ECDSAP256})
		require.NoError(t, err)
	}
	return w.tpmIn
}

// newWorld starts a server (with o, if given) and the keys the fixtures
// use.
func newWorld(t *testing.T, o ...refservertest.Options) *world {
	dk, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	var opts refservertest.Options
	if len(o) > 0 {
		opts = o[0]
	}
	opts.RecoveryPublicKey = dk.EncapsulationKey()
	in := refservertest.Start(t, opts)
	ctx := context.Background()
	for _, spec := range []backend.KeySpec{
		{Label: "m-ec", Algorithm: backend.ECDSAP256},
		{Label: "m-rsa", Algorithm: backend.RSA2048, Usage: backend.UsageDecrypt},
		{Label: "m-kem", Algorithm: backend.MLKEM768},
	} {
		_, err := in.Backend.GenerateKey(ctx, spec)
		require.NoError(t, err)
	}
	return &world{in: in, recovery: dk, opts: opts, admin: authn.Principal{ID: in.AdminID, Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleAdmin)}}
}

func (w *world) user(t *testing.T) string {
	id, _ := w.in.User(t, authn.RoleKeyOperation)
	return id
}

func (w *world) userWithSecret(t *testing.T) string {
	id := w.user(t)
	pin, err := w.in.Auth.CreatePIN(context.Background(), w.admin, id)
	require.NoError(t, err)
	_, err = w.in.Auth.RedeemPIN(context.Background(), id, pin.PIN, netipLoopback)
	require.NoError(t, err)
	return id
}

func (w *world) registrationToken(t *testing.T, roles ...authn.Role) authn.IssuedRegistrationToken {
	if len(roles) == 0 {
		roles = []authn.Role{authn.RoleKeyOperation}
	}
	tok, err := w.in.Auth.CreateRegistrationToken(context.Background(), w.admin, authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(roles...), Uses: 1, ValidFor: 3600e9})
	require.NoError(t, err)
	return tok
}

func publicKeyDER(t *testing.T) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return der
}

func (w *world) sealed(t *testing.T) []byte {
	blob, err := seal.Seal(w.recovery.EncapsulationKey(), []byte("client credentials"))
	require.NoError(t, err)
	return blob
}

// client registers a client holding role and returns its API key.
func (w *world) client(t *testing.T, role authn.Role) string {
	tok := w.registrationToken(t, role)
	c, err := w.in.Auth.RegisterClient(context.Background(), tok.Token, authn.ClientRegistration{Name: "c", PublicKeys: [][]byte{publicKeyDER(t)}, Backup: w.sealed(t)}, netipLoopback)
	require.NoError(t, err)
	return c.APIKeys[0].Key.Reveal()
}

func (w *world) group(t *testing.T) string {
	g, err := w.in.Auth.CreateGroup(context.Background(), uniqueLabel("group"))
	require.NoError(t, err)
	return g.ID
}

func (w *world) app(t *testing.T) (string, authn.IssuedAPIKey) {
	a, keys, err := w.in.Auth.CreateApplication(context.Background(), authn.ApplicationSpec{Name: "fixture", Roles: authn.NewRoleSet(authn.RoleKeyOperation), Method: authn.MethodAPIKey})
	require.NoError(t, err)
	return a.ID, keys[0]
}

var seq int

func uniqueLabel(prefix string) string {
	seq++
	return prefix + "-" + strings.Repeat("x", seq%3) + string(rune('a'+seq%26)) + itoa(seq)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// fixtures give every route a request that succeeds for a permitted caller.
// A route without a fixture fails TestRouteRoleMatrix, so new routes get one.
var fixtures = map[string]func(t *testing.T, w *world) call{
	"GET /healthz":                func(*testing.T, *world) call { return call{path: "/healthz"} },
	"GET /readyz":                 func(*testing.T, *world) call { return call{path: "/readyz"} },
	"GET /metrics":                func(*testing.T, *world) call { return call{path: "/metrics"} },
	"GET /v1/versionInfo":         func(*testing.T, *world) call { return call{path: "/v1/versionInfo"} },
	"GET /v1/keystore/statistics": func(*testing.T, *world) call { return call{path: "/v1/keystore/statistics"} },
	"GET /v1/capabilities":        func(*testing.T, *world) call { return call{path: "/v1/capabilities"} },
	"POST /v1/key": func(*testing.T, *world) call {
		return call{path: "/v1/key", body: wire.KeySpec{Label: uniqueLabel("k"), Algorithm: "Ed25519"}}
	},
	"POST /v1/key/import": func(t *testing.T, _ *world) call {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		enc, err := wire.MarshalPrivateKey(backend.Ed25519, priv)
		require.NoError(t, err)
		return call{path: "/v1/key/import", body: wire.ImportKeyRequest{KeySpec: wire.KeySpec{Label: uniqueLabel("imp"), Algorithm: "Ed25519"}, PrivateKey: enc}}
	},
	"GET /v1/key": func(*testing.T, *world) call { return call{path: "/v1/key"} },
	"PUT /v1/key/{label}/group": func(t *testing.T, w *world) call {
		l := uniqueLabel("mv")
		_, err := w.in.Backend.GenerateKey(context.Background(), backend.KeySpec{Label: l, Algorithm: backend.Ed25519})
		require.NoError(t, err)
		return call{path: "/v1/key/" + l + "/group", body: wire.MoveKey{Group: authn.DefaultGroupID}}
	},
	"GET /v1/key/{label}": func(*testing.T, *world) call { return call{path: "/v1/key/m-ec"} },
	"POST /v1/attestation/key/{label}": func(*testing.T, *world) call {
		return call{path: "/v1/attestation/key/m-tpm", body: map[string][]byte{"nonce": []byte("a fresh nonce")}, tpm: true}
	},
	"DELETE /v1/key/{label}": func(t *testing.T, w *world) call {
		l := uniqueLabel("del")
		_, err := w.in.Backend.GenerateKey(context.Background(), backend.KeySpec{Label: l, Algorithm: backend.Ed25519})
		require.NoError(t, err)
		return call{path: "/v1/key/" + l}
	},
	"POST /v1/sign": func(*testing.T, *world) call {
		return call{path: "/v1/sign", body: wire.SignRequest{Label: "m-ec", Message: []byte("hello")}}
	},
	"POST /v1/verify": func(*testing.T, *world) call {
		return call{path: "/v1/verify", body: wire.VerifyRequest{SignRequest: wire.SignRequest{Label: "m-ec", Message: []byte("hello")}, Signature: []byte{0x30, 0}}}
	},
	"POST /v1/encrypt": func(*testing.T, *world) call {
		return call{path: "/v1/encrypt", body: wire.EncryptRequest{Label: "m-rsa", Plaintext: []byte("hi"), Scheme: "oaep"}}
	},
	"POST /v1/decrypt": func(t *testing.T, w *world) call {
		k, err := w.in.Backend.Key(context.Background(), backend.ByLabel("m-rsa"))
		require.NoError(t, err)
		ct := encryptOAEP(t, k.Public(), []byte("hi"))
		return call{path: "/v1/decrypt", body: wire.DecryptRequest{Label: "m-rsa", Ciphertext: ct, Scheme: "oaep", Hash: "SHA-256"}}
	},
	"POST /v1/encapsulate": func(*testing.T, *world) call {
		return call{path: "/v1/encapsulate", body: wire.EncapsulateRequest{Label: "m-kem"}}
	},
	"POST /v1/decapsulate": func(*testing.T, *world) call {
		return call{path: "/v1/decapsulate", body: wire.DecapsulateRequest{Label: "m-kem", Ciphertext: make([]byte, mlkem.CiphertextSize768)}}
	},
	"GET /v1/generateRandom/{length}": func(*testing.T, *world) call { return call{path: "/v1/generateRandom/32"} },
	"POST /sys/v1/session/auth": func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/session/auth", basic: [2]string{"admin@example.test", refservertest.Password}}
	},
	"POST /sys/v1/session/reauth":    func(*testing.T, *world) call { return call{path: "/sys/v1/session/reauth"} },
	"POST /sys/v1/session/terminate": func(*testing.T, *world) call { return call{path: "/sys/v1/session/terminate"} },
	"POST /sys/v1/apps": func(*testing.T, *world) call {
		return call{path: "/sys/v1/apps", body: wire.CreateApplication{Name: "a", Roles: []string{"keyOperation"}, Method: "apiKey"}}
	},
	"GET /sys/v1/apps":         func(*testing.T, *world) call { return call{path: "/sys/v1/apps"} },
	"GET /sys/v1/apps/{id}":    func(t *testing.T, w *world) call { id, _ := w.app(t); return call{path: "/sys/v1/apps/" + id} },
	"DELETE /sys/v1/apps/{id}": func(t *testing.T, w *world) call { id, _ := w.app(t); return call{path: "/sys/v1/apps/" + id} },
	"POST /sys/v1/apps/{id}/reset_secret": func(t *testing.T, w *world) call {
		id, _ := w.app(t)
		return call{path: "/sys/v1/apps/" + id + "/reset_secret"}
	},
	"POST /sys/v1/apps/{id}/method": func(t *testing.T, w *world) call {
		id, _ := w.app(t)
		return call{path: "/sys/v1/apps/" + id + "/method", body: wire.SwitchMethod{Method: "apiKey"}}
	},
	"POST /sys/v1/apps/{id}/apikeys": func(t *testing.T, w *world) call {
		id, _ := w.app(t)
		return call{path: "/sys/v1/apps/" + id + "/apikeys", body: wire.CreateAPIKey{Role: "keyOperation", ValidForSeconds: 60}}
	},
	"GET /sys/v1/apps/{id}/apikeys": func(t *testing.T, w *world) call {
		id, _ := w.app(t)
		return call{path: "/sys/v1/apps/" + id + "/apikeys"}
	},
	"DELETE /sys/v1/apikeys/{id}": func(t *testing.T, w *world) call {
		_, k := w.app(t)
		return call{path: "/sys/v1/apikeys/" + k.ID}
	},
	"POST /sys/v1/apikeys/{id}/rotate": func(t *testing.T, w *world) call {
		_, k := w.app(t)
		return call{path: "/sys/v1/apikeys/" + k.ID + "/rotate", body: wire.RotateAPIKey{OverlapSeconds: 30}}
	},
	"DELETE /sys/v1/accounts/{id}/sessions": func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/accounts/" + w.user(t) + "/sessions"}
	},
	"POST /sys/v1/users": func(*testing.T, *world) call {
		return call{path: "/sys/v1/users", body: wire.CreateUser{Email: uniqueLabel("u") + "@example.test", Password: refservertest.Password, Roles: []string{"keyOperation"}}}
	},
	"GET /sys/v1/users":         func(*testing.T, *world) call { return call{path: "/sys/v1/users"} },
	"GET /sys/v1/users/{id}":    func(t *testing.T, w *world) call { return call{path: "/sys/v1/users/" + w.user(t)} },
	"DELETE /sys/v1/users/{id}": func(t *testing.T, w *world) call { return call{path: "/sys/v1/users/" + w.user(t)} },
	"PUT /sys/v1/users/{id}/password": func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/users/" + w.user(t) + "/password", body: wire.SetPassword{Password: "another long password"}}
	},
	"POST /sys/v1/registrationTokens": func(*testing.T, *world) call {
		return call{path: "/sys/v1/registrationTokens", body: wire.CreateRegistrationToken{Roles: []string{"keyOperation"}, Uses: 1, ValidForSeconds: 60}}
	},
	"GET /sys/v1/registrationTokens": func(*testing.T, *world) call { return call{path: "/sys/v1/registrationTokens"} },
	"DELETE /sys/v1/registrationTokens/{id}": func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/registrationTokens/" + w.registrationToken(t).ID}
	},
	"GET /sys/v1/clients/{id}/backup": func(t *testing.T, w *world) call {
		tok := w.registrationToken(t)
		c, err := w.in.Auth.RegisterClient(context.Background(), tok.Token, authn.ClientRegistration{Name: "c", PublicKeys: [][]byte{publicKeyDER(t)}, Backup: w.sealed(t)}, netipLoopback)
		require.NoError(t, err)
		return call{path: "/sys/v1/clients/" + c.ID + "/backup"}
	},
	"POST /users/{user}/secrets": func(t *testing.T, w *world) call { return call{path: "/users/" + w.user(t) + "/secrets"} },
	"PATCH /users/{user}/secrets": func(t *testing.T, w *world) call {
		return call{path: "/users/" + w.userWithSecret(t) + "/secrets", body: wire.SecretValidity{}}
	},
	"DELETE /users/{user}/secrets": func(t *testing.T, w *world) call { return call{path: "/users/" + w.userWithSecret(t) + "/secrets"} },
	"POST /secrets/{account}": func(t *testing.T, w *world) call {
		id := w.user(t)
		pin, err := w.in.Auth.CreatePIN(context.Background(), w.admin, id)
		require.NoError(t, err)
		return call{path: "/secrets/" + id, body: wire.RedeemPIN{PIN: pin.PIN.Reveal()}}
	},
	"POST /v1/clients/register": func(t *testing.T, w *world) call {
		return call{path: "/v1/clients/register", body: wire.RegisterClient{Token: w.registrationToken(t).Token.Reveal(), Name: "c", PublicKeys: [][]byte{publicKeyDER(t)}}}
	},
	"GET /v1/clients/recoveryKey": func(*testing.T, *world) call { return call{path: "/v1/clients/recoveryKey"} },
	"POST /sys/v1/groups": func(*testing.T, *world) call {
		return call{path: "/sys/v1/groups", body: wire.CreateGroup{Name: uniqueLabel("group")}}
	},
	"GET /sys/v1/groups":      func(*testing.T, *world) call { return call{path: "/sys/v1/groups"} },
	"GET /sys/v1/groups/{id}": func(t *testing.T, w *world) call { return call{path: "/sys/v1/groups/" + w.group(t)} },
	"DELETE /sys/v1/groups/{id}": func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/groups/" + w.group(t)}
	},
	"PUT /sys/v1/groups/{id}/members/{principal}": func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/groups/" + w.group(t) + "/members/" + w.user(t), body: wire.SetGroupMember{Roles: []string{"keyOperation"}}}
	},
	"DELETE /sys/v1/groups/{id}/members/{principal}": func(t *testing.T, w *world) call {
		g, u := w.group(t), w.user(t)
		require.NoError(t, w.in.Auth.SetGroupMember(context.Background(), g, u, authn.NewRoleSet(authn.RoleKeyOperation)))
		return call{path: "/sys/v1/groups/" + g + "/members/" + u}
	},
	"PUT /v1/clients/backup": func(t *testing.T, w *world) call {
		return call{path: "/v1/clients/backup", body: wire.Backup{Backup: w.sealed(t)}, client: true}
	},
}

func (w *world) do(t *testing.T, method string, c call, setCred func(http.Header)) (int, string) {
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		require.NoError(t, err)
		body = bytes.NewReader(b)
	}
	in := w.server(t, c)
	req, err := http.NewRequest(method, in.URL+c.path, body)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.basic[0] != "" {
		req.SetBasicAuth(c.basic[0], c.basic[1])
	} else if setCred != nil {
		setCred(req.Header)
	}
	resp, err := in.Admin.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRouteRoleMatrix calls every route as a principal holding each single
// role: a role the route declares must get 2xx, any other 403. Public
// routes must answer 2xx without a credential.
func TestRouteRoleMatrix(t *testing.T) {
	w := newWorld(t)
	for _, rt := range refserver.Routes() {
		fix, ok := fixtures[rt.Pattern()]
		if !ok {
			t.Errorf("route %s has no fixture in matrix_test.go", rt.Pattern())
			continue
		}
		t.Run(rt.Pattern(), func(t *testing.T) {
			if rt.Public {
				status, body := w.do(t, rt.Method, fix(t, w), nil)
				require.Less(t, status, 300, "public route without credential: %s", body)
				return
			}
			for _, role := range authn.AllRoles {
				c := fix(t, w)
				var set func(http.Header)
				if c.as != nil {
					var sess string
					c, sess = c.as(t, role)
					set = func(h http.Header) { h.Set("Authorization", "Bearer "+sess) }
				} else if c.client {
					key := w.client(t, role)
					set = func(h http.Header) { h.Set("X-API-KEY", key) }
				} else {
					_, sess := w.server(t, c).User(t, role)
					set = func(h http.Header) { h.Set("Authorization", "Bearer "+sess) }
				}
				status, body := w.do(t, rt.Method, c, set)
				if rt.Roles.Has(role) {
					require.True(t, status >= 200 && status < 300, "role %s: status %d: %s", role, status, body)
				} else {
					require.Equal(t, http.StatusForbidden, status, "role %s: %s", role, body)
					require.Contains(t, body, `"code":"forbidden"`)
				}
			}
			// No credential at all: 401 with a challenge, whatever the role.
			req, _ := http.NewRequest(rt.Method, w.in.URL+fix(t, w).path, nil)
			resp, err := w.in.Admin.HTTPClient().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.NotEmpty(t, resp.Header.Values("WWW-Authenticate"))
		})
	}
	for p := range fixtures {
		found := false
		for _, rt := range refserver.Routes() {
			found = found || rt.Pattern() == p
		}
		require.True(t, found, "fixture %s names no route", p)
	}
}
