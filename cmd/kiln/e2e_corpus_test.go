package main

// TestE2ECorpus builds every case of the differential Dockerfile corpus (testdata/dockerfiles,
// see its README.md) with kiln and compares the image with the golden docker's BuildKit made:
// the config object field by field, architecture/os/author, the history, and each layer's tar
// entries as a set. The layer listing code is in e2e_corpus_layers_test.go.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// knownFailures lists the corpus cases kiln does not build like docker yet, each with the reason.
// The test checks that they still fail, so fixing one forces removing its entry.
var knownFailures = map[string]string{}

// singleIDFailures are the cases that differ only in a single-id user namespace (rootless without
// /etc/subuid), for reasons of the kernel rather than kiln: one id cannot own a symlink's
// recorded owner, nor hold supplementary groups.
var singleIDFailures = map[string]string{
	"add-tar":    "a symlink owned by uid 1000 from ADD: user.* xattrs, where single-id mode records owners, cannot be set on symlinks",
	"user-forms": "supplementary groups: setgroups is denied in a single-id user namespace",
}

// expectedFailure says why case name is expected to differ here, if it is.
func expectedFailure(name string) (string, bool) {
	if reason, ok := knownFailures[name]; ok {
		return reason, true
	}
	if os.Geteuid() != 0 && !hasSubIDs() {
		reason, ok := singleIDFailures[name]
		return reason, ok
	}
	return "", false
}

// corpusBase is the name the corpus's Dockerfiles use for the busybox base image.
const corpusBase = "kiln-test/busybox"

// corpusCase is one directory of testdata/dockerfiles with its case.conf.
type corpusCase struct {
	name, dir, tag string
	needs          []string
	buildArgs      []string
	target         string
}

// golden is a case's expected.json.
type golden struct {
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
	Variant      string            `json:"variant"`
	Author       string            `json:"author"`
	Config       map[string]any    `json:"config"`
	History      []goldenHistory   `json:"history"`
	BaseLayers   int               `json:"base_layers"`
	Layers       []goldenLayerList `json:"layers"`
}

type goldenHistory struct {
	CreatedBy  string `json:"created_by"`
	EmptyLayer bool   `json:"empty_layer"`
}

type goldenLayerList struct {
	CreatedBy string       `json:"created_by"`
	Entries   []layerEntry `json:"entries"`
}

