package main

// The cases of TestE2EAdversarial (e2e_adversarial_test.go), in groups.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// up climbs far enough that, followed on the host, a link would reach "/".
const up = "../../../../../../../../../../.."

// link plants a symlink in the case's context.
func link(name, to string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		p := filepath.Join(e.ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(e.expand(to), p); err != nil {
			t.Fatal(err)
		}
	}
}

// links plants several.
func links(pairs ...string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		for i := 0; i+1 < len(pairs); i += 2 {
			link(pairs[i], pairs[i+1])(t, e)
		}
	}
}

// wantLink checks that the image holds name as a symlink to target.
func wantLink(name, target string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		out := filepath.Join(e.work, "fs.tar")
		e.s.mustKiln(t, "export", "-o", out, e.tag)
		got := listingOf(t, out)[name]
		defer os.Remove(out)
		if !strings.HasPrefix(got, "2 ") || !strings.HasSuffix(got, " "+e.expand(target)) {
			t.Errorf("%s in the image is %q, want a symlink to %s", name, got, e.expand(target))
		}
	}
}

// wantFile checks that the image holds name (in the image, {{C}} expanded) with body.
func wantFile(name, body string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		if got := exportFile(t, e.s, e.tag, strings.TrimPrefix(e.expand(name), "/")); got != body {
			t.Errorf("%s in the image = %q, want %q", e.expand(name), got, body)
		}
	}
}

func advContextCases() []advCase {
	return []advCase{
		{name: "context/link-abs-to-canary", dockerfile: "FROM busybox\nCOPY link /x\n",
			prep: link("link", "{{C}}/token"), want: mustFail, names: []string{"link", "token"}},
		{name: "context/link-dotdot-to-canary", dockerfile: "FROM busybox\nCOPY link /x\n",
			prep: link("link", up+"{{C}}/token"), want: mustFail, names: []string{"link", "token"}},
		{name: "context/link-to-home-ssh", dockerfile: "FROM busybox\nCOPY link /x\n",
			prep: link("link", "{{H}}/.ssh/id_rsa"), want: mustFail, names: []string{"link", "id_rsa"}},
		{name: "context/dir-of-escaping-links", dockerfile: "FROM busybox\nCOPY dir /d\n",
			prep: links("dir/abs", "{{C}}/token", "dir/rel", up+"{{C}}/token", "dir/ssh", "{{H}}/.ssh",
				"dir/up", "../..", "dir/canary", "{{C}}"),
			want: mustSucceed, check: func(t *testing.T, e *advEnv) {
				wantLink("d/abs", "{{C}}/token")(t, e)
				wantLink("d/rel", up+"{{C}}/token")(t, e)
				wantLink("d/up", "../..")(t, e)
				wantLink("d/canary", "{{C}}")(t, e)
			}},
		{name: "context/copy-dot-keeps-links", dockerfile: "FROM busybox\nCOPY . /src/\n",
			prep: links("abs", "{{C}}", "rel", up+"{{C}}/token"), want: mustSucceed,
			check: wantLink("src/abs", "{{C}}")},
		{name: "context/through-linked-dir", dockerfile: "FROM busybox\nCOPY linkdir/token /x\n",
			prep: link("linkdir", "{{C}}"), want: mustFail, names: []string{"linkdir", "token"}},
		{name: "context/glob-through-linked-dir", dockerfile: "FROM busybox\nCOPY linkdir/* /x/\n",
			prep: link("linkdir", "{{C}}"), want: mustFail, names: []string{"linkdir"}},
		{name: "context/add-linked-dir", dockerfile: "FROM busybox\nADD linkdir /x/\n",
			prep: link("linkdir", up+"{{C}}"), want: mustFail, names: []string{"linkdir"}},
	}
}

func advDestCases() []advCase {
	files := map[string]string{"f": "payload\n"}
	return []advCase{
		{name: "dest/planted-abs-dir", files: files, dockerfile: "FROM busybox\nRUN ln -s {{C}} /evil\nCOPY f /evil/x\n",
			want: mustSucceed, check: wantFile("{{C}}/x", "payload\n")},
		{name: "dest/planted-rel-dir", files: files, dockerfile: "FROM busybox\nRUN ln -s " + up + "{{C}} /evil\nCOPY f /evil/x\n",
			want: mustSucceed, check: wantFile("{{C}}/x", "payload\n")},
		{name: "dest/planted-file", files: files, dockerfile: "FROM busybox\nRUN ln -s {{C}}/token /evil\nCOPY f /evil\n",
			want: mustSucceed, names: []string{"evil"}},
		{name: "dest/planted-nested", files: files,
			dockerfile: "FROM busybox\nRUN mkdir /a && ln -s " + up + "{{C}}/sub /a/b\nCOPY f /a/b/c/d\n",
			want:       mustSucceed, check: wantFile("{{C}}/sub/c/d", "payload\n")},
		{name: "dest/workdir-through-link", files: files,
			dockerfile: "FROM busybox\nRUN ln -s {{C}} /evil\nWORKDIR /evil/w\nCOPY f .\nRUN touch made\n",
			want:       mustSucceed, check: wantFile("{{C}}/w/f", "payload\n")},
		{name: "dest/chown-through-link", files: files,
			dockerfile: "FROM busybox\nRUN ln -s {{C}} /evil\nCOPY --chown=1:1 f /evil/sub/x\n",
			want:       mustSucceed, check: wantFile("{{C}}/sub/x", "payload\n")},
		{name: "dest/add-tar-through-link", dockerfile: "FROM busybox\nRUN ln -s {{C}} /evil\nADD a.tar /evil/\n",
			prep: ctxTar("a.tar", regEnt("pwn", "payload\n"), regEnt("token", "overwritten\n")),
			want: mustSucceed, check: wantFile("{{C}}/pwn", "payload\n")},
		{name: "dest/from-stage-through-link",
			dockerfile: "FROM busybox AS a\nRUN ln -s {{C}} /evil\nFROM busybox\nCOPY --from=a /evil/token /x\n",
			want:       mustFail, names: []string{"evil", "token"}},
		{name: "dest/from-stage-link-itself",
			dockerfile: "FROM busybox AS a\nRUN ln -s {{C}} /evil\nFROM busybox\nCOPY --from=a /evil/ /x/\n",
			want:       mustFail, names: []string{"evil"}},
	}
}

