// Command kiln-init is the sandbox init alone: what a RUN step's process starts as before it
// executes the step's command. kiln embeds it (make builds it into exec/initbin/kiln-init first)
// and executes it from a sealed memfd, because starting this small binary takes about a
// millisecond where re-executing all of kiln takes five, on every step.
package main

import (
	"fmt"
	"os"

	"github.com/kiln-build/kiln/exec"
)

func main() {
	exec.MaybeInit()
	fmt.Fprintln(os.Stderr, "kiln-init: run by kiln only")
	os.Exit(2)
}
