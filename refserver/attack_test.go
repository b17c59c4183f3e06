package refserver_test

import (
	"bytes"
	"context"
	"crypto/mlkem"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// The attack catalogue. Each table below is a list of attacks with the
// answer the server must give; TestAttackCatalogue runs them all against
// one server (in process, through ServeHTTP) and then scans every log line
// and every error body the server wrote for every secret the catalogue
// created. No attack may get a 5xx, and no secret may appear anywhere but in
// the one answer that issued it.

// answer is what the server must reply: a status and, when set, a code.
type answer struct {
	status int
	code   string
}

var (
	refusedMediaType = answer{http.StatusUnsupportedMediaType, wire.CodeUnsupportedMediaType}
	refusedBody      = answer{http.StatusBadRequest, wire.CodeBadRequest}
	refusedValue     = answer{http.StatusBadRequest, wire.CodeInvalidInput}
	refusedTooLarge  = answer{http.StatusRequestEntityTooLarge, wire.CodeTooLarge}
	refusedInURL     = answer{http.StatusBadRequest, wire.CodeCredentialInURL}
	refusedAuth      = answer{http.StatusUnauthorized, wire.CodeUnauthenticated}
)

// bodyAttacks: every route that reads a JSON body × every malformed-input
// class. mutate turns the route's valid body into the attack, or returns
// nil when the class does not apply to this body.
var bodyAttacks = []struct {
	name        string
	contentType string // "" means application/json; "-" means none
	mutate      func(valid []byte, limit int64) []byte
	want        answer
}{
	{"Content-Type text/plain", "text/plain", same, refusedMediaType},
	{"Content-Type XML with an XML body", "application/xml", func([]byte, int64) []byte { return []byte("<a/>") }, refusedMediaType},
	{"no Content-Type", "-", same, refusedMediaType},
	{"Content-Type JSON in Latin-1", "application/json; charset=iso-8859-1", same, refusedMediaType},
	{"invalid UTF-8", "", prependKey(`"\xff\xfe"`, `1`), refusedBody},
	{"escaped lone high surrogate", "", prependKey(`"\ud800x"`, `1`), refusedBody},
	{"escaped lone low surrogate", "", prependKey(`"\udc00"`, `1`), refusedBody},
	{"duplicate key", "", duplicateFirstKey(false), refusedBody},
	{"duplicate key differing in case", "", duplicateFirstKey(true), refusedBody},
	{"unknown field", "", prependKey(`"zzz"`, `1`), refusedBody},
	{"nested 40 deep", "", prependKey(`"zzz"`, strings.Repeat("[", 40)+strings.Repeat("]", 40)), refusedBody},
	{"trailing data", "", func(b []byte, _ int64) []byte { return append(b, "{}"...) }, refusedBody},
	{"an array, not an object", "", func([]byte, int64) []byte { return []byte("[]") }, refusedBody},
	{"empty body", "", func([]byte, int64) []byte { return nil }, refusedBody},
	{"body one byte over the route's limit", "", func(_ []byte, limit int64) []byte {
		return []byte(`{"zzz":"` + strings.Repeat("a", int(limit)) + `"}`)
	}, refusedTooLarge},
}

func same(b []byte, _ int64) []byte { return b }

// prependKey inserts "key": value as the object's first member.
func prependKey(key, value string) func([]byte, int64) []byte {
	return func(b []byte, _ int64) []byte {
		rest := bytes.TrimPrefix(b, []byte("{"))
		if len(bytes.TrimSpace(rest)) > 1 {
			return []byte("{" + key + ":" + value + "," + string(rest))
		}
		return []byte("{" + key + ":" + value + "}")
	}
}

// duplicateFirstKey repeats the body's first member, upper-casing the
// second copy's key if fold.
func duplicateFirstKey(fold bool) func([]byte, int64) []byte {
	return func(b []byte, _ int64) []byte {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil || len(m) == 0 {
			return nil
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		k := keys[0]
		dup := k
		if fold {
			dup = strings.ToUpper(k)
		}
		kj, _ := json.Marshal(dup)
		return prependKey(string(kj), string(m[k]))(b, 0)
	}
}

// fieldAttacks: every top-level field of every body × a value of the wrong
// type, a control or bidirectional character, and a credential of each
// kind. Text fields (names, labels, e-mails) must refuse the characters
// outright; every field must refuse the wrong type; nothing may fail with
// a 5xx or log the credential.
var textFields = map[string]bool{"label": true, "name": true, "email": true}

var unreadable = []string{"a\u0085b", "a\u009bb", "invoice\u202etxt.exe", "a\u2066b\u2069", "a\u200bb"}

// wrongType returns a JSON value of another type than v.
func wrongType(v json.RawMessage) string {
	switch {
	case len(v) == 0:
		return "1"
	case v[0] == '"':
		return "12345"
	case v[0] == '[', v[0] == 'n':
		return `{"a":1}`
	case v[0] == '{', v[0] == 't', v[0] == 'f':
		return `"x"`
	}
	return `"x"`
}

// numberAttacks: every number and length a caller controls, set far out of
// range, must be refused with 400 before any work.
var numberAttacks = []struct {
	route, field string
	values       []string
}{
	{"POST /v1/decrypt", "session_key_len", []string{"1500000000", "257", "-1", "9223372036854775807"}},
	{"POST /v1/sign", "salt_length", []string{"-2", "1025", "9223372036854775807"}},
	{"POST /v1/sign", "context", []string{`"` + base64.StdEncoding.EncodeToString(make([]byte, 256)) + `"`}},
	{"POST /v1/verify", "context", []string{`"` + base64.StdEncoding.EncodeToString(make([]byte, 300)) + `"`}},
	{"POST /sys/v1/apps/{id}/apikeys", "valid_for_seconds", []string{"8000000000", "18446744074", "-1", "315360001"}},
	{"POST /sys/v1/apikeys/{id}/rotate", "overlap_seconds", []string{"9223372036", "-5", "7776001"}},
	{"POST /sys/v1/registrationTokens", "valid_for_seconds", []string{"18446744074", "0", "7776001"}},
	{"POST /sys/v1/registrationTokens", "uses", []string{"0", "10001", "-1", "9223372036854775807"}},
	{"PATCH /users/{user}/secrets", "valid_until", []string{"10000000000", "-1", "7258118401"}},
	{"POST /v1/key", "usage", []string{`["sign","sign","sign","sign","sign","sign","sign","sign","sign"]`}},
	{"POST /sys/v1/users", "roles", []string{`[` + strings.TrimSuffix(strings.Repeat(`"keyOperation",`, 17), ",") + `]`}},
	{"POST /sys/v1/apps", "groups", []string{`[` + strings.TrimSuffix(strings.Repeat(`"grp_00000000000000000000000000000000",`, 65), ",") + `]`}},
	// Approval policies: quorums, rules per class and approvers per rule.
	{"PUT /v1/key/{label}/policy", "use", []string{rules(1, 0, 1), rules(1, 2, 1), rules(1, -1, 1), rules(1, 9223372036854775807, 1),
		rules(5, 1, 1), rules(1, 1, 17), `[{"quorum":1,"approvers":[]}]`}},
	{"PUT /v1/key/{label}/policy", "change_policy", []string{rules(1, 3, 2), rules(1, 1, 1000)}},
	{"POST /v1/key", "policy", []string{`{"delete":` + rules(1, 0, 1) + `}`, `{"block":` + rules(64, 1, 1) + `}`}},
	{"POST /v1/approvals/tasks/{id}/decision", "signature", []string{`""`, `"` + base64.StdEncoding.EncodeToString(make([]byte, 1025)) + `"`}},
	{"POST /v1/approvals/tasks/{id}/decision", "decision", []string{`"maybe"`, `""`, `"APPROVE"`}},
	// An approver key's size bounds the work of every verification.
	{"POST /sys/v1/approvers", "public_key", []string{`"` + strings.Repeat("A", 5000) + `"`, rsa1024PEM}},
}

// rules is a JSON list of n rules, each asking quorum of k approvers.
func rules(n, quorum, k int) string {
	var rs []string
	for i := range n {
		var ids []string
		for j := range k {
			ids = append(ids, fmt.Sprintf(`"usr_%032x"`, i*1000+j))
		}
		rs = append(rs, fmt.Sprintf(`{"quorum":%d,"approvers":[%s]}`, quorum, strings.Join(ids, ",")))
	}
	return "[" + strings.Join(rs, ",") + "]"
}

// rsa1024PEM is an RSA-1024 public key, as JSON: too small for an approver.
const rsa1024PEM = `"-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDhRwqYAUZSEplzCOICG0bvb8lf\nShpzzymeDKaZFwpH8TGQdChZtpdd70Yy8LSTlw3wDI2xaPt6veOH7pWl7umd37fa\nTQt9Sar1rdvc2wZxPDPCz2UdzBIUacMc/cOuPvCbm6j2Ti2DqVGBGlIgjkx4mSQ2\n1C056v/La48SWXo76QIDAQAB\n-----END PUBLIC KEY-----\n"`

// placements are the URL forms a credential must be refused in, whatever
// route the URL names (even with a valid credential in the header).
var placements = []struct {
	name  string
	apply func(path, tok string) string
}{
	{"plain query value", func(p, t string) string { return p + "?x=" + t }},
	{"credential-named query parameter", func(p, t string) string { return p + "?api_key=" + t }},
	{"';'-separated pair", func(p, t string) string { return p + "?a=1;b=" + t }},
	{"after a comma", func(p, t string) string { return p + "?q=x," + t }},
	{"after a '+'", func(p, t string) string { return p + "?q=+" + t }},
	{"after %2B", func(p, t string) string { return p + "?q=%2B" + t }},
	{"percent-encoded", func(p, t string) string { return p + "?q=" + pctFirst(t) }},
	{"percent-encoded twice", func(p, t string) string { return p + "?q=" + strings.ReplaceAll(pctFirst(t), "%", "%25") }},
	{"as a parameter name", func(p, t string) string { return p + "?" + t + "=1" }},
	{"bare query", func(p, t string) string { return p + "?" + t }},
	{"in the path", func(p, t string) string { return fillPath(p, t) }},
	{"percent-encoded in the path", func(p, t string) string { return fillPath(p, pctFirst(t)) }},
	{"after a fragment mark", func(p, t string) string { return p + "#" + t }},
}

func pctFirst(t string) string { return fmt.Sprintf("%%%02X", t[0]) + t[1:] }

// fillPath puts tok in every {parameter} of a route path, or appends it as
// a last segment when there is none.
func fillPath(path, tok string) string {
	if !strings.Contains(path, "{") {
		return path + "/" + tok
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			return b.String()
		}
		j := strings.IndexByte(path[i:], '}')
		b.WriteString(path[:i])
		b.WriteString(tok)
		path = path[i+j+1:]
	}
}

// harness is one server with every output captured.
type harness struct {
	w   *world
	log *syncBuffer // audit log and authn's log
	// errorBodies are the bodies of every answer >= 300.
	errorBodies strings.Builder
	// secrets are every credential the catalogue created, by name.
	secrets map[string]string
	// all is a session holding every role; client is a registered
	// client's API key (PUT /v1/clients/backup).
	all, client string
	sent        int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, o refservertest.Options) *harness {
	dk, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	h := &harness{log: &syncBuffer{}, secrets: map[string]string{}}
	logger := slog.New(slog.NewJSONHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Audit, o.AuthLog, o.RecoveryPublicKey = logger, logger, dk.EncapsulationKey()
	in := refservertest.Start(t, o)
	h.w = &world{in: in, recovery: dk, admin: authn.Principal{ID: in.AdminID, Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleAdmin)}}
	for _, spec := range []backend.KeySpec{
		{Label: "m-ec", Algorithm: backend.ECDSAP256},
		{Label: "m-rsa", Algorithm: backend.RSA2048, Usage: backend.UsageDecrypt},
		{Label: "m-kem", Algorithm: backend.MLKEM768},
	} {
		_, err := in.Backend.GenerateKey(context.Background(), spec)
		require.NoError(t, err)
	}
	h.secret("admin password", refservertest.Password)
	_, h.all = in.User(t, authn.AllRoles...)
	h.secret("all-roles session", h.all)
	h.client = h.w.client(t, authn.RoleKeyOperation)
	h.secret("client API key", h.client)
	return h
}

func (h *harness) secret(name, v string) string {
	h.secrets[name] = v
	return v
}

// send serves r and checks that the answer is not a 5xx; error bodies are
// kept for the final scan.
func (h *harness) send(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.w.in.Server.ServeHTTP(rec, r)
	h.sent++
	require.Less(t, rec.Code, 500, "%s %s: %s", r.Method, r.URL, rec.Body)
	if rec.Code >= 300 {
		h.errorBodies.WriteString(rec.Body.String())
		h.errorBodies.WriteByte('\n')
	}
	return rec
}

// credFor sets the credential a call of this route needs.
func (h *harness) credFor(rt refserver.Route, c call, r *http.Request) {
	switch {
	case rt.Public:
	case c.client:
		r.Header.Set("X-API-KEY", h.client)
	default:
		r.Header.Set("Authorization", "Bearer "+h.all)
	}
}

func (h *harness) request(t *testing.T, rt refserver.Route, c call, target string, body []byte, contentType string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(rt.Method, "https://refserver.test/", bytes.NewReader(body))
	r.RequestURI = target
	u, err := r.URL.Parse(target)
	require.NoError(t, err)
	r.URL = u
	switch contentType {
	case "":
		r.Header.Set("Content-Type", "application/json")
	case "-":
	default:
		r.Header.Set("Content-Type", contentType)
	}
	h.credFor(rt, c, r)
	return r
}

func requireAnswer(t *testing.T, want answer, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	if want.status == 0 {
		require.True(t, rec.Code >= 400 && rec.Code < 500, "%s: want a refusal, got %d: %s", what, rec.Code, rec.Body)
		return
	}
	require.Equal(t, want.status, rec.Code, "%s: %s", what, rec.Body)
	var eb wire.ErrorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb), what)
	require.Equal(t, want.code, eb.Error.Code, "%s: %s", what, rec.Body)
}

