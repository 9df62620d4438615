package main

// Faults: kiln killed with SIGKILL at random points of builds and pushes, and builds racing a
// prune loop on one store. Afterwards a clean build or push must work, `kiln system check` must
// pass and no mount or process may be left.

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The counts: builds and pushes killed at a random point within killWindow, and
// concurrent builds racing a prune loop. The issue asks for 8 concurrent builds; at 8 the
// rootless run without subordinate ids (fuse-overlayfs) fails most times on a containers/storage
// race (tempdir.NewTempDir creates its lock file before locking it, and another process's
// RecoverStaleDirs deletes the staging directory in between: "rename .../overlay-layers/tmp/
// temp-dir-N/0-addition ...: no such file or directory"). Raise it once that is fixed.
const (
	killedBuilds     = 50
	killedPushes     = 20
	killWindow       = 400 * time.Millisecond
	concurrentBuilds = 8
	checkEvery       = 5 // kills between a clean build or push and a system check
)

// faultSignals are the ways a kiln dies: SIGKILL gives it no chance to clean up, SIGTERM and
// SIGINT (a CI job cancelled, ^C) must make it clean up and exit. The loops take them in turn.
var faultSignals = []os.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT}

// killAfter starts kiln on s with args and sends it sig after d, or lets it finish first; it
// reports whether the signal came before the end.
func killAfter(t *testing.T, s store, d time.Duration, sig os.Signal, args ...string) bool {
	t.Helper()
	cmd := exec.Command(e2e.bin, append([]string{"--root=" + s.root, "--runroot=" + s.runroot}, args...)...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+noAuthFile())
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kiln %s: %v", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(d):
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("kiln %s did not exit within 30 s of %v", strings.Join(args, " "), sig)
		}
		return true
	}
}

// settle waits until no process uses the store any more, and fails the test if one still does
// after a while.
func settle(t *testing.T, s store) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		procs := processesUsing(s.root)
		if len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still use the store after kiln was killed: %q", procs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantCleanStore checks the end state after faults: system check passes, no mounts are left.
