package reaper

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// envChild makes TestReaperAfterCrash's child process set up a plan and
// die.
const envChild = "CRYPTOPLUG_REAPER_TEST_CHILD"

// fixture is what the child sets up, for the parent to check.
type fixture struct {
	Daemon   int    // a process to stop
	Kept     string // existed before: stays
	Created  string // appeared under the snapshot root: removed
	Original string // moved aside to Backup, another put in its place: restored
	Backup   string
	Plan     string
}

// setUp makes a world to undo under dir and its plan.
func setUp(t *testing.T, dir string) (*fixture, *Plan) {
	f := &fixture{
		Kept:     filepath.Join(dir, "root", "kept"),
		Created:  filepath.Join(dir, "root", "new", "file"),
		Original: filepath.Join(dir, "token"),
		Backup:   filepath.Join(dir, ".token.backup"),
		Plan:     filepath.Join(dir, "state", "plan.json"),
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(f.Kept), 0o700))
	require.NoError(t, os.MkdirAll(filepath.Dir(f.Plan), 0o700))
	require.NoError(t, os.WriteFile(f.Kept, []byte("kept"), 0o600))
	require.NoError(t, os.WriteFile(f.Original, []byte("original"), 0o600))
	snap, err := TakeSnapshot(filepath.Join(dir, "root"), "")
	require.NoError(t, err)
	daemon := exec.Command("sleep", "3600")
	require.NoError(t, daemon.Start())
	f.Daemon = daemon.Process.Pid
	plan := &Plan{
		Stop:    []Proc{{PID: f.Daemon, Name: "sleep"}},
		Remove:  []string{filepath.Dir(f.Plan)},
		Created: []Snapshot{snap},
		Restore: []Rename{{Backup: f.Backup, Original: f.Original}},
	}
	return f, plan
}

// change does what a harness does after writing its plan.
func change(t *testing.T, f *fixture) {
	require.NoError(t, os.Rename(f.Original, f.Backup))
	require.NoError(t, os.WriteFile(f.Original, []byte("replacement"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Dir(f.Created), 0o700))
	require.NoError(t, os.WriteFile(f.Created, []byte("new"), 0o600))
}

func requireUndone(t *testing.T, f *fixture) {
	t.Helper()
	require.False(t, Running(Proc{PID: f.Daemon, Name: "sleep"}), "the daemon still runs")
	b, err := os.ReadFile(f.Original)
	require.NoError(t, err)
	require.Equal(t, "original", string(b))
	require.NoFileExists(t, f.Backup)
	require.NoDirExists(t, filepath.Dir(f.Created))
	require.FileExists(t, f.Kept)
	require.NoDirExists(t, filepath.Dir(f.Plan))
}

// TestReaperAfterCrash runs a child test process that sets up a plan,
// starts its reaper, changes the world and dies without cleaning up; the
// reaper must undo everything.
func TestReaperAfterCrash(t *testing.T) {
	if dir := os.Getenv(envChild); dir != "" {
		f, plan := setUp(t, dir)
		require.NoError(t, Start(f.Plan, plan))
		change(t, f)
		b, err := json.Marshal(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "fixture.json"), b, 0o600))
		os.Exit(3) // a crash, as far as cleanup goes: no Cleanup, no deferred calls
	}

	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestReaperAfterCrash$")
	cmd.Env = append(os.Environ(), envChild+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, 3, exit.ExitCode(), "%s", out)
	b, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	require.NoError(t, err)
	f := new(fixture)
	require.NoError(t, json.Unmarshal(b, f))

	// The reaper runs after the child's exit; its last step removes the
	// plan's directory.
	deadline := time.Now().Add(30 * time.Second)
	for fileExists(filepath.Dir(f.Plan)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	requireUndone(t, f)
}

// TestOrphans checks that a plan whose owner and reaper both died is
// carried out by the next harness, and that a live owner's is left alone.
func TestOrphans(t *testing.T) {
	dir := t.TempDir()
	f, plan := setUp(t, dir)
	change(t, f)
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	plan.Owner, plan.Reaper = dead.Process.Pid, 0
	require.NoError(t, plan.Write(f.Plan))

	live := t.TempDir()
	g, livePlan := setUp(t, live)
	livePlan.Owner = os.Getpid()
	require.NoError(t, livePlan.Write(g.Plan))
	t.Cleanup(func() { require.NoError(t, livePlan.Run()) })

	require.NoError(t, Orphans(filepath.Join(dir, "*", "plan.json")))
	require.NoError(t, Orphans(filepath.Join(live, "*", "plan.json")))
	requireUndone(t, f)
	require.True(t, Running(Proc{PID: g.Daemon, Name: "sleep"}), "a live owner's daemon was stopped")
	require.FileExists(t, g.Plan)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