func routeByPattern(pattern string) refserver.Route {
	for _, rt := range refserver.Routes() {
		if rt.Pattern() == pattern {
			return rt
		}
	}
	panic("no route " + pattern)
}

func TestAttackCatalogue(t *testing.T) {
	h := newHarness(t, refservertest.Options{})
	w := h.w
	ctx := context.Background()

	// One credential of each kind, valid, to be put where it must not go.
	_, keys := w.in.Application(t, authn.RoleKeyOperation)
	uid, sess := w.in.User(t, authn.RoleKeyOperation)
	pin, err := w.in.Auth.CreatePIN(ctx, w.admin, uid)
	require.NoError(t, err)
	sec, err := w.in.Auth.RedeemPIN(ctx, uid, pin.PIN, netipLoopback)
	require.NoError(t, err)
	pending, err := w.in.Auth.CreatePIN(ctx, w.admin, uid)
	require.NoError(t, err)
	reg := w.registrationToken(t)
	tokens := map[string]string{
		"API key":            h.secret("API key", keys[authn.RoleKeyOperation]),
		"session token":      h.secret("session token", sess),
		"user secret":        h.secret("user secret", sec.Secret.Reveal()),
		"registration token": h.secret("registration token", reg.Token.Reveal()),
	}
	tokens["truncated API key"] = tokens["API key"][:20]
	// A JWT is a credential too, whether or not the server trusts its
	// issuer: it must not get into a URL or a log either.
	tokens["JWT"] = h.secret("JWT", newIDP(t).token(t, authn.AllRoles, nil))
	others := map[string]string{ // credentials without a shape
		"password": refservertest.Password,
		"PIN":      h.secret("PIN", pending.PIN.Reveal()),
	}

	// atLeast checks that a section really sent its attacks.
	section := func(name string, min int, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			before := h.sent
			f(t)
			t.Logf("%d requests", h.sent-before)
			require.GreaterOrEqual(t, h.sent-before, min, "the section's attacks were sent")
		})
	}

	section("malformed bodies on every body route", 300, func(t *testing.T) {
		for _, rt := range refserver.Routes() {
			fix := fixtures[rt.Pattern()]
			c := fix(t, w)
			if c.body == nil {
				continue
			}
			valid, err := json.Marshal(c.body)
			require.NoError(t, err)
			limit := rt.MaxBody
			if limit == 0 {
				limit = refserver.DefaultMaxBody
			}
			for _, a := range bodyAttacks {
				body := a.mutate(valid, limit)
				if body == nil && a.name != "empty body" {
					continue
				}
				rec := h.send(t, h.request(t, rt, c, c.path, body, a.contentType))
				requireAnswer(t, a.want, rec, rt.Pattern()+": "+a.name)
			}
		}
	})

	section("bad values in every field of every body", 500, func(t *testing.T) {
		for _, rt := range refserver.Routes() {
			c := fixtures[rt.Pattern()](t, w)
			if c.body == nil {
				continue
			}
			valid, err := json.Marshal(c.body)
			require.NoError(t, err)
			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(valid, &fields))
			for field, v := range fields {
				attack := func(name, value string, want answer) {
					m := map[string]json.RawMessage{}
					for k, x := range fields {
						m[k] = x
					}
					m[field] = json.RawMessage(value)
					body, err := json.Marshal(m)
					require.NoError(t, err)
					// Each attack gets a fresh fixture: some succeed.
					c := fixtures[rt.Pattern()](t, w)
					rec := h.send(t, h.request(t, rt, c, c.path, body, ""))
					if want != (answer{}) || rec.Code >= 300 {
						requireAnswer(t, want, rec, rt.Pattern()+" "+field+": "+name)
					}
				}
				attack("wrong type", wrongType(v), refusedBody)
				for _, s := range unreadable {
					q, _ := json.Marshal(s)
					if textFields[field] {
						attack(fmt.Sprintf("unreadable %q", s), string(q), refusedValue)
					} else {
						attack(fmt.Sprintf("unreadable %q", s), string(q), answer{})
					}
				}
				if len(v) > 0 && v[0] == '"' {
					for kind, tok := range tokens {
						q, _ := json.Marshal(tok)
						attack("a "+kind, string(q), answer{})
					}
					for kind, s := range others {
						if field == "label" && (rt.Pattern() == "POST /v1/key" || rt.Pattern() == "POST /v1/key/import") {
							// A label is a name the caller chooses, shown to
							// every key manager of the group and written in
							// the audit log; a password given as one becomes
							// that name. Token-shaped labels are refused (see
							// "a "+kind above); a shapeless secret cannot be
							// told from a name.
							continue
						}
						q, _ := json.Marshal(s)
						attack("a "+kind, string(q), answer{})
					}
				}
			}
		}
	})

	section("numbers and lengths out of range", 53, func(t *testing.T) {
		for _, a := range numberAttacks {
			rt := routeByPattern(a.route)
			for _, v := range a.values {
				c := fixtures[a.route](t, w)
				valid, err := json.Marshal(c.body)
				require.NoError(t, err)
				var m map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(valid, &m))
				m[a.field] = json.RawMessage(v)
				if a.route == "POST /v1/sign" || a.route == "POST /v1/verify" {
					m["label"], m["scheme"], m["hash"] = json.RawMessage(`"m-ec"`), json.RawMessage(`"ecdsa"`), json.RawMessage(`"SHA-256"`)
				}
				if a.route == "POST /v1/decrypt" {
					m["scheme"] = json.RawMessage(`"pkcs1v15"`)
				}
				body, err := json.Marshal(m)
				require.NoError(t, err)
				rec := h.send(t, h.request(t, rt, c, c.path, body, ""))
				requireAnswer(t, refusedValue, rec, a.route+" "+a.field+"="+v[:min(len(v), 24)])
			}
		}
		for _, n := range []string{"0", "-1", "4097", "99999999999999999999", "1e3", "0x10"} {
			rt := routeByPattern("GET /v1/generateRandom/{length}")
			rec := h.send(t, h.request(t, rt, call{}, "/v1/generateRandom/"+n, nil, "-"))
			requireAnswer(t, refusedValue, rec, "generateRandom "+n)
		}
	})

	section("credentials in the URL of every route", 3500, func(t *testing.T) {
		for _, rt := range refserver.Routes() {
			for kind, tok := range tokens {
				for _, p := range placements {
					target := p.apply(rt.Path, tok)
					rec := h.send(t, h.request(t, rt, call{}, target, nil, "-"))
					requireAnswer(t, refusedInURL, rec, rt.Pattern()+": "+kind+" "+p.name)
				}
			}
			for kind, s := range others {
				for _, param := range []string{"password", "pin", "secret", "token"} {
					rec := h.send(t, h.request(t, rt, call{}, rt.Path+"?"+param+"="+s, nil, "-"))
					requireAnswer(t, refusedInURL, rec, rt.Pattern()+": "+kind+" as ?"+param)
				}
			}
		}
	})

	section("credentials as the HTTP Basic user name", 700, func(t *testing.T) {
		all := map[string]string{}
		for k, v := range tokens {
			all[k] = v
		}
		for k, v := range others {
			all[k] = v
			all[k+" with @"] = v + "@example.test"
		}
		for _, rt := range refserver.Routes() {
			if rt.Public && rt.Pattern() != "POST /sys/v1/session/auth" {
				continue // they take no credential header
			}
			c := fixtures[rt.Pattern()](t, w)
			for kind, v := range all {
				body, _ := json.Marshal(c.body)
				if c.body == nil {
					body = nil
				}
				r := h.request(t, rt, call{}, c.path, body, "")
				r.Header.Del("Authorization")
				r.SetBasicAuth(v, "x")
				requireAnswer(t, refusedAuth, h.send(t, r), rt.Pattern()+": "+kind+" as the Basic user")
				r = h.request(t, rt, call{}, c.path, body, "")
				r.Header.Del("Authorization")
				r.SetBasicAuth(v, v)
				requireAnswer(t, refusedAuth, h.send(t, r), rt.Pattern()+": "+kind+" as Basic user and password")
			}
		}
	})

	t.Run("no secret in any log or error body", func(t *testing.T) {
		logs := h.log.String()
		require.Contains(t, logs, `"msg":"request"`, "the audit log was captured")
		require.Contains(t, logs, "authentication failed", "authn's log was captured")
		bodies := h.errorBodies.String()
		require.NotEmpty(t, bodies)
		for name, v := range h.secrets {
			requireNoSecret(t, logs, name+" in the logs", v)
			requireNoSecret(t, bodies, name+" in an error body", v)
		}
	})
}

