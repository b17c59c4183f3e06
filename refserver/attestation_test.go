package refserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/backends/tpm/tpmattest"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// attestation is the body of a POST /v1/attestation/key/{label} answer.
type attestation struct {
	Label    string `json:"label"`
	Format   string `json:"format"`
	Evidence []byte `json:"evidence"`
}

// postAttest asks in for an attestation of label as the holder of token.
func postAttest(t *testing.T, in *refservertest.Instance, token, label string, body map[string][]byte) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("POST", in.URL+"/v1/attestation/key/"+label, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := in.Admin.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

func freshNonce(t *testing.T) []byte {
	n := make([]byte, 32)
	_, err := rand.Read(n)
	require.NoError(t, err)
	return n
}

// TestAttestationOverHTTP attests a key of a server backed by a swtpm with
// an EK certificate from a private CA: the evidence the route returns, in
// two rounds, verifies in Go from the CA's root down to the key.
func TestAttestationOverHTTP(t *testing.T) {
	ca := swtpmtest.NewCA(t)
	sw := swtpmtest.Start(t, swtpmtest.WithEKCertificate(ca))
	in := refservertest.Start(t, refservertest.Options{BackendURI: sw.URI(t.TempDir())})
	ctx := context.Background()
	k, err := in.Backend.GenerateKey(ctx, backend.KeySpec{Label: "web", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = in.Backend.(backend.Importer).ImportKey(ctx, backend.KeySpec{Label: "imported", Algorithm: backend.ECDSAP256}, priv)
	require.NoError(t, err)
	_, token := in.User(t, authn.RoleKeyOperation)
	v := &tpmattest.Verifier{Roots: ca.Roots(), Intermediates: ca.Intermediates()}

	attest := func(label string, nonce, challenge []byte) attestation {
		t.Helper()
		body := map[string][]byte{"nonce": nonce}
		if challenge != nil {
			body["challenge"] = challenge
		}
		status, out := postAttest(t, in, token, label, body)
		require.Equal(t, http.StatusOK, status, "%s", out)
		var a attestation
		require.NoError(t, json.Unmarshal(out, &a))
		require.Equal(t, label, a.Label)
		require.Equal(t, tpmattest.Format, a.Format)
		return a
	}
	first := attest("web", freshNonce(t), nil)
	ch, err := v.Challenge(first.Evidence)
	require.NoError(t, err)
	n := freshNonce(t)
	res, err := ch.Verify(attest("web", n, ch.Bytes()).Evidence, n)
	require.NoError(t, err)
	require.True(t, k.Public().(*ecdsa.PublicKey).Equal(res.Public))
	require.True(t, res.Chain[len(res.Chain)-1].Equal(ca.Root()))

	n = freshNonce(t)
	_, err = ch.Verify(attest("imported", n, ch.Bytes()).Evidence, n)
	require.ErrorIs(t, err, tpmattest.ErrImported, "the evidence says the key was imported")

	for _, tc := range []struct {
		name   string
		label  string
		body   map[string][]byte
		status int
		code   string
	}{
		{"nonce too short", "web", map[string][]byte{"nonce": []byte("short")}, http.StatusBadRequest, "invalid_input"},
		{"no nonce", "web", map[string][]byte{}, http.StatusBadRequest, "invalid_input"},
		{"challenge not for this TPM", "web", map[string][]byte{"nonce": freshNonce(t), "challenge": []byte(`{"credential":"AQ==","secret":"Ag=="}`)}, http.StatusBadRequest, "invalid_input"},
		{"challenge not JSON", "web", map[string][]byte{"nonce": freshNonce(t), "challenge": []byte("x")}, http.StatusBadRequest, "invalid_input"},
		{"no such key", "nobody", map[string][]byte{"nonce": freshNonce(t)}, http.StatusNotFound, "key_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := postAttest(t, in, token, tc.label, tc.body)
			require.Equal(t, tc.status, status, "%s", out)
			require.Contains(t, string(out), `"code":"`+tc.code+`"`)
			require.NotContains(t, string(out), sw.Socket, "no internal detail in an answer")
		})
	}

	// A software backend's keys cannot be attested.
	soft := refservertest.Start(t, refservertest.Options{})
	_, err = soft.Backend.GenerateKey(ctx, backend.KeySpec{Label: "soft", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	_, softToken := soft.User(t, authn.RoleKeyManagement)
	status, out := postAttest(t, soft, softToken, "soft", map[string][]byte{"nonce": freshNonce(t)})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, string(out), `"code":"unsupported"`)
}
