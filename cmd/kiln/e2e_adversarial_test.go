package main

// TestE2EAdversarial: builds, imports and loads crafted to escape the build — symlinks out of the
// context, destinations through symlinks the image planted, tar entries with "../", absolute
// names, link and whiteout tricks, RUN mounts that climb out, /proc tricks, broken archives, a
// gzip bomb. Every case runs on a store of its own and ends with the same checks (advChecks): the
// canary directory outside the build is unchanged and its token is in no image, config or log,
// the kiln binary is unchanged, no mount or process is left, `kiln system check` passes, and a
// failure is a clean error naming what is at fault. The cases are in e2e_adversarial_cases_test.go,
// e2e_adversarial_more_test.go and e2e_adversarial_etc_test.go.

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// advEnv is one case's world.
type advEnv struct {
	s      store
	canary string // directory outside the build: token, and a sub directory
	token  string // random; in the canary file and in kiln's environment, never in an image
	ctx    string // the build context
	work   string // scratch: crafted archives that are not in the context
	tag    string // the image the case makes, if any
	home   string
}

// outcome is what a case must end with.
type outcome int

const (
	mustSucceed outcome = iota
	mustFail
	either // refusing or confining are both right; the checks decide
)

// advCase is one attack. Dockerfile texts may use {{C}} for the canary directory and {{H}} for
// $HOME; they never hold the token (the history would).
type advCase struct {
	name       string
	dockerfile string
	files      map[string]string
	prep       func(t *testing.T, e *advEnv)          // plant links and archives
	cmd        func(t *testing.T, e *advEnv) []string // default: build -t TAG CONTEXT
	want       outcome
	names      []string                      // a failure's error must name one of these
	check      func(t *testing.T, e *advEnv) // after a success
}

// advSecretVar is set to the canary token in every kiln the suite runs: no step may read it.
const advSecretVar = "KILN_ADV_SECRET"

func TestE2EAdversarial(t *testing.T) {
	e2eTest(t)
	baseTar := baseImage(t)
	binSum := fileSum(t, e2e.bin)
	var cases []advCase
	for _, group := range [][]advCase{advContextCases(), advDestCases(), advAddTarCases(),
		advImportCases(), advLoadCases(), advSandboxCases(), advEtcLinkCases(), advMountCases()} {
		cases = append(cases, group...)
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newAdvEnv(t, baseTar)
			runAdvCase(t, e, c)
			if got := fileSum(t, e2e.bin); got != binSum {
				t.Fatalf("the kiln binary changed during the case")
			}
		})
	}
}

// newAdvEnv makes the canary, an empty context and a store holding busybox.
func newAdvEnv(t *testing.T, baseTar string) *advEnv {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	e := &advEnv{s: newStore(t), canary: t.TempDir(), token: "canary-" + hex.EncodeToString(b),
		ctx: t.TempDir(), work: t.TempDir(), tag: "adv-" + strconv.Itoa(os.Getpid()), home: os.Getenv("HOME")}
	writeFile(t, e.canary, "token", []byte(e.token+"\n"))
	if err := os.Mkdir(filepath.Join(e.canary, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.canary, "sub"), "keep", []byte(e.token+"\n"))
	e.s.mustKiln(t, "import", "--change", `CMD ["sh"]`, baseTar, baseName)
	return e
}

func (e *advEnv) expand(s string) string {
	return strings.NewReplacer("{{C}}", e.canary, "{{H}}", e.home).Replace(s)
}

// runAdvCase runs one case and its checks.
func runAdvCase(t *testing.T, e *advEnv, c advCase) {
	t.Helper()
	files := map[string]string{}
	for k, v := range c.files {
		files[k] = e.expand(v)
	}
	if c.dockerfile != "" {
		files["Dockerfile"] = e.expand(c.dockerfile)
	}
	for name, body := range files {
		p := filepath.Join(e.ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(p), filepath.Base(p), []byte(body))
	}
	if c.prep != nil {
		c.prep(t, e)
	}
	before := snapshot(t, e.canary)
	args := []string{"build", "-t", e.tag, e.ctx}
	if c.cmd != nil {
		args = c.cmd(t, e)
	}
	r := e.s.kilnEnv(t, []string{advSecretVar + "=" + e.token}, args...)
	switch {
	case c.want == mustSucceed && r.code != 0:
		t.Errorf("kiln %s: exit %d, want success\n%s", strings.Join(args, " "), r.code, r.stderr)
	case c.want == mustFail && r.code == 0:
		t.Errorf("kiln %s: exit 0, want a failure naming %q", strings.Join(args, " "), c.names)
	case r.code != 0 && c.want != mustSucceed:
		wantError(t, r, c.names...)
	case r.code == 0 && c.check != nil:
		c.check(t, e)
	}
	advChecks(t, e, r, before)
}

// advChecks are the checks every case ends with.
func advChecks(t *testing.T, e *advEnv, r result, before map[string]string) {
	t.Helper()
	if after := snapshot(t, e.canary); jsonOf(after) != jsonOf(before) {
		t.Errorf("the canary changed:\nbefore %v\nafter  %v", before, after)
	}
	if strings.Contains(r.stdout+r.stderr, e.token) {
		t.Errorf("the token is in kiln's output:\n%s%s", r.stdout, r.stderr)
	}
	if e.s.kiln(t, "inspect", e.tag).code == 0 {
		out := filepath.Join(e.work, "out.tar")
		for _, args := range [][]string{{"save", "-o", out}, {"export", "-o", out}, {"inspect"}, {"history", "--no-trunc"}} {
			res := e.s.mustKiln(t, append(args, e.tag)...)
			data, _ := os.ReadFile(out)
			if strings.Contains(res.stdout+string(data), e.token) {
				t.Errorf("the token is in kiln %s", strings.Join(args, " "))
			}
			_ = os.Remove(out)
		}
	}
	for _, dir := range []string{e.s.root, e.s.runroot, e.ctx, e.work} {
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("mounts left behind: %q", m)
		}
	}
	if procs := processesUsing(e.s.root); len(procs) > 0 {
		t.Errorf("processes left behind: %q", procs)
	}
	if res := e.s.kiln(t, "system", "check"); res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Errorf("kiln system check: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// snapshot maps every path under dir to its type, mode, size and content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		desc := fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10)
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + sha256Hex(b)
		}
		m[strings.TrimPrefix(p, dir)] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("reading the canary: %v", err)
	}
	return m
}

// processesUsing lists the processes whose command line, root or working directory names dir.
func processesUsing(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var found []string
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		p := filepath.Join("/proc", ent.Name())
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		root, _ := os.Readlink(filepath.Join(p, "root"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		if strings.Contains(string(cmdline), dir) || strings.HasPrefix(root, dir) || strings.HasPrefix(cwd, dir) {
			found = append(found, ent.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// fileSum is the sha256 of a file.
func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256Hex(b)
}
