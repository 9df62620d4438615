package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of this command to $KILN_CPUPROFILE when it is set, for
// finding where a build's time goes (contrib/bench/README.md). It is taken in the process that
// runs the command, inside the user namespace when rootless; the returned func stops it.
func startProfile() func() {
	path := os.Getenv("KILN_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kiln: warning: cpu profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "kiln: warning: cpu profile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
