package exec

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaperEnv asks the init of a process started with StartOptions.Init to
// stay as pid 1 of the container and run the command as its child.
const reaperEnv = "_KILN_SANDBOX_REAPER"

// wantReaper reports, once, whether the init was asked to be a reaper.
func wantReaper() bool {
	v := os.Getenv(reaperEnv)
	os.Unsetenv(reaperEnv)
	return v != ""
}

// forkReaper starts the command argv0 as the init's child, with the user,
// capabilities and seccomp filter the init already has, and turns the init
// into the container's reaper: it never returns once the command runs. The
// child gets a process group of its own, the terminal's foreground one when
// tty is set, so that keys like ^C reach it and not the reaper.
func forkReaper(argv0 string, args, env []string, tty bool) error {
	attr := &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	if tty {
		attr.Sys.Foreground, attr.Sys.Ctty = true, 0
	}
	// The signals are caught before the child can be sent any.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(argv0, args, attr)
	if err != nil {
		return fmt.Errorf("executing %s: %w", args[0], err)
	}
	// The command runs: the status pipe's EOF tells Start so.
	unix.Close(statusFD)
	go forward(sigs, pid)
	os.Exit(reap(pid))
	return nil
}

// forward passes the signals the reaper gets on to the command, as docker's
// init does; the ones about the reaper's own children and runtime stay.
func forward(sigs <-chan os.Signal, pid int) {
	for s := range sigs {
		sig, ok := s.(syscall.Signal)
		if !ok || sig == syscall.SIGCHLD || sig == syscall.SIGURG {
			continue
		}
		_ = unix.Kill(pid, sig)
	}
}

// reap waits for every process that ends up the reaper's child, so none
// stays a zombie, until the command pid exits; its status is the reaper's
// exit status, 128+N for death by signal N.
func reap(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return initFailed
		case got != pid:
			continue
		case ws.Signaled():
			return 128 + int(ws.Signal())
		default:
			return ws.ExitStatus()
		}
	}
}
