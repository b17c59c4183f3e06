// Package reaper undoes what a test harness set up — stops the daemons it
// started, removes the files they left, puts back what it moved aside —
// once the test process that set it up has exited, however it exited.
//
// The PKCS #11 module a daemon serves stays loaded in the test process
// until that process exits (see internal/module), and opencryptoki's slot
// daemon refuses to stop while a process using it lives, so the daemons of
// a test binary must outlive its last test and stop right after it. A
// harness writes a [Plan] and calls [Start], which runs this same test
// binary again as a small reaper process: it waits for the test process to
// exit (the end of a pipe only the test process holds), then carries the
// plan out. A plan whose owner and reaper both died (a killed machine) is
// carried out by the next harness that calls [Orphans].
package reaper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// envPlan, set in the reaper process's environment, names its plan file.
const envPlan = "CRYPTOPLUG_REAPER_PLAN"

// stopWait bounds how long a daemon may take to exit after SIGTERM before
// it is killed.
const stopWait = 15 * time.Second

// Plan is what to undo, in order: stop Stop (last entry first), remove
// the SysVShm segments and the Remove paths, rename each Restore entry
// back, then remove what appeared in Created.
type Plan struct {
	Owner   int        `json:"owner"`  // the test process
	Reaper  int        `json:"reaper"` // the reaper process, 0 before Start
	Stop    []Proc     `json:"stop"`
	Remove  []string   `json:"remove"`
	Created []Snapshot `json:"created"`
	Restore []Rename   `json:"restore"`
	// SysVShm are System V shared memory keys to remove after Stop, in
	// case a daemon had to be killed before it could remove its own.
	SysVShm []int `json:"sysv_shm"`
}

// Proc is a process to stop: PID, or the number in PIDFile (read when the
// plan runs, for a daemon that forks and writes its own PID file). Name is
// its /proc/PID/comm; a process of another name (the PID reused since) is
// left alone.
type Proc struct {
	PID     int    `json:"pid,omitempty"`
	PIDFile string `json:"pid_file,omitempty"`
	Name    string `json:"name"`
}

// Snapshot lists what existed under Root (recursively) or matching Glob
// before the harness ran; everything else found there afterwards is
// removed.
type Snapshot struct {
	Root   string   `json:"root,omitempty"`
	Glob   string   `json:"glob,omitempty"`
	Before []string `json:"before"`
}

// Rename moves Backup back to Original, after removing whatever is at
// Original.
type Rename struct {
	Backup   string `json:"backup"`
	Original string `json:"original"`
}

// TakeSnapshot records what exists now under root (recursively, root
// included) or, when glob is set instead, what matches glob.
func TakeSnapshot(root, glob string) (Snapshot, error) {
	s := Snapshot{Root: root, Glob: glob}
	var err error
	s.Before, err = s.list()
	return s, err
}

func (s Snapshot) list() ([]string, error) {
	if s.Glob != "" {
		return filepath.Glob(s.Glob)
	}
	var out []string
	err := filepath.WalkDir(s.Root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, path)
		return nil
	})
	return out, err
}

// removeNew removes what is listed now but was not before; a new
// directory goes with its contents.
func (s Snapshot) removeNew() error {
	now, err := s.list()
	if err != nil {
		return err
	}
	var errs []error
	var removed []string
	for _, p := range now { // WalkDir order: a directory before its contents
		if slices.Contains(s.Before, p) || slices.ContainsFunc(removed, func(r string) bool { return strings.HasPrefix(p, r+"/") }) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
		removed = append(removed, p)
	}
	return errors.Join(errs...)
}

