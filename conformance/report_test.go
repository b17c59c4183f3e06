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
	r.add(Result{Check: "sign-pss-sha256", Algorithm: "RSA-2048", Status: StatusFail, Detail: "salt is not the hash length"})
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
	require.Contains(t, out, "FAIL sign-pss-sha256/RSA-2048: salt is not the hash length")
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
