package main

// Cases of TestE2EAdversarial where the image's own /etc/resolv.conf, /etc/hosts or /etc is a
// symlink. As runc does for docker, kiln resolves the link inside the step's root and mounts the
// generated file there: the step reads the generated content, the host path the link names is
// never touched, and the mount point, created only for the step, is not left in the layer (as
// BuildKit removes its mount stubs). A link to a directory, a device or itself is refused with an
// error naming the file.

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// etcStepHosts is what build/run.go generates for a step's /etc/hosts.
const etcStepHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tkiln\n"

// etcReadStep reads both files inside the step into the image, for etcSeen to compare.
const etcReadStep = "RUN cat /etc/resolv.conf > /seen-resolv; cat /etc/hosts > /seen-hosts\n"

// etcSeen checks that the step read the generated files and that the image holds nothing at the
// link targets that did not exist before (absent) and the image's own content at those that did.
func etcSeen(absent []string, kept map[string]string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		resolv, _ := os.ReadFile("/etc/resolv.conf")
		out := filepath.Join(e.work, "fs.tar")
		e.s.mustKiln(t, "export", "-o", out, e.tag)
		defer os.Remove(out)
		files := tarFiles(t, out)
		if got := files["seen-resolv"]; got != string(resolv) {
			t.Errorf("the step's /etc/resolv.conf read %q, want the generated %q", got, resolv)
		}
		if got := files["seen-hosts"]; got != etcStepHosts {
			t.Errorf("the step's /etc/hosts read %q, want the generated %q", got, etcStepHosts)
		}
		noStubs(t, files, e, absent)
		for p, want := range kept {
			if got := files[strings.TrimPrefix(e.expand(p), "/")]; got != want {
				t.Errorf("/%s in the image is %q, want the image's own %q", p, got, want)
			}
		}
	}
}

// noStubs checks that none of the paths (mount points a step got, {{C}} expanded) is in files.
func noStubs(t *testing.T, files map[string]string, e *advEnv, paths []string) {
	t.Helper()
	for _, p := range paths {
		p = strings.TrimPrefix(e.expand(p), "/")
		if body, ok := files[p]; ok {
			t.Errorf("the image holds the mount point /%s (%q); it did not exist before the step", p, body)
		}
	}
}

// mountedAt checks that the step wrote want to /x and left no mount point behind at the paths.
func mountedAt(want string, paths ...string) func(t *testing.T, e *advEnv) {
	return func(t *testing.T, e *advEnv) {
		t.Helper()
		out := filepath.Join(e.work, "fs.tar")
		e.s.mustKiln(t, "export", "-o", out, e.tag)
		defer os.Remove(out)
		files := tarFiles(t, out)
		if files["x"] != want {
			t.Errorf("/x in the image = %q, want %q", files["x"], want)
		}
		noStubs(t, files, e, paths)
	}
}

// tarFiles maps every entry of a tar file to its content (empty for all but regular files).
func tarFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		body, _ := io.ReadAll(tr)
		m[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = string(body)
	}
}

// etcLinkImage imports busybox with /etc replaced by a symlink to the canary directory, as the
// image etclink.
func etcLinkImage(t *testing.T, e *advEnv) {
	t.Helper()
	data, err := os.ReadFile(baseImage(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if name == "etc" || name == "etc/" || strings.HasPrefix(name, "etc/") {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "etc", Linkname: e.canary, Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	e.s.mustKiln(t, "import", "--change", `CMD ["sh"]`, writeFile(t, e.work, "etclink.tar", buf.Bytes()), "etclink")
}

func advEtcLinkCases() []advCase {
	copyEtc := "FROM busybox\nCOPY etc/ /etc/\n"
	resolv, _ := os.ReadFile("/etc/resolv.conf")
	return []advCase{
		// The mounted file cannot be replaced by a link or written from inside the step.
		{name: "etc/resolv-conf-relink-in-step", want: mustSucceed, check: wantFile("/r", string(resolv)),
			dockerfile: "FROM busybox\nRUN ln -sf {{C}}/token /etc/resolv.conf; echo x > /etc/resolv.conf; cat /etc/resolv.conf > /r\n"},
		{name: "etc/resolv-conf-link", prep: link("etc/resolv.conf", "{{C}}/token"), want: mustSucceed,
			dockerfile: copyEtc + etcReadStep + "RUN echo x > /etc/resolv.conf; true\n",
			check:      etcSeen([]string{"{{C}}/token", "{{C}}"}, nil)},
		{name: "etc/hosts-link", prep: link("etc/hosts", "{{C}}/token"), want: mustSucceed,
			dockerfile: copyEtc + etcReadStep + "RUN echo x > /etc/hosts; true\n",
			check:      etcSeen([]string{"{{C}}/token", "{{C}}"}, nil)},
		{name: "etc/resolv-conf-rel-link", prep: links("etc/resolv.conf", up+"{{C}}/token", "etc/hosts", "../../../../tmp/canary"),
			want: mustSucceed, dockerfile: copyEtc + etcReadStep,
			check: etcSeen([]string{"{{C}}/token", "{{C}}", "tmp/canary"}, nil)},
		{name: "etc/resolv-conf-link-existing", prep: link("etc/resolv.conf", "/etc/shadow-canary"),
			files: map[string]string{"etc/shadow-canary": "image-own\n"}, want: mustSucceed,
			dockerfile: copyEtc + etcReadStep, check: etcSeen(nil, map[string]string{"etc/shadow-canary": "image-own\n"})},
		{name: "etc/resolv-conf-dangling-chain", prep: links("etc/resolv.conf", "/opt/a/resolv", "opt/a", "/srv/deep/er"),
			want: mustSucceed, dockerfile: "FROM busybox\nCOPY etc/ /etc/\nCOPY opt/ /opt/\n" + etcReadStep,
			check: etcSeen([]string{"srv/deep/er/resolv", "srv/deep", "srv"}, nil)},
		{name: "etc/etc-is-link", prep: etcLinkImage, want: mustSucceed,
			dockerfile: "FROM etclink\n" + etcReadStep,
			check:      etcSeen([]string{"{{C}}/resolv.conf", "{{C}}/hosts", "{{C}}"}, nil)},
		{name: "etc/resolv-conf-loop", prep: links("etc/resolv.conf", "/etc/loop", "etc/loop", "/etc/resolv.conf"),
			want: mustFail, names: []string{"/etc/resolv.conf"}, dockerfile: copyEtc + etcReadStep},
		{name: "etc/resolv-conf-dir-link", prep: link("etc/resolv.conf", "{{C}}"), want: mustFail,
			names:      []string{"/etc/resolv.conf"},
			dockerfile: "FROM busybox\nRUN mkdir -p {{C}}\nCOPY etc/ /etc/\nRUN ls /etc/resolv.conf/ > /r\n"},
		{name: "etc/hosts-device-link", prep: link("etc/hosts", "/dev/null"), want: mustFail,
			names: []string{"/etc/hosts"}, dockerfile: copyEtc + etcReadStep},
	}
}
