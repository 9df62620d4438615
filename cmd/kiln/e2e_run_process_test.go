package main

// End-to-end tests of a container's process under kiln run: its own terminal, its death with its
// supervisor, and --init.

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
)

// kiln run -t without a terminal of kiln's own still gives the container one, from its devpts.
func TestE2ERunTerminalNoInput(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	if got := mustKiln(t, "run", "--rm", "-t", baseName, "tty").stdout; got != "/dev/pts/0\r\n" {
		t.Errorf("kiln run -t tty printed %q, want the container's /dev/pts/0", got)
	}
	got := mustKiln(t, "run", "--rm", "-t", "-u", "1000", baseName, "sh", "-c", "ls -ln $(tty) /dev/pts; exit 0").stdout
	if !strings.Contains(got, " 1000 ") || !strings.Contains(got, "ptmx") {
		t.Errorf("the terminal of -u 1000 is not its own in the container's devpts:\n%s", got)
	}
	if r := kiln(t, "run", "--rm", "-t", baseName, "sh", "-c", "exit 5"); r.code != 5 {
		t.Errorf("kiln run -t sh -c 'exit 5' exited %d\n%s", r.code, r.stderr)
	}
}

// A detached container dies with its supervisor, also when it runs as a user other than root (whose
// change clears the parent-death signal) and under --init, and kiln ps then shows it exited.
func TestE2ERunSupervisorKilled(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	for _, init := range []bool{false, true} {
		args := []string{"run", "-d", "-u", "1000", baseName, "sleep", "300"}
		if init {
			args = append(args[:1], append([]string{"--init"}, args[1:]...)...)
		}
		id := strings.TrimSpace(s.mustKiln(t, args...).stdout)
		supervisorKilled(t, s, id)
	}
}

// supervisorKilled SIGKILLs the supervisor of container id and checks that the container goes too.
func supervisorKilled(t *testing.T, s store, id string) {
	t.Helper()
	state := s.runState(t, id)
	supervisor, pid := int(state["supervisor"].(float64)), int(state["pid"].(float64))
	defer func() {
		if t.Failed() {
			syscall.Kill(pid, syscall.SIGKILL) // it should not outlive the test
		}
	}()
	var ps []struct {
		ID  string `json:"Id"`
		Pid int
	}
	if err := json.Unmarshal([]byte(s.mustKiln(t, "ps", "--format", "json").stdout), &ps); err != nil || len(ps) != 1 ||
		ps[0].ID != id || ps[0].Pid != pid {
		t.Fatalf("kiln ps --format json does not show %s running as pid %d: %+v (%v)", id, pid, ps, err)
	}
	if err := syscall.Kill(supervisor, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "the supervisor", supervisor)
	waitGone(t, "the container of a killed supervisor", pid)
	if out := s.mustKiln(t, "ps", "-a").stdout; !strings.Contains(out, "Exited (unknown)") {
		t.Errorf("kiln ps -a does not show the container exited:\n%s", out)
	}
	s.mustKiln(t, "rm", id)
}

// kiln run --init runs the command under a reaper: not as pid 1, its orphans reaped, signals passed
// on and its exit status returned, with a terminal too.
func TestE2ERunInit(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	if got := mustKiln(t, "run", "--rm", baseName, "sh", "-c", "echo $$").stdout; got != "1\n" {
		t.Errorf("without --init the command is pid %q, want 1", got)
	}
	got := mustKiln(t, "run", "--rm", "--init", "-u", "1000", baseName, "sh", "-c",
		"echo $$; (sleep 0 &); sleep 1; ps -o pid,stat,comm").stdout
	if pid, rest, _ := strings.Cut(got, "\n"); pid == "1" || pid == "" || strings.Contains(rest, " Z ") {
		t.Errorf("with --init the command is pid %s (want not 1), processes:\n%s", pid, rest)
	}
	if r := kiln(t, "run", "--rm", "--init", baseName, "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("kiln run --init sh -c 'exit 3' exited %d\n%s", r.code, r.stderr)
	}
	if r := kiln(t, "run", "--rm", "--init", "-t", baseName, "sh", "-c", "tty; exit 6"); r.code != 6 ||
		r.stdout != "/dev/pts/0\r\n" {
		t.Errorf("kiln run --init -t: exit %d, output %q\n%s", r.code, r.stdout, r.stderr)
	}
	wantTermPassedOn(t, "--init")
}
