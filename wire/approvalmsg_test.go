package wire_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/wire"
)

// exampleTask is the worked example of docs/approvals.md.
func exampleTask() wire.ApprovalTask {
	return wire.ApprovalTask{
		ID:        "apr_0123456789abcdef0123456789abcdef",
		Operation: "sign",
		Key:       wire.TaskKey{Label: "payments", ID: "00ff", Algorithm: "Ed25519"},
		Requester: "app_fedcba9876543210fedcba9876543210",
		CreatedAt: 1767225600,
		ExpiresAt: 1767226500,
		Params: []wire.TaskParam{
			{Name: "message_length", Value: "5"},
			{Name: "message_sha256", Value: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"},
			{Name: "scheme", Value: "ed25519"},
		},
		Status: "pending", // not signed
	}
}

// TestApprovalMessageVector pins the encoding to the bytes
// docs/approvals.md shows: a change to either breaks this test.
func TestApprovalMessageVector(t *testing.T) {
	task := exampleTask()
	body, err := wire.ApprovalTaskBody(&task)
	require.NoError(t, err)
	msg, err := wire.ApprovalMessage(body, wire.DecisionApprove)
	require.NoError(t, err)
	want := strings.Join([]string{
		"00000016", hex.EncodeToString([]byte("cryptoplug-approval-v1")),
		"00000007", hex.EncodeToString([]byte("approve")),
		"00000024", hex.EncodeToString([]byte(task.ID)),
		"00000004", hex.EncodeToString([]byte("sign")),
		"00000008", hex.EncodeToString([]byte("payments")),
		"00000004", hex.EncodeToString([]byte("00ff")),
		"00000007", hex.EncodeToString([]byte("Ed25519")),
		"00000024", hex.EncodeToString([]byte(task.Requester)),
		"000000006955b900", "000000006955bc84",
		"00000003",
		"0000000e", hex.EncodeToString([]byte("message_length")), "00000001", "35",
		"0000000e", hex.EncodeToString([]byte("message_sha256")), "00000040", hex.EncodeToString([]byte(task.Params[1].Value)),
		"00000006", hex.EncodeToString([]byte("scheme")), "00000007", hex.EncodeToString([]byte("ed25519")),
	}, "")
	require.Equal(t, want, hex.EncodeToString(msg))

	sum := sha256.Sum256(msg)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "approvals.md"))
	require.NoError(t, err)
	require.Contains(t, string(doc), hex.EncodeToString(sum[:]), "docs/approvals.md quotes the example message's SHA-256")

	// Progress fields are not signed: they may change, the signature not.
	task.Status, task.CollectBy, task.Rules = "approved", 99, []wire.ApprovalRule{{Quorum: 1, Approvers: []string{"x"}}}
	again, err := wire.ApprovalTaskBody(&task)
	require.NoError(t, err)
	require.Equal(t, body, again)
	rej, err := wire.ApprovalMessage(body, wire.DecisionReject)
	require.NoError(t, err)
	require.NotEqual(t, msg, rej)
}

func TestApprovalTaskBodyRefusals(t *testing.T) {
	long := strings.Repeat("a", wire.MaxTaskField+1)
	for _, c := range []struct {
		name   string
		change func(*wire.ApprovalTask)
	}{
		{"params out of order", func(t *wire.ApprovalTask) { t.Params[0], t.Params[1] = t.Params[1], t.Params[0] }},
		{"a param twice", func(t *wire.ApprovalTask) { t.Params[1].Name = t.Params[0].Name }},
		{"an upper-case name", func(t *wire.ApprovalTask) { t.Params[0].Name = "Message_length" }},
		{"an empty name", func(t *wire.ApprovalTask) { t.Params[0].Name = "" }},
		{"a name with a space", func(t *wire.ApprovalTask) { t.Params[0].Name = "message length" }},
		{"invalid UTF-8 in a value", func(t *wire.ApprovalTask) { t.Params[0].Value = "\xff" }},
		{"invalid UTF-8 in the label", func(t *wire.ApprovalTask) { t.Key.Label = "a\xc3" }},
		{"a field too long", func(t *wire.ApprovalTask) { t.Key.Label = long }},
		{"a value too long", func(t *wire.ApprovalTask) { t.Params[2].Value = long }},
		{"a negative time", func(t *wire.ApprovalTask) { t.CreatedAt = -1 }},
		{"too many params", func(t *wire.ApprovalTask) {
			t.Params = nil
			for i := range wire.MaxTaskParams + 1 {
				t.Params = append(t.Params, wire.TaskParam{Name: string(rune('a'+i/26)) + string(rune('a'+i%26))})
			}
		}},
	} {
		task := exampleTask()
		c.change(&task)
		_, err := wire.ApprovalTaskBody(&task)
		require.ErrorIs(t, err, backend.ErrInvalidInput, c.name)
	}
	for _, d := range []string{"", "Approve", "approved", "yes"} {
		_, err := wire.ApprovalMessage([]byte("body"), d)
		require.ErrorIs(t, err, backend.ErrInvalidInput, d)
	}
}

