package instructions

import (
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// ARG changes no image config, so Apply returns false for it: the executor
// resolves each ARG's value (--build-arg, else the default expanded with the
// stage's variables, else the global ARG of that name) and passes it to later
// steps as a build-time variable. The values never reach Config.Env; RUN's
// history text carries them (see CreatedBy).

// argCreatedBy is BuildKit's history text, "ARG A=1 B"; the caller passes the
// ARG with its resolved values.
func argCreatedBy(c *bk.ArgCommand) string {
	kvs := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		kv := a.Key
		if a.Value != nil {
			kv += "=" + *a.Value
		}
		kvs = append(kvs, kv)
	}
	return "ARG " + strings.Join(kvs, " ")
}
