package wire

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
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/cryptoplug/cryptoplug/backend"
)

// ApprovalFormat names version 1 of the canonical encoding an approval
// signs. It is the message's first field, so a signature made for one
// version, or for anything that is not an approval, never verifies as
// another.
const ApprovalFormat = "cryptoplug-approval-v1"

// Bounds of the canonical encoding, checked by [ApprovalTaskBody]; the
// server makes no task that exceeds them.
const (
	// MaxTaskParams bounds the params of one task.
	MaxTaskParams = 32
	// MaxTaskField bounds each string of a task, in bytes.
	MaxTaskField = 16 << 10
)

// ApprovalTaskBody returns the canonical encoding of the fields of t an
// approval signs, in this order, with every integer big-endian and every
// string written as lp(s) = uint32 length ‖ UTF-8 bytes:
//
//	lp(ID) lp(Operation) lp(Key.Label) lp(Key.ID) lp(Key.Algorithm)
//	lp(Requester) uint64(CreatedAt) uint64(ExpiresAt)
//	uint32(len(Params)) { lp(Name) lp(Value) } for each param
//
// Params must be sorted by name, bytewise and strictly (no name twice);
// names are 1 to 64 bytes of a-z, 0-9, '_' and '.'. Every string must be
// valid UTF-8 of at most [MaxTaskField] bytes, times non-negative, and
// Status, Rules, Decisions and CollectBy are not part of it. A task that
// breaks a rule fails with an error wrapping [backend.ErrInvalidInput]: an
// approver's program must refuse to sign what it cannot encode exactly.
//
// The encoding is built from the decoded fields, never from JSON text, so
// a client and the server derive the same bytes from the same values
// whatever JSON spelling carried them. docs/approvals.md has a worked
// example.
func ApprovalTaskBody(t *ApprovalTask) ([]byte, error) {
	if t.CreatedAt < 0 || t.ExpiresAt < 0 {
		return nil, taskErr("times must not be negative")
	}
	if len(t.Params) > MaxTaskParams {
		return nil, taskErr(fmt.Sprintf("more than %d params", MaxTaskParams))
	}
	strs := []string{t.ID, t.Operation, t.Key.Label, t.Key.ID, t.Key.Algorithm, t.Requester}
	n := 8 + 8 + 4
	for _, s := range strs {
		n += 4 + len(s)
	}
	for i, p := range t.Params {
		if !paramName(p.Name) {
			return nil, taskErr("a param name is not 1 to 64 bytes of a-z, 0-9, '_' and '.'")
		}
		if i > 0 && t.Params[i-1].Name >= p.Name {
			return nil, taskErr("params are not sorted by name, or a name repeats")
		}
		n += 8 + len(p.Name) + len(p.Value)
	}
	for _, s := range strs {
		if err := taskString(s); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, n)
	for _, s := range strs {
		out = appendLP(out, s)
	}
	out = binary.BigEndian.AppendUint64(out, uint64(t.CreatedAt))
	out = binary.BigEndian.AppendUint64(out, uint64(t.ExpiresAt))
	out = binary.BigEndian.AppendUint32(out, uint32(len(t.Params)))
	for _, p := range t.Params {
		if err := taskString(p.Value); err != nil {
			return nil, err
		}
		out = appendLP(appendLP(out, p.Name), p.Value)
	}
	return out, nil
}

// ApprovalMessage returns what an approver signs to take decision
// ("approve" or "reject") on the task whose [ApprovalTaskBody] is body:
//
//	lp("cryptoplug-approval-v1") lp(decision) body
//
// Another decision fails with an error wrapping [backend.ErrInvalidInput].
func ApprovalMessage(body []byte, decision string) ([]byte, error) {
	if decision != DecisionApprove && decision != DecisionReject {
		return nil, taskErr(`the decision must be "approve" or "reject"`)
	}
	out := make([]byte, 0, 8+len(ApprovalFormat)+len(decision)+len(body))
	out = appendLP(appendLP(out, ApprovalFormat), decision)
	return append(out, body...), nil
}

func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func taskErr(why string) error {
	return fmt.Errorf("approval task encoding: %s: %w", why, backend.ErrInvalidInput)
}

func taskString(s string) error {
	if len(s) > MaxTaskField || !utf8.ValidString(s) {
		return taskErr(fmt.Sprintf("a field is not valid UTF-8 of at most %d bytes", MaxTaskField))
	}
	return nil
}

func paramName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// approvalScheme is how a key of pub's type signs an approval message, as
// docs/approvals.md specifies: Ed25519 over the message itself; ECDSA P-256
// (ASN.1 DER) and RSA (PKCS #1 v1.5, or PSS with MGF1-SHA-256 and any salt
// length) over its SHA-256.
func approvalScheme(pub crypto.PublicKey) (backend.SignScheme, bool) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return backend.SchemeEd25519, true
	case *ecdsa.PublicKey:
		return backend.SchemeECDSA, p.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return backend.SchemePKCS1v15, true
	}
	return 0, false
}

// contextSigner is a crypto.Signer whose operation takes a context, as
// every cryptoplug backend's keys are (backend.Signer).
type contextSigner interface {
	SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// SignApproval signs message (from [ApprovalMessage]) with signer, as
// [VerifyApproval] checks it: Ed25519 signs the message whole; an ECDSA
// P-256 or RSA key signs its SHA-256 (ECDSA as ASN.1 DER, RSA with PKCS #1
// v1.5). signer may be a key of any cryptoplug backend (its SignContext is
// used, bounded by ctx) or any crypto.Signer. Another key type fails with
// an error wrapping [backend.ErrUnsupported].
func SignApproval(ctx context.Context, signer crypto.Signer, message []byte) ([]byte, error) {
	scheme, ok := approvalScheme(signer.Public())
	if !ok {
		return nil, fmt.Errorf("sign approval: approvers sign with ECDSA P-256, Ed25519 or RSA keys: %w", backend.ErrUnsupported)
	}
	input, opts := message, crypto.SignerOpts(crypto.Hash(0))
	if scheme != backend.SchemeEd25519 {
		sum := sha256.Sum256(message)
		input, opts = sum[:], crypto.SHA256
	}
	if cs, ok := signer.(contextSigner); ok {
		return cs.SignContext(ctx, rand.Reader, input, opts)
	}
	return signer.Sign(rand.Reader, input, opts)
}

// VerifyApproval reports whether sig is pub's approval signature over
// message, made as [SignApproval] makes it; for RSA, a PSS signature
// (SHA-256, MGF1-SHA-256, any salt length) is accepted too. It is false for
// a key type approvers may not use, and never panics.
func VerifyApproval(pub crypto.PublicKey, message, sig []byte) bool {
	scheme, ok := approvalScheme(pub)
	if !ok || len(sig) > MaxApprovalSignature {
		return false
	}
	if scheme == backend.SchemeEd25519 {
		return backend.VerifySignature(pub, &backend.SignRequest{Scheme: scheme, Input: message}, sig)
	}
	sum := sha256.Sum256(message)
	req := backend.SignRequest{Scheme: scheme, Hash: crypto.SHA256, Input: sum[:]}
	if backend.VerifySignature(pub, &req, sig) {
		return true
	}
	if scheme != backend.SchemePKCS1v15 {
		return false
	}
	req.Scheme, req.SaltAuto = backend.SchemePSS, true
	return backend.VerifySignature(pub, &req, sig)
}