// TestSignAndVerifyApproval signs with each key type approvers may use,
// held by the standard library and by cryptoplug's software backend (the
// same adapters every backend's keys go through), and checks that a
// signature never verifies for another message, decision or key.
func TestSignAndVerifyApproval(t *testing.T) {
	ctx := context.Background()
	task := exampleTask()
	body, err := wire.ApprovalTaskBody(&task)
	require.NoError(t, err)
	msg, _ := wire.ApprovalMessage(body, wire.DecisionApprove)
	other, _ := wire.ApprovalMessage(body, wire.DecisionReject)

	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	signers := map[string]crypto.Signer{"std Ed25519": edKey, "std ECDSA P-256": p256, "std RSA-2048": rsaKey}
	b, err := backend.Open(ctx, "software:")
	require.NoError(t, err)
	defer b.Close()
	for _, alg := range []backend.Algorithm{backend.Ed25519, backend.ECDSAP256, backend.RSA2048} {
		k, err := b.GenerateKey(ctx, backend.KeySpec{Label: "approver-" + alg.String(), Algorithm: alg})
		require.NoError(t, err)
		s, err := k.Signer()
		require.NoError(t, err)
		signers["software "+alg.String()] = s
	}
	for name, s := range signers {
		sig, err := wire.SignApproval(ctx, s, msg)
		require.NoError(t, err, name)
		require.True(t, wire.VerifyApproval(s.Public(), msg, sig), name)
		require.False(t, wire.VerifyApproval(s.Public(), other, sig), "%s: the other decision", name)
		require.False(t, wire.VerifyApproval(s.Public(), msg[:len(msg)-1], sig), "%s: an altered task", name)
		require.False(t, wire.VerifyApproval(edKey.Public(), msg, sig) && name != "std Ed25519", "%s: another key", name)
		bad := append([]byte(nil), sig...)
		bad[len(bad)/2] ^= 1
		require.False(t, wire.VerifyApproval(s.Public(), msg, bad), "%s: a flipped bit", name)
	}

	// RSA-PSS over the SHA-256 is accepted too, with any salt length.
	sum := sha256.Sum256(msg)
	for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto} {
		sig, err := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: salt})
		require.NoError(t, err)
		require.True(t, wire.VerifyApproval(rsaKey.Public(), msg, sig))
	}
	// Keys approvers may not use.
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, err = wire.SignApproval(ctx, p384, msg)
	require.ErrorIs(t, err, backend.ErrUnsupported)
	sig, _ := ecdsa.SignASN1(rand.Reader, p384, sum[:])
	require.False(t, wire.VerifyApproval(p384.Public(), msg, sig))
	require.False(t, wire.VerifyApproval(edKey.Public(), msg, make([]byte, wire.MaxApprovalSignature+1)))
}

// decodeBody is the inverse of ApprovalTaskBody, for the fuzz test: if
// every body decodes back to the fields it came from, no two tasks share
// a body.
func decodeBody(b []byte) (wire.ApprovalTask, error) {
	var t wire.ApprovalTask
	short := errors.New("short")
	str := func() (string, error) {
		if len(b) < 4 {
			return "", short
		}
		n := binary.BigEndian.Uint32(b)
		if uint32(len(b)-4) < n {
			return "", short
		}
		s := string(b[4 : 4+n])
		b = b[4+n:]
		return s, nil
	}
	var err error
	for _, dst := range []*string{&t.ID, &t.Operation, &t.Key.Label, &t.Key.ID, &t.Key.Algorithm, &t.Requester} {
		if *dst, err = str(); err != nil {
			return t, err
		}
	}
	if len(b) < 20 {
		return t, short
	}
	t.CreatedAt, t.ExpiresAt = int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))
	n := binary.BigEndian.Uint32(b[16:])
	b = b[20:]
	t.Params = []wire.TaskParam{}
	for range n {
		var p wire.TaskParam
		if p.Name, err = str(); err != nil {
			return t, err
		}
		if p.Value, err = str(); err != nil {
			return t, err
		}
		t.Params = append(t.Params, p)
	}
	if len(b) != 0 {
		return t, errors.New("trailing bytes")
	}
	return t, nil
}

// FuzzApprovalTaskBody: whatever fields a task has (a client encodes what a
// server, possibly hostile, sent it), the encoder never panics, and what it
// accepts decodes back to exactly those fields.
func FuzzApprovalTaskBody(f *testing.F) {
	f.Add("apr_1", "sign", "label", "00ff", "Ed25519", "usr_1", int64(1), int64(2), "a\x00b\x00scheme", "x\x00y\x00ed25519")
	f.Add("", "", "", "", "", "", int64(0), int64(0), "", "")
	f.Add("a\x00\x00\x00\x01", "b", "c", "d", "e", "f", int64(-1), int64(1<<62), "n.1\x00n.2", "\xff\x00v")
	f.Fuzz(func(t *testing.T, id, op, label, keyID, alg, req string, created, expires int64, names, values string) {
		task := wire.ApprovalTask{ID: id, Operation: op, Key: wire.TaskKey{Label: label, ID: keyID, Algorithm: alg},
			Requester: req, CreatedAt: created, ExpiresAt: expires, Params: []wire.TaskParam{}}
		ns, vs := strings.Split(names, "\x00"), strings.Split(values, "\x00")
		for i := range min(len(ns), len(vs)) {
			task.Params = append(task.Params, wire.TaskParam{Name: ns[i], Value: vs[i]})
		}
		body, err := wire.ApprovalTaskBody(&task)
		if err != nil {
			require.ErrorIs(t, err, backend.ErrInvalidInput)
			return
		}
		got, err := decodeBody(body)
		require.NoError(t, err)
		require.Equal(t, task, got)
		msg, err := wire.ApprovalMessage(body, wire.DecisionReject)
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(string(msg), string(body)))
	})
}
