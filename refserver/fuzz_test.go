package refserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// fuzzRoutes are the JSON-decoding routes the fuzzers drive, with the role
// their caller holds.
var fuzzRoutes = []struct {
	method, path string
	role         authn.Role
}{
	{"POST", "/v1/sign", authn.RoleKeyOperation},
	{"POST", "/v1/verify", authn.RoleKeyOperation},
	{"POST", "/v1/encrypt", authn.RoleKeyOperation},
	{"POST", "/v1/decrypt", authn.RoleKeyOperation},
	{"POST", "/v1/decapsulate", authn.RoleKeyOperation},
	{"POST", "/v1/key", authn.RoleKeyManagement},
	{"POST", "/sys/v1/apps", authn.RoleAdmin},
	{"POST", "/sys/v1/registrationTokens", authn.RoleAdmin},
	{"POST", "/v1/clients/register", authn.RoleAdmin},
	{"POST", "/secrets/usr_00000000000000000000000000000000", authn.RoleAdmin},
	{"PUT", "/v1/key/f-ec/policy", authn.RoleKeyManagement},
	{"POST", "/v1/approvals/tasks/{task}/decision", authn.RoleApprover}, // a task that names the caller
	{"POST", "/sys/v1/approvers", authn.RoleApproverKeyManagement},
}

// FuzzJSONBodies sends arbitrary bodies to every JSON route, in process:
// the server must answer with a JSON error or success, never 5xx and never
// a panic.
func FuzzJSONBodies(f *testing.F) {
	for _, seed := range []string{
		`{"label":"f-ec","message":"aGVsbG8="}`,
		`{"label":"f-ec","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","hash":"SHA-256","scheme":"ecdsa"}`,
		`{"label":"f-rsa","ciphertext":"AAAA","scheme":"oaep","hash":"SHA-1"}`,
		`{"label":"f-rsa","plaintext":"AAAA","scheme":"pkcs1v15"}`,
		`{"label":"x","algorithm":"Ed25519","usage":["sign"]}`,
		`{"name":"a","roles":["admin"],"method":"certificate","certificate":"-----BEGIN CERTIFICATE-----"}`,
		`{"roles":["keyOperation"],"uses":1,"valid_for_seconds":60}`,
		`{"token":"cpr_x","name":"n","public_keys":["AAAA"]}`,
		`{"use":[{"quorum":1,"approvers":["usr_00000000000000000000000000000000"]}],"block":[]}`,
		`{"decision":"approve","signature":"AAAA"}`, `{"decision":"reject","signature":""}`,
		`{"principal":"usr_00000000000000000000000000000000","public_key":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"}`,
		`{"label":"y","algorithm":"Ed25519","policy":{"delete":[{"quorum":1,"approvers":[]}]}}`,
		`{"label":"f-ec","message":null,"digest":null}`, `[]`, `{`, `{"label":1}`, `{"a":1}{"b":2}`, "",
	} {
		for i := range fuzzRoutes {
			f.Add(uint8(i), []byte(seed))
		}
	}
	in := refservertest.Start(f, refservertest.Options{})
	creds := map[authn.Role]string{}
	for _, r := range []authn.Role{authn.RoleKeyOperation, authn.RoleKeyManagement, authn.RoleAdmin, authn.RoleApproverKeyManagement} {
		_, creds[r] = in.User(f, r)
	}
	_, sess := in.User(f, authn.RoleKeyManagement)
	ctx := context.Background()
	km := in.Client(clientBearer(sess))
	for _, spec := range [][2]string{{"f-ec", "ECDSA-P256"}, {"f-rsa", "RSA-2048"}, {"f-kem", "ML-KEM-768"}} {
		_, err := km.CreateKey(ctx, keySpec(spec[0], spec[1]))
		require.NoError(f, err)
	}
	// An approver with a registered key, named by the use policy of key
	// f-pol, and a sign parked on that key: the decision route's bodies
	// reach the signature check.
	var approverID string
	approverID, creds[authn.RoleApprover] = in.User(f, authn.RoleApprover)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(f, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(f, err)
	akm := authn.Principal{ID: in.AdminID, Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleApproverKeyManagement)}
	_, err = in.Auth.RegisterApprover(ctx, akm, approverID, der)
	require.NoError(f, err)
	spec := keySpec("f-pol", "Ed25519")
	spec.Policy = &wire.KeyPolicy{Use: []wire.ApprovalRule{{Quorum: 1, Approvers: []string{approverID}}}}
	_, err = km.CreateKey(ctx, spec)
	require.NoError(f, err)
	_, err = in.Client(clientBearer(creds[authn.RoleKeyOperation])).Sign(ctx, wire.SignRequest{Label: "f-pol", Message: []byte("m")})
	var parked *client.ApprovalRequiredError
	require.ErrorAs(f, err, &parked)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := fuzzRoutes[int(which)%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, strings.Replace(rt.path, "{task}", parked.Pending.RequestID, 1), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+creds[rt.role])
		rec := httptest.NewRecorder()
		in.Server.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 500, "body %q: %s", body, rec.Body)
		require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || rec.Code == http.StatusNoContent)
	})
}
