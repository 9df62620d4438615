package exec

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultCapabilities are the capabilities of a step that runs as root: the
// default set of podman and buildah (containers.conf), which is docker's
// without MKNOD, NET_RAW and AUDIT_WRITE.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

// ErrUnknownCapability is wrapped when --cap-add or --cap-drop names no
// capability.
var ErrUnknownCapability = errors.New("unknown capability")

// capabilityByName maps "CAP_CHOWN" to its number.
func capabilityByName() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}

// normalizeCap turns "chown", "CHOWN" or "cap_chown" into "CAP_CHOWN" and
// checks that it exists; "ALL" stays "ALL".
func normalizeCap(name string, known map[string]capability.Cap) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "ALL" {
		return n, nil
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if _, ok := known[n]; !ok {
		return "", fmt.Errorf("capability %q: %w", name, ErrUnknownCapability)
	}
	return n, nil
}

// Capabilities returns the capability set of a root step: the defaults with
// add and drop applied as docker applies --cap-add and --cap-drop (drop
// first, so "--cap-drop ALL --cap-add CHOWN" keeps CHOWN alone). Names may
// omit "CAP_" and are case-insensitive; "ALL" is every capability.
func Capabilities(add, drop []string) ([]string, error) {
	known := capabilityByName()
	norm := func(names []string) ([]string, error) {
		var out []string
		for _, n := range names {
			c, err := normalizeCap(n, known)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	add, err := norm(add)
	if err != nil {
		return nil, fmt.Errorf("--cap-add: %w", err)
	}
	drop, err = norm(drop)
	if err != nil {
		return nil, fmt.Errorf("--cap-drop: %w", err)
	}
	set := slices.Clone(DefaultCapabilities)
	if slices.Contains(drop, "ALL") {
		set = nil
	}
	set = slices.DeleteFunc(set, func(c string) bool { return slices.Contains(drop, c) })
	if slices.Contains(add, "ALL") {
		set = set[:0]
		for name := range known {
			set = append(set, name)
		}
	}
	for _, c := range add {
		if c != "ALL" && !slices.Contains(set, c) {
			set = append(set, c)
		}
	}
	slices.Sort(set)
	return set, nil
}

// processCapabilities is the spec's capability section for a step running
// as uid with the capability set caps: root has them effective and
// permitted; any other user keeps them only in the bounding set, so that
// nothing but a file capability could raise them (and no_new_privs stops
// that). Inheritable and ambient are empty, as in docker.
func processCapabilities(caps []string, uid uint32) *specs.LinuxCapabilities {
	c := &specs.LinuxCapabilities{Bounding: slices.Clone(caps)}
	if uid == 0 {
		c.Effective, c.Permitted = slices.Clone(caps), slices.Clone(caps)
	}
	return c
}

// dropBounding limits the bounding set of the init to the spec's; it runs
// while the init still has CAP_SETPCAP, before it changes its user.
func dropBounding(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	caps, err := capabilityState(c)
	if err != nil {
		return err
	}
	if err := caps.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("dropping capabilities from the bounding set: %w", err)
	}
	return nil
}

// applyCapabilities sets the effective, permitted, inheritable and ambient
// sets of the init after it changed its user. For a user other than root
// the kernel already cleared them at setresuid.
func applyCapabilities(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	caps, err := capabilityState(c)
	if err != nil {
		return err
	}
	if err := caps.Apply(capability.CAPS | capability.AMBS); err != nil {
		return fmt.Errorf("setting capabilities: %w", err)
	}
	return nil
}

// capabilityState turns the spec's sets into a capability state of this
// process; capabilities this kernel does not know are left out.
func capabilityState(c *specs.LinuxCapabilities) (capability.Capabilities, error) {
	caps, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	known := capabilityByName()
	sets := []struct {
		which capability.CapType
		names []string
	}{
		{capability.BOUNDING, c.Bounding}, {capability.EFFECTIVE, c.Effective}, {capability.PERMITTED, c.Permitted},
		{capability.INHERITABLE, c.Inheritable}, {capability.AMBIENT, c.Ambient},
	}
	for _, s := range sets {
		caps.Clear(s.which)
		for _, n := range s.names {
			if cp, ok := known[n]; ok && cp <= last {
				caps.Set(s.which, cp)
			}
		}
	}
	return caps, nil
}

// ambientAll lists every capability this kernel knows, for an init that
// starts as a user other than root.
func ambientAll() ([]uintptr, error) {
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("reading capabilities: %w", err)
	}
	caps := make([]uintptr, 0, last+1)
	for c := capability.Cap(0); c <= last; c++ {
		caps = append(caps, uintptr(c))
	}
	return caps, nil
}
