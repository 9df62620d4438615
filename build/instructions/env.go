package instructions

import (
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyEnv sets each variable of an ENV, in order: one already in Env is
// replaced where it stands, a new one is appended. Names are case-sensitive.
func applyEnv(cfg *storage.Config, c *bk.EnvCommand) {
	for _, kv := range c.Env {
		cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
	}
}

// setEnv sets KEY=VALUE in env, in place when KEY is there.
func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if key, _, _ := strings.Cut(kv, "="); key == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// envCreatedBy is BuildKit's history text: "ENV A=1 B=two words".
func envCreatedBy(c *bk.EnvCommand) string {
	return "ENV" + pairs(c.Env)
}

// pairs renders key-value pairs as " K=V" each, unquoted, as BuildKit does.
func pairs(kvs bk.KeyValuePairs) string {
	var b strings.Builder
	for _, kv := range kvs {
		b.WriteString(" " + kv.Key + "=" + kv.Value)
	}
	return b.String()
}