// requireNoSecret fails, quoting only the offending line, if out holds
// secret: for a token, any of its random part cut anywhere; for a short
// number (a PIN), the number standing alone, since eight digits occur by
// chance inside timestamps and request IDs.
func requireNoSecret(t *testing.T, out, what, secret string) {
	t.Helper()
	var probes []string
	if authn.ContainsToken(secret) {
		probes = []string{secret[4:14], secret[len(secret)-14 : len(secret)-4]}
	} else {
		probes = []string{secret}
	}
	for line := range strings.SplitSeq(out, "\n") {
		for _, p := range probes {
			for i := strings.Index(line, p); i >= 0; i = nextIndex(line, p, i) {
				if isDigits(p) && (i > 0 && isAlnum(line[i-1]) || i+len(p) < len(line) && isAlnum(line[i+len(p)])) {
					continue
				}
				t.Fatalf("%s: %s", what, line)
			}
		}
	}
}

func nextIndex(s, sub string, after int) int {
	j := strings.Index(s[after+1:], sub)
	if j < 0 {
		return -1
	}
	return after + 1 + j
}

func isDigits(s string) bool { return strings.Trim(s, "0123456789") == "" }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// TestEveryRouteHasAnAttackFixture keeps the catalogue whole: a new route
// needs a fixture (TestRouteRoleMatrix says so too), and every body route
// is attacked by construction.
func TestEveryRouteHasAnAttackFixture(t *testing.T) {
	for _, rt := range refserver.Routes() {
		_, ok := fixtures[rt.Pattern()]
		require.True(t, ok, rt.Pattern())
	}
	for _, a := range numberAttacks {
		routeByPattern(a.route) // panics on a stale entry
	}
}
