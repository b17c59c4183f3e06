package refserver

import (
	"context"
	"crypto"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// Multi-authorization on the server's side. An operation on a key first
// reads the key's state (authn.KeyState: one indexed query): a blocked key
// refuses every use, and a policy with rules for the operation's class
// parks the operation as an approval task instead of running it. The task
// says exactly what will run (its params: digest or hashes, scheme,
// options) and keeps the normalized request to run later; its canonical
// encoding (wire.ApprovalTaskBody) is fixed at creation and is what every
// approval signs. The requester collects an approved task with its own
// credentials: the collection claims the task (one claim wins, across
// every instance), runs the stored request through the same code a direct
// call uses, and returns the result; nothing it returns is stored.

// errParked says that the handler answered 202 itself: the operation was
// parked as an approval task.
var errParked = errors.New("parked for approval")

// gateUse decides whether a use of k (sign, decrypt, decapsulate) runs now.
// A blocked key refuses it. A key whose policy has use rules parks it as
// an approval task (the answer is 202): describe gives the task's params
// and the request to run on collection, and is called only then. With
// neither, gateUse returns nil and the caller runs the operation.
func (s *Server) gateUse(rq *request, k backend.Key, op string, describe func() ([]authn.TaskParam, any, error)) error {
	st, err := s.opts.Auth.KeyState(rq.r.Context(), k.ID().String())
	if err != nil {
		return err
	}
	if st.Blocked {
		return backend.Errorf(op, "", k.Label(), authn.ErrKeyBlocked)
	}
	if len(st.Policy.Use) == 0 {
		return nil
	}
	params, req, err := describe()
	if err != nil {
		return err
	}
	return s.park(rq, k, op, authn.ClassUse, st, params, req)
}

// park makes an approval task of op on k, whose state st has rules for
// class, answers 202 with where to follow it, and returns errParked. req
// is the operation's request, kept (as JSON) until the task ends.
func (s *Server) park(rq *request, k backend.Key, op string, class authn.OpClass, st authn.KeyState, params []authn.TaskParam, req any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	slices.SortFunc(params, func(a, b authn.TaskParam) int { return strings.Compare(a.Name, b.Name) })
	t, err := s.opts.Auth.CreateApprovalTask(rq.r.Context(), rq.principal, rq.role, authn.TaskSpec{
		Operation: op, Class: class, KeyID: k.ID().String(), KeyLabel: k.Label(), KeyAlg: k.Algorithm().String(),
		State: st, Params: params, Request: body,
	}, encodeTask)
	if err != nil {
		return err
	}
	rq.key = k.Label()
	rq.w.Header().Set("Location", "/v1/approvals/requests/"+t.ID)
	writeJSON(rq.w, http.StatusAccepted, wire.PendingApproval{RequestID: t.ID, Operation: op, Status: wire.TaskPending, ExpiresAt: wire.Unix(t.ExpiresAt)})
	s.auditApproval(rq, "requested", t)
	return errParked
}

// encodeTask is the canonical encoding of t that approvals sign.
func encodeTask(t *authn.ApprovalTask) ([]byte, error) {
	w := signedTaskJSON(t)
	return wire.ApprovalTaskBody(&w)
}

// verifyApproval checks an approval's signature over the task's stored
// encoding and the decision: the authn.ApprovalVerifier of this server.
func verifyApproval(pub crypto.PublicKey, body []byte, approve bool, sig []byte) bool {
	decision := wire.DecisionReject
	if approve {
		decision = wire.DecisionApprove
	}
	msg, err := wire.ApprovalMessage(body, decision)
	return err == nil && wire.VerifyApproval(pub, msg, sig)
}

// signedTaskJSON is the part of t an approval signs, in wire form.
func signedTaskJSON(t *authn.ApprovalTask) wire.ApprovalTask {
	out := wire.ApprovalTask{
		ID: t.ID, Operation: t.Operation, Requester: t.Requester,
		Key:       wire.TaskKey{Label: t.KeyLabel, ID: t.KeyID, Algorithm: t.KeyAlg},
		CreatedAt: wire.Unix(t.CreatedAt), ExpiresAt: wire.Unix(t.ExpiresAt),
		Params: make([]wire.TaskParam, len(t.Params)),
	}
	for i, p := range t.Params {
		out.Params[i] = wire.TaskParam(p)
	}
	return out
}

// taskJSON is t as approvers and its requester see it at the server's
// current time.
func (s *Server) taskJSON(t *authn.ApprovalTask) wire.ApprovalTask {
	out := signedTaskJSON(t)
	out.Status = t.State(s.opts.Auth.Now()).String()
	out.Rules = rulesJSON(t.Rules)
	out.CollectBy = wire.Unix(t.CollectBy)
	for _, d := range t.Decisions {
		dec := wire.DecisionReject
		if d.Approve {
			dec = wire.DecisionApprove
		}
		out.Decisions = append(out.Decisions, wire.TaskDecision{Approver: d.Approver, Decision: dec, DecidedAt: wire.Unix(d.At)})
	}
	return out
}

func rulesJSON(rs []authn.ApprovalRule) []wire.ApprovalRule {
	out := []wire.ApprovalRule{}
	for _, r := range rs {
		out = append(out, wire.ApprovalRule{Quorum: r.Quorum, Approvers: slices.Clone(r.Approvers)})
	}
	return out
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func param(name, value string) authn.TaskParam { return authn.TaskParam{Name: name, Value: value} }

// signTask describes a sign: the scheme and options as the server will
// apply them, the digest it will sign (or, for a whole message, its
// SHA-256 and length), and, when the caller sent a message, that message's
// SHA-256 too. The request kept for collection is the normalized one.
func signTask(k backend.Key, req *wire.SignRequest, call signCall) ([]authn.TaskParam, any, error) {
	parsed, err := backend.ParseSignOptions(k.Algorithm(), k.Public(), call.input, call.opts, call.isMsg)
	if err != nil {
		return nil, nil, backend.Errorf("sign", "", k.Label(), err)
	}
	norm := wire.NewSignRequest(k.Label(), k.ID(), parsed)
	ps := []authn.TaskParam{param("scheme", norm.Scheme)}
	if norm.Hash != "" {
		ps = append(ps, param("hash", norm.Hash))
	}
	if norm.Scheme == wire.SchemePSS {
		ps = append(ps, param("salt_length", strconv.Itoa(norm.SaltLength)))
	}
	if len(norm.Context) > 0 {
		ps = append(ps, param("context", hex.EncodeToString(norm.Context)))
	}
	if norm.Digest != nil {
		ps = append(ps, param("digest", hex.EncodeToString(norm.Digest)))
	}
	if req.Message != nil {
		ps = append(ps, param("message_sha256", hexSHA256(req.Message)), param("message_length", strconv.Itoa(len(req.Message))))
	}
	return ps, norm, nil
}

// decryptTask describes a decryption: the options and the ciphertext's
// SHA-256 and length. A ciphertext the key could never decrypt is refused
// now, with the one decryption error a direct call gives.
func decryptTask(k backend.Key, req *wire.DecryptRequest, opts crypto.DecrypterOpts) ([]authn.TaskParam, any, error) {
	pub, ok := k.Public().(*rsa.PublicKey)
	if !ok {
		return nil, nil, backend.Errorf("decrypt", "", k.Label(), backend.ErrUnsupported)
	}
	parsed, err := backend.ParseDecryptOptions(pub, req.Ciphertext, opts)
	if err != nil {
		// As the decrypter would answer: the one decryption error for
		// anything about the ciphertext, the reason for bad options.
		if errors.Is(err, rsa.ErrDecryption) && !errors.Is(err, backend.ErrInvalidInput) && !errors.Is(err, backend.ErrUnsupported) {
			err = rsa.ErrDecryption
		}
		return nil, nil, backend.Errorf("decrypt", "", k.Label(), err)
	}
	norm := wire.NewDecryptRequest(k.Label(), k.ID(), parsed)
	ps := []authn.TaskParam{param("scheme", norm.Scheme), param("ciphertext_sha256", hexSHA256(req.Ciphertext)),
		param("ciphertext_length", strconv.Itoa(len(req.Ciphertext)))}
	if norm.Scheme == wire.SchemeOAEP {
		ps = append(ps, param("hash", norm.Hash), param("mgf_hash", norm.MGFHash))
		if len(norm.OAEPLabel) > 0 {
			ps = append(ps, param("oaep_label", hex.EncodeToString(norm.OAEPLabel)))
		}
	}
	if norm.SessionKeyLen > 0 {
		ps = append(ps, param("session_key_len", strconv.Itoa(norm.SessionKeyLen)))
	}
	return ps, norm, nil
}

// decapsulateTask describes a decapsulation: the ciphertext's SHA-256 and
// length, which must be the key's ciphertext size.
func decapsulateTask(k backend.Key, req *wire.DecapsulateRequest) ([]authn.TaskParam, any, error) {
	size := 0
	switch k.Public().(type) {
	case *mlkem.EncapsulationKey768:
		size = mlkem.CiphertextSize768
	case *mlkem.EncapsulationKey1024:
		size = mlkem.CiphertextSize1024
	}
	if len(req.Ciphertext) != size {
		return nil, nil, invalid("the ciphertext must be %d bytes for this key", size)
	}
	norm := wire.DecapsulateRequest{Label: k.Label(), ID: k.ID().String(), Ciphertext: req.Ciphertext}
	return []authn.TaskParam{param("ciphertext_sha256", hexSHA256(req.Ciphertext)), param("ciphertext_length", strconv.Itoa(len(req.Ciphertext)))}, norm, nil
}

// policyTask describes a policy change: the new policy, one param per
// class ("" for a class that will need no approval).
func policyTask(p authn.KeyPolicy) []authn.TaskParam {
	return []authn.TaskParam{
		param("new.block", authn.RulesText(p.Block)),
		param("new.change_policy", authn.RulesText(p.ChangePolicy)),
		param("new.delete", authn.RulesText(p.Delete)),
		param("new.use", authn.RulesText(p.Use)),
	}
}

// auditApproval writes one approval record: what happened (event) to
// which task, who did it (the request's principal), and for decisions
// which decision. Labels are redacted as in request records; params (the
// digests) stay out.
func (s *Server) auditApproval(rq *request, event string, t authn.ApprovalTask, attrs ...slog.Attr) {
	ctx := context.Background()
	if !s.audit.Enabled(ctx, slog.LevelInfo) {
		return
	}
	all := append([]slog.Attr{
		slog.String("request_id", rq.id),
		slog.String("event", event),
		slog.String("task", t.ID),
		slog.String("operation", t.Operation),
		slog.String("key", authn.RedactTokens(t.KeyLabel)),
		slog.String("key_id", t.KeyID),
		slog.String("requester", t.Requester),
		slog.String("principal", rq.principal.ID),
		slog.String("status", t.State(s.opts.Auth.Now()).String()),
	}, attrs...)
	s.audit.LogAttrs(ctx, slog.LevelInfo, "approval", all...)
}

// taskKey finds the key of task t for running it: by label, with the ID
// the task names, and the caller (its requester) authorized in the key's
// group again; the key's state must still be the one the task was
// approved under, and a use must not meet a blocked key.
func (s *Server) checkTaskKey(ctx context.Context, k backend.Key, t *authn.ApprovalTask) (authn.KeyState, error) {
	st, err := s.opts.Auth.KeyState(ctx, k.ID().String())
	if err != nil {
		return st, err
	}
	if st.Version != t.KeyVersion {
		return st, fmt.Errorf("the key's state changed after the request was approved: %w", authn.ErrTaskClosed)
	}
	if st.Blocked && t.Class == authn.ClassUse {
		return st, backend.Errorf(t.Operation, "", k.Label(), authn.ErrKeyBlocked)
	}
	return st, nil
}
