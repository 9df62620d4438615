package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/exec"
)

// securityFlags are build's --security-opt, --cap-add and --cap-drop, as in
// docker, podman and buildah.
type securityFlags struct {
	opts, capAdd, capDrop []string
}

func (f *securityFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.opts, "security-opt", nil, "seccomp=unconfined or seccomp=PROFILE.json for RUN steps (repeatable)")
	fl.StringSliceVar(&f.capAdd, "cap-add", nil, "add a capability to RUN steps' default set (ALL for every one)")
	fl.StringSliceVar(&f.capDrop, "cap-drop", nil, "drop a capability from RUN steps' default set (ALL for every one)")
}

// options parses the flags, reads a profile file and checks both, so a bad
// value fails before the build starts.
func (f *securityFlags) options() (exec.Security, error) {
	s := exec.Security{CapAdd: f.capAdd, CapDrop: f.capDrop}
	for _, o := range f.opts {
		if o == "no-new-privileges" || o == "no-new-privileges=true" || o == "no-new-privileges:true" {
			continue // steps always run with no_new_privs
		}
		key, val, ok := strings.Cut(o, "=")
		if !ok {
			key, val, ok = strings.Cut(o, ":") // docker's older form
		}
		switch {
		case !ok:
			return s, fmt.Errorf("--security-opt %q: want seccomp=unconfined or seccomp=PROFILE.json", o)
		case key != "seccomp":
			return s, fmt.Errorf("--security-opt %q: only seccomp= is supported", o)
		case val == "unconfined":
			s.SeccompUnconfined, s.SeccompProfile = true, nil
		default:
			data, err := os.ReadFile(val)
			if err != nil {
				return s, fmt.Errorf("--security-opt seccomp: reading profile: %w", err)
			}
			s.SeccompUnconfined, s.SeccompProfile = false, data
		}
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("build security options: %w", err)
	}
	return s, nil
}