// ctxTar writes a crafted tar into the context; entry names and links may use {{C}}.
func ctxTar(name string, entries ...entry) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		writeFile(t, e.ctx, name, tarOf(t, e.expandAll(entries)...))
	}
}

func (e *advEnv) expandAll(entries []entry) []entry {
	out := make([]entry, len(entries))
	for i, en := range entries {
		en.name, en.link = e.expand(en.name), e.expand(en.link)
		out[i] = en
	}
	return out
}

// trickTars are the tar tricks ADD and import both meet.
// addFails and importFails say which the suite saw refused (the rest are confined).
var trickTars = []struct {
	name                  string
	entries               []entry
	addFails, importFails bool
}{
	{"dotdot-names", []entry{regEnt(up+"{{C}}/pwn", "x\n"), regEnt("../token", "x\n")}, false, true},
	{"absolute-names", []entry{regEnt("{{C}}/pwn", "x\n"), regEnt("{{C}}/token", "x\n")}, false, false},
	{"hardlink-abs", []entry{hardlink("h", "{{C}}/token")}, true, true},
	{"hardlink-dotdot", []entry{hardlink("h", up+"{{C}}/token")}, true, true},
	{"symlink-then-write", []entry{symlink("evil", "{{C}}"), regEnt("evil/pwn", "x\n"), regEnt("evil/token", "x\n")}, false, true},
	{"symlink-rel-then-write", []entry{symlink("evil", up+"{{C}}"), regEnt("evil/token", "x\n")}, false, true},
	{"symlink-then-hardlink", []entry{symlink("evil", "{{C}}"), hardlink("h", "evil/token")}, true, true},
	{"symlink-then-dir", []entry{symlink("evil", "{{C}}"), dirEntry("evil/newdir/"), regEnt("evil/newdir/f", "x\n")}, false, true},
	{"file-over-own-symlink", []entry{symlink("f", "{{C}}/token"), regEnt("f", "x\n")}, false, true},
	{"whiteout-through-symlink", []entry{symlink("evil", "{{C}}"), regEnt("evil/.wh.token", ""), regEnt("evil/.wh..wh..opq", "")}, true, true},
}

// outcomeOf is mustFail or mustSucceed.
func outcomeOf(fails bool) outcome {
	if fails {
		return mustFail
	}
	return mustSucceed
}

func advAddTarCases() []advCase {
	var cases []advCase
	for _, tt := range trickTars {
		cases = append(cases, advCase{name: "add/" + tt.name, dockerfile: "FROM busybox\nADD a.tar /d/\nRUN ls -lR /d\n",
			prep: ctxTar("a.tar", tt.entries...), want: outcomeOf(tt.addFails), names: []string{"a.tar"}})
	}
	return append(cases, advCase{name: "add/gzip-bomb", dockerfile: "FROM busybox\nADD bomb.tar.gz /d/\n",
		prep: func(t *testing.T, e *advEnv) { writeFile(t, e.ctx, "bomb.tar.gz", gzipBomb(t)) },
		want: mustFail, names: []string{"decompression limit"}})
}

func advImportCases() []advCase {
	var cases []advCase
	for _, tt := range trickTars {
		entries := tt.entries
		cases = append(cases, advCase{name: "import/" + tt.name, want: outcomeOf(tt.importFails), names: []string{"layer.tar"},
			cmd: func(t *testing.T, e *advEnv) []string {
				p := writeFile(t, e.work, "layer.tar", tarOf(t, e.expandAll(entries)...))
				return []string{"import", p, e.tag}
			}})
	}
	for name, entries := range map[string][]entry{
		"invalid-whiteout-names": {regEnt(".wh.", ""), regEnt("a/.wh..", ""), regEnt(".wh...", ""), regEnt(".wh.../x", "")},
		"opaque-at-root":         {regEnt(".wh..wh..opq", ""), regEnt(".wh.etc", "")},
	} {
		entries := entries
		cases = append(cases, advCase{name: "import/" + name, want: outcomeOf(name == "invalid-whiteout-names"), names: []string{"layer.tar", ".wh."},
			cmd: func(t *testing.T, e *advEnv) []string {
				return []string{"import", writeFile(t, e.work, "layer.tar", tarOf(t, entries...)), e.tag}
			}})
	}
	return cases
}
