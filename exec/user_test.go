package exec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

const (
	testPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
+nis::::::

app:x:1000:1000:App,,,:/home/app:/bin/sh
nohome:x:1001:1001::
short:x:1002:1002
broken:x:12ab:1000::/home/broken:/bin/sh
tiny:x:5
app:x:2000:2000::/home/second:/bin/sh
`
	testGroup = `root:x:0:
daemon:x:1:
wheel:x:10:root,app
app:x:1000:
staff:x:50: app , other
audio:x:29:app
dup:x:29:app
badgid:x:x:app
nomembers:x:60
`
)

// writeRootfs creates a root filesystem in a temporary directory: files maps
// paths to contents, and a content starting with "-> " makes a symlink to
// the rest, "|fifo" a FIFO.
func writeRootfs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "-> "):
			err = os.Symlink(strings.TrimPrefix(content, "-> "), p)
		case content == "|fifo":
			err = syscall.Mkfifo(p, 0o644)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLookupUser(t *testing.T) {
	t.Parallel()
	std := map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup}
	tests := []struct {
		name  string
		files map[string]string
		spec  string
		want  User
		err   string // substring of the error; "" for none
	}{
		{name: "empty is root", files: std, spec: "", want: User{0, 0, []uint32{10}, "/root"}},
		{name: "root by name", files: std, spec: "root", want: User{0, 0, []uint32{10}, "/root"}},
		{name: "name", files: std, spec: "app", want: User{1000, 1000, []uint32{10, 50, 29}, "/home/app"}},
		{name: "uid with entry", files: std, spec: "1000", want: User{1000, 1000, []uint32{10, 50, 29}, "/home/app"}},
		{name: "uid without entry", files: std, spec: "4242", want: User{4242, 0, nil, "/"}},
		{name: "name:group", files: std, spec: "app:staff", want: User{1000, 50, nil, "/home/app"}},
		{name: "uid:gid", files: std, spec: "1000:50", want: User{1000, 50, nil, "/home/app"}},
		{name: "uid:gid without entries", files: std, spec: "4242:4343", want: User{4242, 4343, nil, "/"}},
		{name: "name:gid", files: std, spec: "daemon:4343", want: User{1, 4343, nil, "/usr/sbin"}},
		{name: "uid:group", files: std, spec: "4242:wheel", want: User{4242, 10, nil, "/"}},
		{name: ":group is root", files: std, spec: ":wheel", want: User{0, 10, nil, "/root"}},
		{name: "empty group ignored", files: std, spec: "app:", want: User{1000, 1000, []uint32{10, 50, 29}, "/home/app"}},
		{name: "uid of a second entry with the same name", files: std, spec: "2000", want: User{2000, 2000, []uint32{10, 50, 29}, "/home/second"}},
		{name: "first entry of a name wins", files: std, spec: "app:0", want: User{1000, 0, nil, "/home/app"}},
		{name: "no home field", files: std, spec: "nohome", want: User{1001, 1001, nil, "/"}},
		{name: "no /etc/group", files: map[string]string{"etc/passwd": testPasswd}, spec: "app", want: User{1000, 1000, nil, "/home/app"}},
		{name: "no /etc/passwd, uid", files: map[string]string{"bin/sh": ""}, spec: "1000", want: User{1000, 0, nil, "/"}},
		{name: "no /etc/passwd, empty", files: map[string]string{"bin/sh": ""}, spec: "", want: User{0, 0, nil, "/"}},
		{name: "no /etc, uid:gid", files: map[string]string{}, spec: "5:6", want: User{5, 6, nil, "/"}},
		{name: "largest uid", files: std, spec: "2147483647", want: User{2147483647, 0, nil, "/"}},

		{name: "unknown name", files: std, spec: "nobody", err: `looking up user "nobody" in /etc/passwd: no such user or group`},
		{name: "no /etc/passwd, name", files: map[string]string{}, spec: "app", err: `looking up user "app" in /etc/passwd`},
		{name: "unknown group", files: std, spec: "app:nogroup", err: `looking up group "nogroup" in /etc/group: no such user or group`},
		{name: "no /etc/group, group name", files: map[string]string{"etc/passwd": testPasswd}, spec: "1:wheel", err: `group "wheel" in /etc/group`},
		{name: "malformed entry", files: std, spec: "broken", err: `looking up user "broken" in /etc/passwd: line 9: invalid uid "12ab"`},
		{name: "short entry", files: std, spec: "tiny", err: `looking up user "tiny" in /etc/passwd: line 10: want name:password:uid:gid`},
		{name: "malformed group", files: std, spec: "short:badgid", err: `looking up group "badgid" in /etc/group: line 8: invalid gid "x"`},
		{name: "negative uid", files: std, spec: "-1", err: "uid -1: out of range"},
		{name: "uid too large", files: std, spec: "2147483648", err: "uid 2147483648: out of range"},
		{name: "huge uid", files: std, spec: "99999999999999999999", err: "out of range"},
		{name: "gid too large", files: std, spec: "0:4294967295", err: "gid 4294967295: out of range"},
		{name: "two colons", files: std, spec: "a:b:c", err: `parsing USER "a:b:c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LookupUser(writeRootfs(t, tt.files), tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("LookupUser(%q) = %+v, %v; want error containing %q", tt.spec, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LookupUser(%q) error = %v", tt.spec, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LookupUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestLookupUserUnknownIs(t *testing.T) {
	t.Parallel()
	_, err := LookupUser(writeRootfs(t, nil), "app")
	if !errors.Is(err, ErrUnknownUser) {
		t.Errorf("LookupUser() error = %v, want ErrUnknownUser", err)
	}
}

// TestLookupUserConfined checks that the files are read as a process
// chrooted to rootfs would read them, whatever symlinks the image holds.
func TestLookupUserConfined(t *testing.T) {
	t.Parallel()
	// A host file the image must never see.
	host := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(host, []byte("app:x:666:666::/host:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inside := "app:x:1000:1000::/inside:/bin/sh\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string // Home of app; "" for an error
		err   string
	}{
		{name: "escaping relative symlink", want: "/inside", files: map[string]string{
			"etc/passwd": "-> /../../etc/shadow", "etc/shadow": inside}},
		{name: "many dot-dots", want: "/inside", files: map[string]string{
			"etc/passwd": "-> ../../../../../../../../../etc/real", "etc/real": inside}},
		{name: "absolute symlink to a host path", err: "no such user", files: map[string]string{
			"etc/passwd": "-> " + host}},
		{name: "absolute symlink to a host path that the image also has", want: "/inside", files: map[string]string{
			"etc/passwd": "-> " + host, strings.TrimPrefix(host, "/"): inside}},
		{name: "symlinked /etc", want: "/inside", files: map[string]string{
			"etc": "-> /usr/etc", "usr/etc/passwd": inside}},
		{name: "symlinked /etc to a host directory", err: "no such user", files: map[string]string{
			"etc": "-> " + filepath.Dir(host)}},
		{name: "chained symlinks", want: "/inside", files: map[string]string{
			"etc/passwd": "-> /a", "a": "-> ../b/../c", "c": inside}},
		{name: "dangling symlink is missing", err: "no such user", files: map[string]string{
			"etc/passwd": "-> /nonexistent"}},
		{name: "symlink loop", err: "/etc/passwd", files: map[string]string{
			"etc/passwd": "-> /etc/passwd"}},
		{name: "FIFO", err: "not a regular file", files: map[string]string{
			"etc/passwd": "|fifo"}},
		{name: "directory", err: "not a regular file", files: map[string]string{
			"etc/passwd/x": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LookupUser(writeRootfs(t, tt.files), "app")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("LookupUser() = %+v, %v; want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got.Home != tt.want || got.UID != 1000 {
				t.Fatalf("LookupUser() = %+v, %v; want uid 1000 home %q", got, err, tt.want)
			}
		})
	}
}

func TestLookupUserBadRoot(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"", file, filepath.Join(file, "missing")} {
		if _, err := LookupUser(root, "0"); err == nil {
			t.Errorf("LookupUser(%q) succeeded", root)
		}
	}
}

func TestParsePasswd(t *testing.T) {
	t.Parallel()
	got, err := parsePasswd(strings.NewReader(testPasswd))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.name)
	}
	wantNames := []string{"root", "daemon", "app", "nohome", "short", "broken", "tiny", "app"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("names = %q, want %q", names, wantNames)
	}
	if e := got[2]; e.line != 6 || e.uid != 1000 || e.gid != 1000 || e.home != "/home/app" || e.err != nil {
		t.Errorf("app = %+v", e)
	}
	for i, e := range got {
		if (e.err != nil) != (i == 5 || i == 6) {
			t.Errorf("entry %+v: only broken and tiny should have an error", e)
		}
	}
	if _, err := parsePasswd(strings.NewReader("a:x:1:1\n" + strings.Repeat("x", 2<<20))); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("overlong line: error = %v, want one naming line 2", err)
	}
}

