package userns

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestModeString(t *testing.T) {
	t.Parallel()
	for m, want := range map[Mode]string{ModeNone: "none", ModeRoot: "root", ModeSubIDs: "subids", ModeSingle: "single", Mode(9): "Mode(9)", Mode(-1): "Mode(-1)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
		if back, ok := parseMode(want); ok != (m >= ModeNone && m <= ModeSingle) || ok && back != m {
			t.Errorf("parseMode(%q) = %v, %t", want, back, ok)
		}
	}
}

func TestModeFromUIDMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     Mode
		err      bool
	}{
		{name: "initial namespace", in: "         0          0 4294967295\n", want: ModeRoot},
		{name: "single", in: "         0       1000          1\n", want: ModeSingle},
		{name: "subids", in: "         0       1000          1\n         1     100000      65536\n", want: ModeSubIDs},
		{name: "one large range", in: "0 100000 65536\n", want: ModeSubIDs},
		{name: "partial identity", in: "0 0 1000\n", want: ModeSubIDs},
		{name: "unmapped", in: "", want: ModeNone},
		{name: "two fields", in: "0 0\n", err: true},
		{name: "bad size", in: "0 0 x\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := modeFromUIDMap(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("modeFromUIDMap(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestPlanEnv(t *testing.T) {
	t.Parallel()
	p := plan{mode: ModeSubIDs, uid: 1000, gid: 1001}
	base := []string{"PATH=/bin", "_CONTAINERS_USERNS_CONFIGURED=old", "KILN_USERNS_MODE=root", "_KILN_USERNS_SYNC_FD=9", "HOME=/home/a"}
	want := []string{"PATH=/bin", "HOME=/home/a",
		"_CONTAINERS_USERNS_CONFIGURED=done", "_CONTAINERS_ROOTLESS_UID=1000", "_CONTAINERS_ROOTLESS_GID=1001",
		"KILN_USERNS_MODE=subids", "_KILN_USERNS_CHILD=77"}
	if got := p.env(base, 77); !reflect.DeepEqual(got, want) {
		t.Errorf("env() = %q, want %q", got, want)
	}
}

func TestPlanWarning(t *testing.T) {
	t.Parallel()
	p := plan{mode: ModeSingle, why: "no /etc/subuid range for alice",
		uidMaps: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}}
	want := "kiln: warning: no /etc/subuid range for alice; running with a single-id mapping, other owners are recorded in layer metadata only"
	if got := p.warning(); got != want {
		t.Errorf("warning() = %q, want %q", got, want)
	}
}
