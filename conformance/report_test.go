package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleReport() *Report {
	r := new(Report)
	r.setBackend("software:dir=/tmp/k?pin-source=env:PIN")
	r.add(Result{Check: "capabilities", Algorithm: "backend", Status: StatusPass})
	r.add(Result{Check: "sign-pss-sha256", Algorithm: "RSA-2048", Status: StatusFail, Detail: "salt is not the hash length",
		Fault: FaultStore, Expected: "a signature that verifies as PSS SHA-256", Got: "one that does not"})
	r.add(Result{Check: "sign-pss-sha256", Algorithm: "RSA-4096", Status: StatusUnsupported, Detail: "backend does not claim sign for RSA-4096"})
	r.add(Result{Check: "reopen", Algorithm: "Ed25519", Status: StatusSkip, Detail: "not persistent"})
	return r
}

func TestReportMatrix(t *testing.T) {
	var b strings.Builder
	require.NoError(t, sampleReport().Matrix(&b))
	out := b.String()
	lines := strings.Split(out, "\n")
	require.Contains(t, lines[0], "software:dir=/tmp/k?pin-source=env:PIN")
	require.Regexp(t, `^check\s+backend\s+RSA-2048\s+RSA-4096\s+Ed25519\s*$`, lines[1], "columns: backend first, then algorithms in their order")
	require.Regexp(t, `^capabilities\s+pass\s+\.\s+\.\s+\.\s*$`, lines[2])
	require.Regexp(t, `^sign-pss-sha256\s+\.\s+FAIL\s+unsup\s+\.\s*$`, lines[3])
	require.Regexp(t, `^reopen\s+\.\s+\.\s+\.\s+skip\s*$`, lines[4])
	require.Contains(t, out, "FAIL sign-pss-sha256/RSA-2048 [store]: expected a signature that verifies as PSS SHA-256; got one that does not; detail: salt is not the hash length")
	require.Contains(t, out, "4 results: 1 pass, 1 FAIL, 1 unsupported, 1 skip")
}

func TestReportJSON(t *testing.T) {
	r := sampleReport()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Equal(t, "software:dir=/tmp/k?pin-source=env:PIN", raw["backend"])
	first := raw["results"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"check": "capabilities", "algorithm": "backend", "status": "pass", "detail": "", "seconds": 0.0}, first)

	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, r.Backend(), back.Backend())
	require.Equal(t, r.Results(), back.Results())
	require.Len(t, back.Failures(), 1)

	empty, err := json.Marshal(new(Report))
	require.NoError(t, err)
	require.JSONEq(t, `{"backend": "", "info": {"name": "", "kind": "", "uri": "", "persistent": false}, "results": []}`, string(empty))
}

// A reduced run says so, in the matrix and the JSON, so that a pass on a
// small budget is not read as a full one.
func TestReportStatesReductions(t *testing.T) {
	cfg := defaultConfig()
	require.Empty(t, cfg.reductions(), "the default run is not reduced")
	WithSmallBudget()(&cfg)
	WithChecks("sign-repeat", "concurrency")(&cfg)
	red := cfg.reductions()
	require.Len(t, red, 6)
	require.Contains(t, red[0], "only the checks sign-repeat, concurrency")
	require.Contains(t, strings.Join(red, "\n"), "at most 200 signatures")
	require.Contains(t, strings.Join(red, "\n"), "messages up to 65537 bytes (default 1048577)")

	r := sampleReport()
	r.setReduced(red)
	var b strings.Builder
	require.NoError(t, r.Matrix(&b))
	require.Contains(t, b.String(), "reduced: sign-repeat: 8 signatures per nonce and salt comparison (default 16)")
	j, err := json.Marshal(r)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(j, &back))
	require.Equal(t, red, back.Reduced())
	require.Equal(t, FaultStore, back.Failures()[0].Fault)
}

// Progress lines: one per finished check that produced results, with the
// counts, the time taken, the time elapsed and an estimate of the time left.
func TestProgressLines(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, 2, 4)
	p.begin("software:", []string{"only the checks a, b"})
	p.checkStart()
	p.cellDone(Result{Status: StatusPass})
	p.cellDone(Result{Status: StatusFail})
	p.checkDone("sign-repeat")
	p.checkStart()
	p.checkDone("decapsulate") // no algorithm in scope: no line
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 3, b.String())
	require.Equal(t, "conformance: 2 checks, 4 results to produce on software:", lines[0])
	require.Equal(t, "conformance: reduced budget: only the checks a, b", lines[1])
	require.Regexp(t, `^conformance: \[1/2\] sign-repeat: 1 pass 1 FAIL in \S+; \S+ elapsed, about \S+ left$`, lines[2])
}

// A check name WithChecks does not know fails the run at once, rather than
// running nothing and passing.
func TestWithChecksRefusesUnknownNames(t *testing.T) {
	rep, rt := runRecorded(t, openBroken(func(*brokenBackend) {}), WithChecks("sign-repeat", "no-such-check"))
	require.True(t, rt.Failed())
	res, ok := rep.Lookup("options", "backend")
	require.True(t, ok)
	require.Contains(t, res.Detail, `no check is named "no-such-check"`)
}
