package refserver_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/wire"
)

// TestApprovalsWalkthrough runs the walkthrough of docs/approvals.md
// exactly as written, in one bash with errexit, from the repository's
// root, against the real binary, with curl, jq, perl and openssl as the
// approvers' tools: an encoder of the canonical encoding written from the
// document alone, and signatures made by openssl, must be what the server
// accepts. It then checks what the document says the walkthrough shows.
func TestApprovalsWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds the refserver binary and runs a shell walkthrough; make test runs it")
	}
	for _, tool := range []string{"bash", "curl", "jq", "perl", "openssl", "mkfifo", "base64"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "the walkthrough needs %s (make deps installs it)", tool)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "approvals.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "\n## Walkthrough\n")
	require.True(t, ok, "docs/approvals.md has a Walkthrough section")
	_, rest, ok := strings.Cut(section, "```sh\n")
	require.True(t, ok)
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	script := "set -euo pipefail\n" + block + "\necho \"WALKTHROUGH_DIR=$D\"\n"
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = ".."
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that a failure cannot leave the server behind
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute): // a bound on a hang, not a synchronisation
		err = errors.New("the walkthrough did not finish in 3 minutes")
	}
	if err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group: the background server too
		<-done
	}
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out := stdout.String()
	_, dir, ok := strings.Cut(out, "WALKTHROUGH_DIR=")
	require.True(t, ok)
	dir = strings.TrimSpace(dir)
	t.Cleanup(func() { os.RemoveAll(dir) })

	// "The key's creation prints its public key; the first approve prints
	// pending, the second approved; the last request prints the signature,
	// over SHA-256("hello")."
	var key wire.Key
	var res wire.ApprovalResult
	var statuses []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, `"public_key"`):
			require.NoError(t, json.Unmarshal([]byte(line), &key))
		case strings.Contains(line, `"signature"`):
			require.NoError(t, json.Unmarshal([]byte(line), &res))
		case line == wire.TaskPending || line == wire.TaskApproved:
			statuses = append(statuses, line)
		}
	}
	require.Equal(t, []string{wire.TaskPending, wire.TaskApproved}, statuses)
	require.Equal(t, wire.OpSign, res.Operation)
	pub, err := wire.ParsePublicKey(key.PublicKey)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("hello"))
	require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), sum[:], res.Signature))

	// "audit.log holds the task's requested, decided (twice, naming each
	// approver), approved and executed records."
	audit, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	require.NoError(t, err)
	var events []string
	approvers := map[string]bool{}
	sc = bufio.NewScanner(bytes.NewReader(audit))
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		if rec["msg"] == "approval" && rec["task"] == res.RequestID {
			events = append(events, rec["event"].(string))
			if a, ok := rec["approver"].(string); ok {
				approvers[a] = true
			}
		}
	}
	require.Equal(t, []string{"requested", "decided", "decided", "approved", "executed"}, events)
	require.Len(t, approvers, 2)
}
