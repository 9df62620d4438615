package build

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultSSH is the id of the ssh agent RUN --mount=type=ssh uses without id=.
const DefaultSSH = "default"

// sshMount exposes the --ssh agent socket of id at the mount's target
// (/run/buildkit/ssh_agent.N by default), as BuildKit does; the first ssh
// mount of a step also sets SSH_AUTH_SOCK. A socket never enters the cache key.
func (b *Builder) sshMount(m *instructions.Mount, out *stepMounts) error {
	id := m.CacheID
	if id == "" {
		id = DefaultSSH
	}
	sock, ok := b.opts.SSH[id]
	if !ok {
		if m.Required {
			return fmt.Errorf("ssh agent %q is required but was not given with --ssh %s: %w", id, sshFlagHint(id), fs.ErrNotExist)
		}
		return nil
	}
	st, err := os.Stat(sock)
	if err != nil {
		return fmt.Errorf("ssh agent %q: %w", id, err)
	}
	if st.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("ssh agent %q: %s is not a unix socket: %w", id, sock, fs.ErrInvalid)
	}
	target := m.Target
	if target == "" {
		target = "/run/buildkit/ssh_agent." + strconv.Itoa(out.ssh)
	}
	if out.ssh == 0 {
		out.env = append(out.env, "SSH_AUTH_SOCK="+target)
	}
	out.ssh++
	out.mounts = append(out.mounts, specs.Mount{Destination: target, Type: "bind", Source: sock, Options: []string{"rbind"}})
	out.key = append(out.key, "ssh "+id+" "+target)
	return nil
}

func sshFlagHint(id string) string {
	if id == DefaultSSH {
		return "default"
	}
	return id + "=SOCKET"
}
