package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kiln-build/kiln/storage"
)

// Statuses of a run container.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
)

// Files of a container's run directory.
const (
	stateFile = "state.json"
	optsFile  = "run.json"
	stopFile  = "stop"
	// LogFile holds a detached container's output.
	LogFile = "ctr.log"
	// SupervisorLog holds what a detached container's supervisor says.
	SupervisorLog = "supervisor.log"
)

// State is the run state of a container, kept in state.json.
type State struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Status  string   `json:"status"`
	// Pid is the container's process (pid 1 of its pid namespace).
	Pid int `json:"pid,omitempty"`
	// Supervisor is the kiln process that runs the container, and
	// SupervisorStart its start time, which tells it from a later process
	// with the same pid.
	Supervisor      int    `json:"supervisor,omitempty"`
	SupervisorStart string `json:"supervisorStart,omitempty"`
	// ExitCode is the process's exit status (128+signal when killed), -1
	// when unknown.
	ExitCode   int       `json:"exitCode"`
	Detached   bool      `json:"detached,omitempty"`
	Ports      []string  `json:"ports,omitempty"`
	Created    time.Time `json:"created"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// ReadState reads the state in dir. A container that was never run has
// none: the error then matches fs.ErrNotExist.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("reading container state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parsing container state %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// Write replaces the state in dir atomically.
func (s *State) Write(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state of container %s: %w", s.Name, err)
	}
	if err := storage.WriteFileAtomic(filepath.Join(dir, stateFile), data); err != nil {
		return fmt.Errorf("writing state of container %s: %w", s.Name, err)
	}
	return nil
}

// Current returns s as it stands now: a running container whose supervisor
// is gone has exited, with an unknown status.
func (s *State) Current() *State {
	c := *s
	if c.Status == StatusRunning && !c.SupervisorAlive() {
		c.Status, c.ExitCode = StatusExited, -1
	}
	return &c
}

// Running reports whether the container runs now.
func (s *State) Running() bool { return s.Current().Status == StatusRunning }

// SupervisorAlive reports whether the supervisor recorded in s still runs.
func (s *State) SupervisorAlive() bool {
	if s.Supervisor <= 0 {
		return false
	}
	start, err := processStart(s.Supervisor)
	return err == nil && start == s.SupervisorStart
}

// processStart is the start time of pid in clock ticks since boot, field 22
// of /proc/PID/stat; zombies count as gone.
func processStart(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name in parentheses may hold spaces: count from after it.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return "", fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return "", fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return "", fmt.Errorf("process %d has exited", pid)
	}
	return fields[19], nil
}

// markSupervisor records this process as the container's supervisor.
func (s *State) markSupervisor() error {
	start, err := processStart(os.Getpid())
	if err != nil {
		return fmt.Errorf("reading own start time: %w", err)
	}
	s.Supervisor, s.SupervisorStart = os.Getpid(), start
	return nil
}

// RequestStop asks the supervisor of the container with state s in dir to
// stop it: the image's stop signal, then SIGKILL after grace.
func RequestStop(dir string, s *State, grace time.Duration) error {
	if !s.SupervisorAlive() {
		return nil
	}
	secs := strconv.FormatFloat(grace.Seconds(), 'f', -1, 64)
	if err := os.WriteFile(filepath.Join(dir, stopFile), []byte(secs), 0o600); err != nil {
		return fmt.Errorf("requesting stop of container %s: %w", s.Name, err)
	}
	if err := syscall.Kill(s.Supervisor, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling the supervisor (pid %d) of container %s: %w", s.Supervisor, s.Name, err)
	}
	return nil
}

// stopGrace reads a stop request in dir and removes it; without one the
// grace period is def.
func stopGrace(dir string, def time.Duration) (time.Duration, bool) {
	p := filepath.Join(dir, stopFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return def, false
	}
	os.Remove(p)
	secs, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
	if err != nil {
		return def, true
	}
	return time.Duration(secs * float64(time.Second)), true
}

// WaitExited waits until the container of state s in dir has exited or
// timeout passed, and returns its last state.
func WaitExited(dir string, s *State, timeout time.Duration) (*State, error) {
	deadline := time.Now().Add(timeout)
	for {
		cur, err := ReadState(dir)
		if errors.Is(err, fs.ErrNotExist) {
			// Removed by its supervisor (--rm).
			done := *s
			done.Status = StatusExited
			return &done, nil
		}
		if err != nil {
			return nil, err
		}
		if cur = cur.Current(); cur.Status != StatusRunning && !cur.SupervisorAlive() {
			return cur, nil
		}
		if time.Now().After(deadline) {
			return cur, fmt.Errorf("container %s still runs after %v", s.Name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