func wantCleanStore(t *testing.T, s store) {
	t.Helper()
	if r := s.kiln(t, "system", "check"); r.code != 0 {
		t.Errorf("kiln system check after the faults: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A build removes the work directories killed builds left, and its own.
	for _, base := range []string{filepath.Join(s.root, "overlay", "tempdirs", "kiln-work"), filepath.Join(s.root, "kiln-work")} {
		if left, _ := os.ReadDir(base); len(left) > 0 {
			t.Errorf("work directories left in %s: %d, the first %s", base, len(left), left[0].Name())
		}
	}
	for _, dir := range []string{s.root, s.runroot} {
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left behind: %q", m)
		}
	}
}

func faultStore(t *testing.T) store {
	t.Helper()
	s := newStore(t)
	s.mustKiln(t, "import", "--change", `CMD ["sh"]`, baseImage(t), baseName)
	return s
}

const faultDockerfile = "FROM busybox\nARG N\nRUN echo $N > /n && dd if=/dev/zero of=/z bs=1M count=4 2>/dev/null\n" +
	"COPY . /ctx\nRUN sleep 0.2; cat /n > /m\nRUN ls -R /ctx > /list\n"

func TestE2EFaultsKilledBuilds(t *testing.T) {
	e2eTest(t)
	s := faultStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": faultDockerfile, "a/b": "b\n", "c": "c\n"})
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	killed := 0
	for i := 0; i < killedBuilds; i++ {
		d := time.Duration(rng.Int63n(int64(killWindow)))
		if killAfter(t, s, d, faultSignals[i%len(faultSignals)], "build", "--build-arg", fmt.Sprintf("N=%d", i), "-t", "faulty", dir) {
			killed++
		}
		settle(t, s)
		if (i+1)%checkEvery == 0 {
			s.mustKiln(t, "build", "--build-arg", fmt.Sprintf("N=%d", i), "-t", "faulty", dir)
			wantCleanStore(t, s)
		}
	}
	t.Logf("%d of %d builds killed", killed, killedBuilds)
	s.mustKiln(t, "build", "--build-arg", "N=final", "-t", "faulty", dir)
	if got := exportFile(t, s, "faulty", "m"); got != "final\n" {
		t.Errorf("/m of the clean rebuild = %q", got)
	}
	settle(t, s)
	wantCleanStore(t, s)
}

func TestE2EFaultsKilledPushes(t *testing.T) {
	e2eTest(t)
	r := startRegistry(t)
	s := faultStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN head -c 16000000 /dev/urandom > /big\n"})
	s.mustKiln(t, "build", "-t", "pushme", dir)
	// Pulls are interrupted too, into a store of their own, from a copy pushed cleanly first.
	pulled := r.ref("e2e/faults:pull")
	s.mustKiln(t, "tag", "pushme", pulled)
	s.mustKiln(t, r.args("push", pulled)...)
	p := newStore(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	killed := 0
	for i := 0; i < killedPushes; i++ {
		ref := r.ref(fmt.Sprintf("e2e/faults:%d", i))
		s.mustKiln(t, "tag", "pushme", ref)
		sig := faultSignals[i%len(faultSignals)]
		if killAfter(t, s, time.Duration(rng.Int63n(int64(killWindow))), sig, r.args("push", ref)...) {
			killed++
		}
		killAfter(t, p, time.Duration(rng.Int63n(int64(killWindow))), sig, r.args("pull", pulled)...)
		settle(t, s)
		settle(t, p)
		if (i+1)%checkEvery == 0 {
			s.mustKiln(t, r.args("push", ref)...)
			wantCleanStore(t, s)
			p.mustKiln(t, r.args("pull", pulled)...)
			wantCleanStore(t, p)
		}
	}
	t.Logf("%d of %d pushes killed", killed, killedPushes)
	ref := r.ref(fmt.Sprintf("e2e/faults:%d", killedPushes-1))
	s.mustKiln(t, r.args("push", ref)...)
	if img := r.inspect(t, fmt.Sprintf("e2e/faults:%d", killedPushes-1)); img.Config != "sha256:"+s.imageID(t, "pushme") {
		t.Errorf("the registry has config %s after the clean push", img.Config)
	}
	wantCleanStore(t, s)
}

func TestE2EFaultsConcurrentBuildsAndPrune(t *testing.T) {
	e2eTest(t)
	s := faultStore(t)
	// Archives of small images of their own, which a loop loads, tags and removes while the
	// builds run: each load stages its layer in the store anew.
	src := newStore(t)
	var archives []string
	for i := 0; i < 3; i++ {
		dir := t.TempDir()
		layer := writeFile(t, dir, "layer.tar", tarOf(t, regEnt("loaded", fmt.Sprintf("%d\n", i))))
		src.mustKiln(t, "import", layer, fmt.Sprintf("loadme%d", i))
		archives = append(archives, filepath.Join(dir, "image.tar"))
		src.mustKiln(t, "save", "-o", archives[i], fmt.Sprintf("loadme%d", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var prunes sync.WaitGroup
	prunes.Add(2)
	go func() {
		defer prunes.Done()
		for ctx.Err() == nil {
			if r, err := s.exec("", "prune"); err != nil || r.code != 0 {
				t.Errorf("kiln prune during builds: %v exit %d\n%s", err, r.code, r.stderr)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	loads := 0
	go func() {
		defer prunes.Done()
		for n := 0; ctx.Err() == nil; n++ {
			i := n % len(archives)
			name := fmt.Sprintf("localhost/loadme%d", i)
			for _, args := range [][]string{{"load", "-i", archives[i]}, {"tag", name, "tagged"}, {"rmi", name, "tagged"}} {
				if r, err := s.exec("", args...); err != nil || r.code != 0 {
					t.Errorf("kiln %s during builds: %v exit %d\n%s", strings.Join(args, " "), err, r.code, r.stderr)
					return
				}
			}
			loads++
		}
	}()
	var builds sync.WaitGroup
	errs := make(chan string, 2*concurrentBuilds)
	for i := 0; i < concurrentBuilds; i++ {
		dir := buildDir(t, map[string]string{"Dockerfile": faultDockerfile, "c": fmt.Sprintf("%d\n", i)})
		builds.Add(1)
		go func(i int, dir string) {
			defer builds.Done()
			for j := 0; j < 2; j++ {
				r, err := s.exec("", "build", "--build-arg", fmt.Sprintf("N=%d-%d", i, j), "-t", fmt.Sprintf("conc%d", i), dir)
				if err != nil || r.code != 0 {
					errs <- fmt.Sprintf("build %d.%d: %v exit %d\n%s", i, j, err, r.code, r.stderr)
				}
			}
		}(i, dir)
	}
	builds.Wait()
	cancel()
	prunes.Wait()
	t.Logf("%d loads, tags and removals during the builds", loads)
	if loads == 0 {
		t.Error("no load finished during the builds")
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i := 0; i < concurrentBuilds; i++ {
		if got := exportFile(t, s, fmt.Sprintf("conc%d", i), "m"); got != fmt.Sprintf("%d-1\n", i) {
			t.Errorf("conc%d: /m = %q", i, got)
		}
	}
	settle(t, s)
	wantCleanStore(t, s)
}

// TestE2EFaultsConcurrentSameLayers runs reproducible builds of one Dockerfile side by side on one
// store, without the cache, three rounds: every step of every build makes a layer with the same
// chain id as its peers', so kiln's create path meets the "id taken" case under contention (where
// containers/storage would replace a stored layer's contents if asked to create it again).
func TestE2EFaultsConcurrentSameLayers(t *testing.T) {
	e2eTest(t)
	s := faultStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo one > /a && dd if=/dev/zero of=/z bs=1M count=2 2>/dev/null\n" +
		"COPY . /ctx\nRUN cat /a /ctx/c > /m\n", "c": "c\n"})
	const builders = 4
	ids := make([][]string, builders)
	var wg sync.WaitGroup
	for i := range builders {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for round := range 3 {
				r, err := s.exec("", "build", "-q", "--no-cache", "--timestamp", "1700000000", "-t", fmt.Sprintf("same%d", i), dir)
				if err != nil || r.code != 0 {
					t.Errorf("build %d round %d: %v exit %d\n%s", i, round, err, r.code, r.stderr)
					return
				}
				ids[i] = append(ids[i], strings.TrimSpace(r.stdout))
			}
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range builders {
		for _, id := range ids[i] {
			if id != ids[0][0] {
				t.Errorf("build %d made image %s, build 0 made %s: the same reproducible build", i, id, ids[0][0])
			}
		}
		if got := exportFile(t, s, fmt.Sprintf("same%d", i), "m"); got != "one\nc\n" {
			t.Errorf("same%d: /m = %q", i, got)
		}
	}
	settle(t, s)
	wantCleanStore(t, s)
}

func TestE2ESystemCheck(t *testing.T) {
	e2eTest(t)
	s := faultStore(t)
	if r := s.mustKiln(t, "system", "check"); strings.TrimSpace(r.stdout) != "ok" {
		t.Fatalf("kiln system check on a clean store: %q, want ok", r.stdout)
	}
	// A kiln killed while its store probed the kernel's overlay features leaves a probe
	// directory: not damage, and removed once it is old.
	if _, err := os.Stat(filepath.Join(s.root, "overlay")); err == nil {
		probe := filepath.Join(s.root, "overlay", "compat4242")
		old := time.Now().Add(-time.Hour)
		if err := os.Mkdir(probe, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(probe, old, old); err != nil {
			t.Fatal(err)
		}
		if r := s.mustKiln(t, "system", "check"); strings.TrimSpace(r.stdout) != "ok" {
			t.Errorf("kiln system check with a probe directory left: %q, want ok", r.stdout)
		}
		if _, err := os.Stat(probe); !os.IsNotExist(err) {
			t.Errorf("the old probe directory is still there: %v", err)
		}
	}
	var victims []string
	for _, pattern := range []string{"overlay/*/diff/bin/busybox", "vfs/dir/*/bin/busybox"} {
		m, _ := filepath.Glob(filepath.Join(s.root, pattern))
		victims = append(victims, m...)
	}
	if len(victims) == 0 {
		t.Fatalf("no layer of %s holds bin/busybox", s.root)
	}
	// Rootless, the layer's files belong to the user namespace's root: damage them from there.
	damage := exec.Command("sh", "-c", `echo damage >> "$1"`, "sh", victims[0])
	if os.Geteuid() != 0 {
		damage = exec.Command(e2e.bin, "unshare", "sh", "-c", `echo damage >> "$1"`, "sh", victims[0])
	}
	if out, err := damage.CombinedOutput(); err != nil {
		t.Fatalf("damaging %s: %v\n%s", victims[0], err, out)
	}
	r := s.kiln(t, "system", "check")
	if r.code != 1 || !strings.Contains(r.stdout, "layer") || !strings.Contains(r.stdout, "bin/busybox") {
		t.Fatalf("kiln system check on a damaged layer: exit %d, want 1 naming the layer and bin/busybox\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantError(t, r, "repair")
	if r := s.mustKiln(t, "system", "check", "--repair"); !strings.Contains(r.stdout, "repaired") {
		t.Errorf("kiln system check --repair: %q", r.stdout)
	}
	if r := s.mustKiln(t, "system", "check"); strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("kiln system check after --repair: %q, want ok", r.stdout)
	}
	if ids := s.imagesJSON(t); len(ids) != 0 {
		t.Errorf("the damaged image is still listed after --repair: %v", ids)
	}
	s.mustKiln(t, "import", baseImage(t), baseName)
	wantCleanStore(t, s)
}
