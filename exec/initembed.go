//go:build !kilninit

package exec

import "embed"

// initFS holds kiln-init when make built it before kiln (exec/initbin/kiln-init); a kiln built
// without it re-executes itself as the sandbox init instead. kiln-init itself is built with the
// kilninit tag and embeds nothing.
//
//go:embed initbin
var initFS embed.FS

func embeddedInit() []byte {
	b, _ := initFS.ReadFile("initbin/kiln-init")
	return b
}