func TestParseGroup(t *testing.T) {
	t.Parallel()
	got, err := parseGroup(strings.NewReader(testGroup))
	if err != nil {
		t.Fatal(err)
	}
	if e := got[4]; e.name != "staff" || e.gid != 50 || !reflect.DeepEqual(e.members, []string{"app", "other"}) {
		t.Errorf("staff = %+v", e)
	}
	if e := got[7]; e.name != "badgid" || e.err == nil || e.line != 8 {
		t.Errorf("badgid = %+v", e)
	}
	if e := got[8]; e.name != "nomembers" || e.err != nil || e.members != nil {
		t.Errorf("nomembers = %+v", e)
	}
}

func FuzzParsePasswd(f *testing.F) {
	for _, s := range []string{testPasswd, testGroup, "", ":::", "a:x:1:1:::::", "\x00:\xff:1:2", "+\n-\n#\n", "a:x:4294967296:0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := parsePasswd(bytes.NewReader(data))
		if err == nil {
			for _, e := range users {
				if e.name == "" || strings.Contains(e.name, ":") || e.line < 1 || e.err == nil && e.uid > maxID {
					t.Fatalf("bad entry %+v from %q", e, data)
				}
			}
		}
		groups, err := parseGroup(bytes.NewReader(data))
		if err == nil {
			for _, g := range groups {
				if g.name == "" || g.line < 1 || badMembers(g.members) {
					t.Fatalf("bad group %+v from %q", g, data)
				}
			}
		}
	})
}

// badMembers reports whether a member list holds an empty or comma name.
func badMembers(members []string) bool {
	for _, m := range members {
		if m == "" || strings.Contains(m, ",") {
			return true
		}
	}
	return false
}
