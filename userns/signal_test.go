package userns

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waiting is a probe in wait-signal mode, as subUser: a parent, and a child
// in the namespace waiting for SIGTERM.
type waiting struct {
	cmd           *exec.Cmd // runuser
	out           *bufio.Scanner
	parent, child int
}

func startWaiting(t *testing.T, p probe) *waiting {
	t.Helper()
	cmd := p.command(subUser, "wait-signal")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &waiting{cmd: cmd, out: bufio.NewScanner(out)}
	r := report{}
	for r.get("ready") == "" && w.out.Scan() {
		if k, v, ok := strings.Cut(w.out.Text(), "="); ok {
			r[k] = append(r[k], v)
		}
	}
	w.parent, _ = strconv.Atoi(r.get("ppid"))
	w.child, _ = strconv.Atoi(r.get("pid"))
	if r.get("ready") != "1" || w.parent <= 1 || w.child <= 1 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("probe did not get ready: %v", r)
	}
	// Whatever happens, nothing outlives the test.
	t.Cleanup(func() {
		syscall.Kill(w.child, syscall.SIGKILL)
		syscall.Kill(w.parent, syscall.SIGKILL)
		cmd.Process.Kill()
		cmd.Wait()
	})
	return w
}

// rest returns the remaining output, giving up after a while.
func (w *waiting) rest(t *testing.T) report {
	t.Helper()
	watchdog := time.AfterFunc(30*time.Second, func() {
		t.Errorf("probe still running after 30s; killing it")
		syscall.Kill(w.child, syscall.SIGKILL)
		syscall.Kill(w.parent, syscall.SIGKILL)
	})
	defer watchdog.Stop()
	var lines []byte
	for w.out.Scan() {
		lines = append(lines, w.out.Text()+"\n"...)
	}
	w.cmd.Wait()
	return parseReport(lines)
}

// testSignalForwarding sends SIGTERM to the parent only: the child must
// get it, and its status must come back.
func testSignalForwarding(t *testing.T, p probe) {
	w := startWaiting(t, p)
	if err := syscall.Kill(w.parent, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := w.rest(t).get("got"); got != "terminated" {
		t.Errorf("child got %q, want terminated", got)
	}
	if code := w.cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("exit status %d, want the child's 3", code)
	}
}

// testParentDeath kills the parent outright: the child must not outlive it.
func testParentDeath(t *testing.T, p probe) {
	w := startWaiting(t, p)
	if err := syscall.Kill(w.parent, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := w.rest(t).get("got"); got != "" {
		t.Errorf("child got %q, want to be killed", got)
	}
	for deadline := time.Now().Add(10 * time.Second); alive(w.child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still alive 10s after its parent was killed", w.child)
		}
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}
