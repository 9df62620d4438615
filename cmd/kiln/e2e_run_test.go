package main

// End-to-end tests of working containers (from, run, copy, config, mount, commit, rm) and of
// running images (run in the foreground and detached, ps, logs, stop, published ports).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	kexec "github.com/kiln-build/kiln/exec"
)

// runStore is a store of the test's own holding the busybox base, for tests that list or remove
// every container.
func runStore(t *testing.T) store {
	t.Helper()
	tarball := baseImage(t)
	s := newStore(t)
	s.mustKiln(t, "import", "--change", `CMD ["sh"]`, tarball, baseName)
	return s
}

// runState reads a container's state.json from the store's run root.
func (s store) runState(t *testing.T, id string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.runroot, "kiln-containers", id, "state.json"))
	if err != nil {
		t.Fatalf("reading the state of %s: %v", id, err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("parsing the state of %s: %v\n%s", id, err, data)
	}
	return st
}

// waitGone fails the test unless process pid is gone (or a zombie) within ten seconds.
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := strings.LastIndexByte(string(data), ')'); i > 0 && strings.HasPrefix(string(data[i+1:]), " Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs: %s", what, pid, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpGet fetches url, retrying for a while as the server comes up.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %s, read error %v", resp.Status, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The walk-through of the issue: build a web server image, run it detached with a published port,
// fetch a page, read its log, stop and remove it, then tag and push the image.
func TestE2ERunDetachedWebServer(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	// The CMD of the walk-through, with -vv so that the server says something for kiln logs.
	dir := buildDir(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY index.html /www/\nCMD [\"httpd\",\"-f\",\"-vv\",\"-p\",\"80\",\"-h\",\"/www\"]\n",
		"index.html": "<h1>served by kiln</h1>\n",
	})
	s.mustKiln(t, "build", "-q", "-t", "app:v1", dir)
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(s.mustKiln(t, "run", "-d", "-p", addr+":80", "--name", "web", "app:v1").stdout)
	if len(id) != 64 {
		t.Fatalf("kiln run -d printed %q, want a container id", id)
	}
	if got := httpGet(t, "http://"+addr+"/"); got != "<h1>served by kiln</h1>\n" {
		t.Fatalf("GET / = %q", got)
	}
	ps := s.mustKiln(t, "ps").stdout
	if !strings.Contains(ps, "web") || !strings.Contains(ps, "Up ") || !strings.Contains(ps, addr+"->80/tcp") {
		t.Errorf("kiln ps does not show web running with its port:\n%s", ps)
	}
	if logs := s.mustKiln(t, "logs", "web").stdout; !strings.Contains(logs, "response:200") {
		t.Errorf("kiln logs web lacks the server's request log:\n%s", logs)
	}
	state := s.runState(t, id)
	supervisor, pid := int(state["supervisor"].(float64)), int(state["pid"].(float64))
	start := time.Now()
	s.mustKiln(t, "stop", "-t", "2", "web")
	if took := time.Since(start); took > 2*time.Second+5*time.Second {
		t.Errorf("kiln stop -t 2 took %v", took)
	}
	waitGone(t, "the container", pid)
	waitGone(t, "the supervisor", supervisor)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("%s still accepts connections after kiln stop", addr)
	}
	if ps := s.mustKiln(t, "ps", "-a").stdout; !strings.Contains(ps, "Exited (137)") {
		t.Errorf("kiln ps -a does not show web exited by SIGKILL (httpd ignores SIGTERM as pid 1):\n%s", ps)
	}
	s.mustKiln(t, "rm", "web")
	if ps := s.mustKiln(t, "ps", "-a", "-q").stdout; strings.TrimSpace(ps) != "" {
		t.Errorf("kiln ps -a after rm: %q", ps)
	}
	if _, err := os.Stat(filepath.Join(s.runroot, "kiln-containers", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the run directory of web is left after rm: %v", err)
	}
	r := startRegistry(t)
	s.mustKiln(t, "tag", "app:v1", r.ref("e2e/app:v1"))
	s.mustKiln(t, r.args("push", r.ref("e2e/app:v1"))...)
	if pushed := r.inspect(t, "e2e/app:v1"); pushed.Config != "sha256:"+s.imageID(t, "app:v1") {
		t.Errorf("registry has config %s for app:v1", pushed.Config)
	}
}

// The scripted build of the issue: from, run, copy, config, commit, then run the image.
func TestE2EWorkingContainerScript(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	c := strings.TrimSpace(s.mustKiln(t, "from", "busybox").stdout)
	if c != "busybox-working-container" {
		t.Errorf("kiln from busybox printed %q", c)
	}
	s.mustKiln(t, "run", c, "--", "sh", "-c", "echo hi > /greeting")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("copied\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.mustKiln(t, "copy", c, file, "/etc/")
	s.mustKiln(t, "config", "--cmd", `["cat","/greeting"]`, "--label", "a=b", "--env", "GREETING=hi", c)
	var list []map[string]any
	if err := json.Unmarshal([]byte(s.mustKiln(t, "containers", "--format", "json").stdout), &list); err != nil ||
		len(list) != 1 || list[0]["containername"] != c {
		t.Errorf("kiln containers --format json: %v %v", list, err)
	}
	s.mustKiln(t, "commit", c, "out:v1")
	if got := s.mustKiln(t, "run", "--rm", "out:v1").stdout; got != "hi\n" {
		t.Errorf("kiln run --rm out:v1 printed %q, want %q", got, "hi\n")
	}
	if got := s.mustKiln(t, "run", "--rm", "out:v1", "cat", "/etc/file").stdout; got != "copied\n" {
		t.Errorf("/etc/file in out:v1 = %q", got)
	}
	img := s.inspect(t, "out:v1")
	if l := jsonOf(field(img, "Config", "Labels")); l != `{"a":"b"}` {
		t.Errorf("labels of out:v1 = %s", l)
	}
	if env := jsonOf(field(img, "Config", "Env")); !strings.Contains(env, "GREETING=hi") {
		t.Errorf("env of out:v1 = %s", env)
	}
	a := strings.TrimSpace(s.mustKiln(t, "commit", "--timestamp", "0", c, "out:a").stdout)
	b := strings.TrimSpace(s.mustKiln(t, "commit", "--timestamp", "0", c, "out:b").stdout)
	if a != b || len(a) != 64 {
		t.Errorf("two commits with --timestamp 0 gave %q and %q", a, b)
	}
	sq := strings.TrimSpace(s.mustKiln(t, "commit", "--squash", "--change", "ENV SQUASHED=1", c, "out:squashed").stdout)
	if n := len(field(s.inspect(t, sq), "RootFS", "Layers").([]any)); n != 1 {
		t.Errorf("a squashed commit has %d layers", n)
	}
	if got := s.mustKiln(t, "run", "--rm", "out:squashed", "sh", "-c", "cat /greeting; echo $SQUASHED").stdout; got != "hi\n1\n" {
		t.Errorf("out:squashed printed %q", got)
	}
	archive := filepath.Join(t.TempDir(), "out.tar")
	s.mustKiln(t, "commit", "--rm", c, "oci-archive:"+archive)
	if _, err := os.Stat(archive); err != nil {
		t.Errorf("commit to oci-archive: %v", err)
	}
	wantError(t, s.kiln(t, "run", c, "--", "true"), c)
}

func TestE2ERunImage(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	if r := kiln(t, "run", "--rm", baseName, "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("kiln run sh -c 'exit 3' exited %d\n%s", r.code, r.stderr)
	}
	if got := mustKiln(t, "run", "--rm", "-u", "1000", baseName, "id", "-u").stdout; got != "1000\n" {
		t.Errorf("id -u as -u 1000 = %q", got)
	}
	got := mustKiln(t, "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "--entrypoint", "sh", baseName, "-c", "echo $FOO; pwd").stdout
	if got != "bar\n/tmp\n" {
		t.Errorf("-e, -w and --entrypoint: got %q", got)
	}
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got = mustKiln(t, "run", "--rm", "-v", vol+":/data", baseName, "sh", "-c", "cat /data/in; echo back > /data/out").stdout
	if got != "from the host\n" {
		t.Errorf("reading a volume: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(vol, "out")); err != nil || string(b) != "back\n" {
		t.Errorf("a file written to the volume reads %q on the host (%v)", b, err)
	}
	if r := kiln(t, "run", "--rm", "-v", vol+":/data:ro", baseName, "touch", "/data/x"); r.code != 1 ||
		!strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("touching a file in a read-only volume: exit %d\n%s", r.code, r.stderr)
	}
}

func TestE2ERunErrors(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	wantError(t, s.kiln(t, "run", "--rm", "e2e-no-such-image:v1"), "e2e-no-such-image")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, detach := range []string{"-d", "--rm"} {
		wantError(t, s.kiln(t, "run", detach, "-p", busy+":80", baseName, "sleep", "60"), "address already in use")
	}
	for _, args := range [][]string{{"stop", "nosuch"}, {"rm", "nosuch"}, {"logs", "nosuch"}, {"commit", "nosuch", "x"},
		{"copy", "nosuch", "/etc/passwd", "/"}, {"config", "--label", "a=b", "nosuch"}} {
		wantError(t, s.kiln(t, args...), `container "nosuch" not found`)
	}
	if out := s.mustKiln(t, "containers", "-a", "-q").stdout; strings.TrimSpace(out) != "" {
		t.Errorf("failed runs left containers behind:\n%s", out)
	}
	wantError(t, s.kiln(t, "run", "-p", "80", "--network", "host", baseName), "private")
	wantError(t, s.kiln(t, "mount", "nosuch"), "kiln unshare")
}

func TestE2ERunRemoveForce(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	id := strings.TrimSpace(s.mustKiln(t, "run", "-d", baseName, "sh", "-c", "echo started; exec sleep 600").stdout)
	auto := strings.TrimSpace(s.mustKiln(t, "run", "-d", "--rm", baseName, "sleep", "600").stdout)
	state := s.runState(t, id)
	wantError(t, s.kiln(t, "rm", id), "running")
	s.mustKiln(t, "stop", "-t", "1", auto)
	if out := s.mustKiln(t, "ps", "-a", "-q", "--no-trunc").stdout; strings.Contains(out, auto) {
		t.Errorf("a --rm container is left after stop:\n%s", out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		logs := s.mustKiln(t, "logs", id).stdout
		if logs == "started\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln logs %s = %q, want %q", id, logs, "started\n")
		}
	}
	s.mustKiln(t, "rm", "-f", "--all")
	waitGone(t, "the supervisor", int(state["supervisor"].(float64)))
	if out := s.mustKiln(t, "ps", "-a", "-q").stdout; strings.TrimSpace(out) != "" {
		t.Errorf("kiln rm -f --all left containers:\n%s", out)
	}
}

// kiln mount prints a root that lasts as long as the kiln unshare it ran in.
func TestE2EMountInUnshare(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	c := strings.TrimSpace(s.mustKiln(t, "from", "--name", "mnt", baseName).stdout)
	k := fmt.Sprintf("%s --root=%s --runroot=%s", e2e.bin, s.root, s.runroot)
	script := fmt.Sprintf(`set -e; d=$(%[1]s mount %[2]s); echo mounted > "$d/marker"; cat "$d/etc/passwd" >/dev/null; %[1]s umount %[2]s`, k, c)
	s.mustKiln(t, "unshare", "sh", "-c", script)
	if got := s.mustKiln(t, "run", c, "--", "cat", "/marker").stdout; got != "mounted\n" {
		t.Errorf("a file written through kiln mount reads %q", got)
	}
	wantError(t, s.kiln(t, "mount", c), "kiln unshare")
}

// A foreground kiln run passes signals on and returns the process's status.
func TestE2ERunSignals(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	wantTermPassedOn(t)
}

// wantTermPassedOn runs a container with extra run flags whose command traps SIGTERM, sends kiln
// SIGTERM once the command runs, and wants the command to see it and kiln to exit with the
// command's status.
func wantTermPassedOn(t *testing.T, flags ...string) {
	t.Helper()
	args := append([]string{"--root=" + e2e.store.root, "--runroot=" + e2e.store.runroot, "run", "--rm"}, flags...)
	cmd := exec.Command(e2e.bin, append(args, baseName,
		"sh", "-c", `trap "echo got TERM; exit 9" TERM; echo ready; while :; do sleep 0.1; done`)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("kiln run %v: the container did not start: %q", flags, lines.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != "got TERM" {
		t.Errorf("kiln run %v: the command did not get SIGTERM: %q", flags, lines.Text())
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 9 {
		t.Errorf("kiln run %v exited with %v, want status 9", flags, err)
	}
}

// kiln run -it gives the container a real terminal of the user's size.
func TestE2ERunTerminal(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	pty, err := kexec.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	if err := setWinsize(pty.Master, 33, 101); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e2e.bin, "--root="+e2e.store.root, "--runroot="+e2e.store.runroot, "run", "--rm", "-it", baseName,
		"sh", "-c", `test -t 0 && test -t 1 && echo "tty:$TERM:$(tty)"; stty size; read line; echo "read:$line"; exit 4`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pty.Slave, pty.Slave, pty.Slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pty.Slave.Close()
	if _, err := io.WriteString(pty.Master, "typed\r"); err != nil {
		t.Fatal(err)
	}
	output, _ := io.ReadAll(pty.Master) // EIO once kiln is gone
	err = cmd.Wait()
	text := strings.ReplaceAll(string(output), "\r", "")
	// The container's terminal comes from its own devpts, of which it is the first.
	for _, want := range []string{"tty:xterm:/dev/pts/0\n", "33 101\n", "read:typed\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, text)
		}
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Errorf("kiln run -it exited with %v, want status 4", err)
	}
}

// setWinsize gives the terminal of pty master f a size.
func setWinsize(f *os.File, rows, cols uint16) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return err
	}
	return ierr
}

// Owners set in a working container, by kiln run or kiln copy --chown, reach the image, also
// without subordinate ids (recorded by the seccomp notifier and the copier).
func TestE2EWorkingContainerOwners(t *testing.T) {
	e2eTest(t)
	s := runStore(t)
	c := strings.TrimSpace(s.mustKiln(t, "from", "--name", "owners", baseName).stdout)
	s.mustKiln(t, "run", c, "--", "sh", "-c", "echo x > /owned && chown 1000:50 /owned && chmod 640 /owned")
	src := filepath.Join(t.TempDir(), "copied")
	if err := os.WriteFile(src, []byte("y\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.mustKiln(t, "copy", "--chown", "app:app", "--chmod", "600", c, src, "/home/app/")
	s.mustKiln(t, "commit", "--rm", c, "owners:v1")
	fsTar := filepath.Join(t.TempDir(), "fs.tar")
	s.mustKiln(t, "export", "-o", fsTar, "owners:v1")
	got := listingOf(t, fsTar)
	for name, want := range map[string]string{"owned": "0 -rw-r----- 1000:50 2 ", "home/app/copied": "0 -rw------- 1000:1000 2 "} {
		if got[name] != want {
			t.Errorf("%s in the image: %q, want %q", name, got[name], want)
		}
	}
}
