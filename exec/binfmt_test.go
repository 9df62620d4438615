package exec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// qemuAarch64 is qemu-user-static's aarch64 entry as binfmt_misc shows it.
const qemuAarch64 = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: %s\noffset 0\n" +
	"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"

// fakeBinfmt writes a binfmt_misc look-alike: status and the named entries.
func fakeBinfmt(t *testing.T, status string, entries map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if status != "" {
		entries["status"] = status
	}
	entries["register"] = ""
	for name, body := range entries {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheckEmulator(t *testing.T) {
	t.Parallel()
	withFlags := func(f string) string { return strings.Replace(qemuAarch64, "%s", f, 1) }
	cases := []struct {
		name, status string
		entries      map[string]string
		arch, want   string // want is "" for success, else a part of the error
	}{
		{"registered with F", "enabled\n", map[string]string{"qemu-aarch64": withFlags("PF")}, "arm64", ""},
		{"no entry", "enabled\n", map[string]string{}, "arm64", "apt-get install qemu-user-static"},
		{"without F", "enabled\n", map[string]string{"qemu-aarch64": withFlags("P")}, "arm64", "lacks the F flag"},
		{"entry disabled", "enabled\n", map[string]string{"qemu-aarch64": strings.Replace(withFlags("F"), "enabled", "disabled", 1)}, "arm64", "no enabled binfmt_misc entry"},
		{"binfmt_misc disabled", "disabled\n", map[string]string{"qemu-aarch64": withFlags("F")}, "arm64", "binfmt_misc is disabled"},
		{"not mounted", "", map[string]string{}, "arm64", "not mounted"},
		{"other arch's entry", "enabled\n", map[string]string{"qemu-aarch64": withFlags("F")}, "riscv64", "kiln binfmt --install riscv64"},
		{"unknown arch", "enabled\n", map[string]string{}, "vax", "no ELF header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := checkEmulator(fakeBinfmt(t, c.status, c.entries), c.arch)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("want success, got %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("want an error with %q, got success", c.want)
			case c.want != "" && (!strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrNoEmulator)):
				t.Fatalf("error %q: want %q and ErrNoEmulator", err, c.want)
			}
		})
	}
}

// TestELFHeaderMatchesQemu checks each header against qemu-user-static's own magic and mask.
func TestELFHeaderMatchesQemu(t *testing.T) {
	t.Parallel()
	entries := map[string]string{ // from /usr/lib/binfmt.d/qemu-*.conf
		"arm64":   "7f454c460201010000000000000000000200b700:ffffffffffffff00fffffffffffffffffeffffff",
		"arm":     "7f454c4601010100000000000000000002002800:ffffffffffffff00fffffffffffffffffeffffff",
		"riscv64": "7f454c460201010000000000000000000200f300:ffffffffffffff00fffffffffffffffffeffffff",
		"s390x":   "7f454c4602020100000000000000000000020016:fffffffffffffffcfffffffffffffffffffeffff",
	}
	for arch, mm := range entries {
		magic, mask, _ := strings.Cut(mm, ":")
		path := filepath.Join(t.TempDir(), "qemu")
		body := "enabled\nflags: F\noffset 0\nmagic " + magic + "\nmask " + mask + "\n"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := readBinfmtEntry(path)
		if err != nil {
			t.Fatal(err)
		}
		for other, h := range elfHeaders {
			if got := e.matches(h.bytes()); got != (other == arch) {
				t.Errorf("%s entry matches %s header: %v", arch, other, got)
			}
		}
	}
}

func TestEmulatorLines(t *testing.T) {
	t.Parallel()
	got, err := withFixBinary(":qemu-aarch64:M::\\x7f\\x45:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OP")
	if err != nil || !strings.HasSuffix(got, ":OPF") {
		t.Errorf("withFixBinary: %q, %v", got, err)
	}
	if _, err := withFixBinary(":short:M"); err == nil {
		t.Error("withFixBinary of a short line: no error")
	}
	got, err = binfmtSupportLine("qemu-aarch64", "package qemu-user-static\ninterpreter /q\nmagic \\x7f\noffset 0\nmask \\xff\ncredentials no\npreserve yes\n")
	if err != nil || got != ":qemu-aarch64:M:0:\\x7f:\\xff:/q:FP" {
		t.Errorf("binfmtSupportLine: %q, %v", got, err)
	}
}