// Run carries the plan out and returns every step's error; a step that
// fails does not stop the others.
func (p *Plan) Run() error {
	var errs []error
	for _, proc := range slices.Backward(p.Stop) {
		errs = append(errs, stop(proc))
	}
	for _, key := range p.SysVShm {
		errs = append(errs, removeSysVShm(key))
	}
	for _, path := range p.Remove {
		errs = append(errs, os.RemoveAll(path))
	}
	for _, r := range p.Restore {
		if _, err := os.Lstat(r.Backup); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue // never moved aside, or already put back
		}
		if err := os.RemoveAll(r.Original); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, os.Rename(r.Backup, r.Original))
	}
	for _, s := range p.Created {
		errs = append(errs, s.removeNew())
	}
	return errors.Join(errs...)
}

// stop sends SIGTERM and waits for the process to go, then SIGKILL.
func stop(p Proc) error {
	if p.PIDFile != "" {
		b, err := os.ReadFile(p.PIDFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // never started
		}
		if err != nil {
			return err
		}
		if p.PID, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("%s: %w", p.PIDFile, err)
		}
	}
	if !Running(p) {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
	}
	if waitGone(p, stopWait) {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if waitGone(p, stopWait) {
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", p.Name, p.PID, stopWait)
	}
	return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
}

// waitGone polls until p has exited (or is a zombie) or d passes. The
// daemons are not children of the reaper, so it cannot wait for them.
func waitGone(p Proc, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for Running(p) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Running reports whether p.PID is a live process named p.Name (a zombie
// does not count).
func Running(p Proc) bool {
	if p.PID <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || len(s) < end+3 {
		return false
	}
	return s[open+1:end] == p.Name && s[end+2] != 'Z'
}

// Write stores the plan at path atomically.
func (p *Plan) Write(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Read loads the plan at path.
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := new(Plan)
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	return p, nil
}

// Start writes plan to path and starts its reaper: this executable again,
// in its own process group (so that an interrupt of the test run does not
// stop it before it has cleaned up), with hold passed on as open files (a
// lock file, so the lock is held until the cleanup is done). The reaper
// logs to path + ".log". The test process must keep running until Start
// returns; from then on its exit, in any way, sets the reaper off.
func Start(path string, plan *Plan, hold ...*os.File) error {
	plan.Owner = os.Getpid()
	if err := plan.Write(path); err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	log, err := os.OpenFile(path+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	defer log.Close()
	exe, err := os.Executable()
	if err != nil {
		w.Close()
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envPlan+"="+path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, log, log
	cmd.ExtraFiles = hold
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the reaper: %w", err)
	}
	// Never closed: the kernel closes it when this process exits, which
	// is the reaper's signal. Kept reachable so no finalizer closes it.
	keep = append(keep, w)
	plan.Reaper = cmd.Process.Pid
	go cmd.Wait() // reaps it only if this process outlives it (it exits early on a bad plan)
	return plan.Write(path)
}

var keep []*os.File

// Orphans carries out the plans matching glob whose owner and reaper have
// both exited, and removes their plan files.
func Orphans(glob string) error {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	var errs []error
	for _, path := range paths {
		p, err := Read(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if alive(p.Owner) || alive(p.Reaper) {
			continue
		}
		if err := p.Run(); err != nil {
			errs = append(errs, fmt.Errorf("cleaning up after test process %d: %w", p.Owner, err))
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err) // the plan may have removed its own directory
		}
	}
	return errors.Join(errs...)
}

func alive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// init turns this executable into a reaper when it was started as one by
// Start: it waits for the test process to exit, carries the plan out and
// exits without running anything else.
func init() {
	path := os.Getenv(envPlan)
	if path == "" {
		return
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // returns when the test process has exited
	code := 0
	p, err := Read(path)
	if err == nil {
		err = p.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "reaper for test process (plan %s): %v\n", path, err)
		code = 1
	} else if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "reaper: %v\n", err)
	}
	os.Exit(code)
}

// removeSysVShm removes the System V shared memory segment with key, if
// there is one.
func removeSysVShm(key int) error {
	id, err := unix.SysvShmGet(key, 0, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shmget %#x: %w", key, err)
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
		return fmt.Errorf("remove shared memory %#x: %w", key, err)
	}
	return nil
}
