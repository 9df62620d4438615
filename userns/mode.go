package userns

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mode is how kiln gets the ids it needs: decided once, by [Detect] in the
// parent, and read back by [CurrentMode] in the child.
type Mode int

const (
	// ModeNone is an unprivileged process that has not entered a namespace.
	ModeNone Mode = iota
	// ModeRoot is euid 0 in the initial user namespace: no namespace needed.
	ModeRoot
	// ModeSubIDs maps container id 0 to the user's own id and container ids
	// from 1 on to the user's /etc/subuid and /etc/subgid ranges, through
	// newuidmap and newgidmap.
	ModeSubIDs
	// ModeSingle maps container id 0 to the user's own uid and gid, and
	// nothing else: files of other owners cannot be created for real.
	ModeSingle
)

var modeNames = [...]string{ModeNone: "none", ModeRoot: "root", ModeSubIDs: "subids", ModeSingle: "single"}

// String returns "none", "root", "subids" or "single", the value of
// KILN_USERNS_MODE and what kiln info reports.
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// parseMode is the inverse of String.
func parseMode(s string) (Mode, bool) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), true
		}
	}
	return ModeNone, false
}

// CurrentMode returns the mode of the running process: in a child started
// by [Enter] the one its parent chose; as root the one its namespace
// implies; [ModeNone] for an unprivileged process outside any namespace.
func CurrentMode() Mode {
	if m, ok := parseMode(os.Getenv(envMode)); ok {
		return m
	}
	if os.Geteuid() != 0 {
		return ModeNone
	}
	m, err := namespaceMode()
	if err != nil {
		return ModeNone
	}
	return m
}

// Detect returns the mode [Enter] uses for this process. It reads
// /etc/subuid and /etc/subgid, and fails if they are malformed.
func Detect() (Mode, error) {
	p, err := detect()
	return p.mode, err
}

// plan is what the parent needs to start the child.
type plan struct {
	mode             Mode
	uid, gid         uint32
	uidMaps, gidMaps []specs.LinuxIDMapping
	why              string // why ModeSingle was chosen
}

func detect() (plan, error) {
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		m, err := namespaceMode()
		return plan{mode: m}, err
	}
	p := plan{uid: uint32(uid), gid: uint32(gid)}
	name, who := "", strconv.Itoa(uid)
	if u, err := user.LookupId(who); err == nil {
		name, who = u.Username, u.Username
	}
	uidRanges, err := readSubIDs("/etc/subuid", name, uid)
	if err != nil {
		return p, err
	}
	gidRanges, err := readSubIDs("/etc/subgid", name, uid)
	if err != nil {
		return p, err
	}
	_, errU := lookupHelper("newuidmap", helperDirs)
	_, errG := lookupHelper("newgidmap", helperDirs)
	switch {
	case len(uidRanges) == 0:
		p.why = "no /etc/subuid range for " + who
	case len(gidRanges) == 0:
		p.why = "no /etc/subgid range for " + who
	case errU != nil || errG != nil:
		p.why = "newuidmap/newgidmap not found (install uidmap)"
	default:
		p.mode = ModeSubIDs
		p.uidMaps, p.gidMaps = Mappings(p.uid, uidRanges), Mappings(p.gid, gidRanges)
		return p, nil
	}
	p.mode = ModeSingle
	p.uidMaps, p.gidMaps = Mappings(p.uid, nil), Mappings(p.gid, nil)
	return p, nil
}

// warning is the line printed in ModeSingle.
func (p plan) warning() string {
	return "kiln: warning: " + p.why + "; running with a single-id mapping, other owners are recorded in layer metadata only"
}

// namespaceMode tells the mode of a root process from its uid_map.
func namespaceMode() (Mode, error) {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return ModeNone, fmt.Errorf("reading the uid map: %w", err)
	}
	return modeFromUIDMap(string(data))
}

// modeFromUIDMap classifies the contents of /proc/self/uid_map: the identity
// map of all ids is the initial namespace, one mapped id is ModeSingle, and
// more is ModeSubIDs.
func modeFromUIDMap(data string) (Mode, error) {
	var total uint64
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return ModeNone, fmt.Errorf("parsing uid map line %q: want 3 fields", sc.Text())
		}
		size, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return ModeNone, fmt.Errorf("parsing uid map line %q: %w", sc.Text(), err)
		}
		if lines++; lines == 1 && f[0] == "0" && f[1] == "0" && size == 4294967295 {
			return ModeRoot, nil
		}
		total += size
	}
	switch {
	case total == 0:
		return ModeNone, nil
	case total == 1:
		return ModeSingle, nil
	}
	return ModeSubIDs, nil
}