func TestE2ECorpus(t *testing.T) {
	e2eTest(t)
	root := filepath.Join(repoRoot(t), "testdata", "dockerfiles")
	cases := corpusCases(t, root)
	s := newStore(t)
	baseBy := importCorpusBase(t, s, root)
	failed := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range c.needs {
				if failed[n] {
					failed[c.name] = true
					t.Fatalf("case %s: needs case %s, which failed", c.name, n)
				}
			}
			diffs := runCorpusCase(t, s, c, baseBy)
			failed[c.name] = len(diffs) > 0
			reason, known := expectedFailure(c.name)
			switch {
			case known && len(diffs) == 0:
				t.Errorf("case %s passes but is listed as a known failure (%s): remove the entry", c.name, reason)
			case known:
				t.Logf("case %s: known failure (%s):\n  %s", c.name, reason, strings.Join(diffs, "\n  "))
			case len(diffs) > 0:
				t.Errorf("%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

// importCorpusBase writes the busybox rootfs with contrib/golden/mkbusybox.sh and imports it as
// kiln-test/busybox, after checking that the busybox binary is the one the goldens were made with.
// It returns the created_by kiln import gave the base's one history entry.
func importCorpusBase(t *testing.T, s store, root string) string {
	t.Helper()
	var want struct {
		Busybox string `json:"busybox_sha256"`
	}
	data, err := os.ReadFile(filepath.Join(root, "base.json"))
	if err == nil {
		err = json.Unmarshal(data, &want)
	}
	if err != nil {
		t.Fatalf("reading %s/base.json: %v", root, err)
	}
	busybox := os.Getenv("BUSYBOX")
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		skipOrFail(t, "busybox-static not installed (%v): the corpus base image needs it", err)
	}
	if got := sha256Hex(bin); got != want.Busybox {
		skipOrFail(t, "%s has sha256 %s, but the goldens were made with %s (base.json): file checksums would differ", busybox, got, want.Busybox)
	}
	mk := filepath.Join(repoRoot(t), "contrib", "golden", "mkbusybox.sh")
	tarPath := filepath.Join(t.TempDir(), "busybox.tar")
	if out, err := exec.Command("sh", mk, tarPath).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", mk, tarPath, err, out)
	}
	s.mustKiln(t, "import", tarPath, corpusBase)
	archive := filepath.Join(t.TempDir(), "base.tar")
	s.mustKiln(t, "save", "-q", "-o", archive, corpusBase)
	img, err := readSavedImage(archive)
	if err != nil {
		t.Fatalf("reading kiln save archive of %s: %v", corpusBase, err)
	}
	if len(img.config.History) != 1 || len(img.layers) != 1 {
		t.Fatalf("%s: %d history entries and %d layers, want 1 and 1", corpusBase, len(img.config.History), len(img.layers))
	}
	return img.config.History[0].CreatedBy
}

// corpusCases reads every case and its case.conf, ordered so a case comes after those it needs.
func corpusCases(t *testing.T, root string) []corpusCase {
	t.Helper()
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*corpusCase{}
	var names []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		c, err := readCaseConf(root, d.Name())
		if err != nil {
			t.Fatal(err)
		}
		byName[c.name] = c
		names = append(names, c.name)
	}
	sort.Strings(names)
	var ordered []corpusCase
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, from string)
	visit = func(name, from string) {
		c, ok := byName[name]
		switch {
		case !ok:
			t.Fatalf("case %s: needs unknown case %s", from, name)
		case state[name] == 1:
			t.Fatalf("case %s: dependency cycle through %s", from, name)
		case state[name] == 2:
			return
		}
		state[name] = 1
		for _, n := range c.needs {
			visit(n, name)
		}
		state[name] = 2
		ordered = append(ordered, *c)
	}
	for _, n := range names {
		visit(n, n)
	}
	return ordered
}

// readCaseConf reads NAME/case.conf (optional): lines of "tag IMAGE", "needs CASE",
// "build-arg K=V", "target STAGE".
func readCaseConf(root, name string) (*corpusCase, error) {
	c := &corpusCase{name: name, dir: filepath.Join(root, name), tag: "kiln-test/case-" + name}
	f, err := os.Open(filepath.Join(c.dir, "case.conf"))
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, _ := strings.Cut(text, " ")
		value = strings.TrimSpace(value)
		switch key {
		case "tag":
			c.tag = value
		case "needs":
			c.needs = append(c.needs, value)
		case "build-arg":
			c.buildArgs = append(c.buildArgs, value)
		case "target":
			c.target = value
		default:
			return nil, fmt.Errorf("%s/case.conf:%d: unknown key %q", c.dir, line, key)
		}
	}
	return c, sc.Err()
}

// runCorpusCase builds one case and returns its differences from the golden, each line starting
// "case NAME: ".
func runCorpusCase(t *testing.T, s store, c corpusCase, baseBy string) []string {
	t.Helper()
	var want golden
	data, err := os.ReadFile(filepath.Join(c.dir, "expected.json"))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		err = dec.Decode(&want)
	}
	if err != nil {
		t.Fatalf("case %s: reading expected.json: %v", c.name, err)
	}
	args := []string{"build", "--format", "docker", "-t", c.tag}
	for _, a := range c.buildArgs {
		args = append(args, "--build-arg", a)
	}
	if c.target != "" {
		args = append(args, "--target", c.target)
	}
	r := s.kiln(t, append(args, c.dir)...)
	if r.code != 0 {
		return []string{fmt.Sprintf("case %s: kiln build: exit %d\n%s", c.name, r.code, r.stderr)}
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	validateImage(t, s, c.tag)
	s.mustKiln(t, "save", "--format", "docker-archive", "-q", "-o", archive, c.tag)
	got, err := readSavedImage(archive)
	if err != nil {
		t.Fatalf("case %s: reading kiln save archive: %v", c.name, err)
	}
	d := differ{name: c.name, baseBy: baseBy}
	d.compareImage(got, &want)
	return d.diffs
}

