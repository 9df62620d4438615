// Command kiln is a daemonless, rootless container image builder.
//
// This package only parses flags, wires the library packages together and
// prints results; every subcommand lives in its own file and registers itself
// with register.
package main

import (
	"os"

	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// Set by the Makefile through -ldflags.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	// A re-executed sandbox init never reaches the CLI.
	exec.MaybeInit()
	if storage.MaybeReexec() {
		return
	}
	os.Exit(run(os.Args[1:]))
}