// differ collects the differences of one case.
type differ struct {
	name   string
	baseBy string // created_by of the base image's history entry, as kiln import wrote it
	diffs  []string
}

func (d *differ) addf(format string, args ...any) {
	d.diffs = append(d.diffs, fmt.Sprintf("case %s: ", d.name)+fmt.Sprintf(format, args...))
}

// compareImage compares everything the golden records.
func (d *differ) compareImage(got *savedImage, want *golden) {
	for _, f := range []struct{ name, got, want string }{
		{"architecture", got.config.Architecture, want.Architecture},
		{"os", got.config.OS, want.OS},
		{"variant", got.config.Variant, want.Variant},
		{"author", got.config.Author, want.Author},
	} {
		if f.got != f.want {
			d.addf("%s: got %q want %q", f.name, f.got, f.want)
		}
	}
	d.compareConfig(got.config.Config, want.Config)
	d.compareHistory(got, want)
}

// compareConfig compares the config objects field by field, nothing normalized: a field that
// is null differs from one that is absent.
func (d *differ) compareConfig(got, want map[string]any) {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if g, w := configField(got, k), configField(want, k); g != w {
			d.addf("config.%s: got %s want %s", k, g, w)
		}
	}
}

// configField is a config field as JSON, "(absent)" when the object lacks it.
func configField(cfg map[string]any, key string) string {
	v, ok := cfg[key]
	if !ok {
		return "(absent)"
	}
	return jsonOf(v)
}

// compareHistory compares the history and, step by step, the layers above the base. A step whose
// golden layer is empty may have no layer in kiln's image (empty_layer true): dockerd 20.10's
// BuildKit exports empty layers, a current one drops them (README, empty-run).
func (d *differ) compareHistory(got *savedImage, want *golden) {
	gotLayers, err := got.layersByStep()
	if err != nil {
		d.addf("%v", err)
		return
	}
	var gotBy, wantBy []string
	for _, h := range got.config.History {
		gotBy = append(gotBy, h.CreatedBy)
	}
	for i := range want.History {
		// docker import leaves created_by empty; the base here is kiln import's, with its own.
		if want.History[i].CreatedBy == "" {
			want.History[i].CreatedBy = d.baseBy
		}
		wantBy = append(wantBy, want.History[i].CreatedBy)
	}
	if len(gotBy) != len(wantBy) {
		d.addf("history created_by: got %d entries want %d:\n    got  %s\n    want %s", len(gotBy), len(wantBy),
			strings.Join(quoteAll(gotBy), "\n         "), strings.Join(quoteAll(wantBy), "\n         "))
		return
	}
	lower := newTree()
	wantLayer := -want.BaseLayers
	for i, h := range want.History {
		if gotBy[i] != h.CreatedBy {
			d.addf("history[%d].created_by: got %q want %q", i, gotBy[i], h.CreatedBy)
		}
		g := gotLayers[i]
		if h.EmptyLayer {
			if g != nil {
				d.addf("history[%d] %q: got a layer, want empty_layer", i, h.CreatedBy)
			}
			continue
		}
		var w *goldenLayerList
		if wantLayer >= 0 && wantLayer < len(want.Layers) {
			w = &want.Layers[wantLayer]
		}
		wantLayer++
		switch {
		case g == nil && w != nil && len(w.Entries) == 0:
			continue // an empty layer dropped (see above)
		case g == nil:
			d.addf("history[%d] %q: got empty_layer, want a layer", i, h.CreatedBy)
			continue
		case w != nil:
			d.compareLayer(i, h.CreatedBy, g, w.Entries, lower)
		}
		lower.apply(g)
	}
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return q
}
