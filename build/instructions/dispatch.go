// Package instructions applies the Dockerfile instructions that only change
// an image's configuration (ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, CMD,
// ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER) as pure
// transforms of a storage.Image, with BuildKit's semantics, and writes any
// instruction's image-history text the way BuildKit's Dockerfile frontend
// does.
//
// The commands are BuildKit's typed instructions from build/dockerfile.Parse.
// A stage runs each command in turn through Expand, then Apply; Apply reports
// false for the instructions the executor carries out itself (RUN, COPY, ADD,
// ARG). WORKDIR is both: Apply sets the working directory and the executor
// creates it.
package instructions

import (
	"slices"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// DefaultPath is the PATH a stage gets when its base image sets none, as in
// BuildKit.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// State is the image a stage is building and what Apply must remember from
// one instruction to the next.
type State struct {
	// Image is the stage's image; Apply changes its Config and Author.
	Image *storage.Image
	// CmdSet records that a CMD ran in this stage. ENTRYPOINT clears a CMD
	// inherited from the base image or base stage, but keeps one set in the
	// same stage, as BuildKit does.
	CmdSet bool
}

// NewState starts a stage on a copy of base, as BuildKit starts one: the copy
// gets PATH=DefaultPath when base's Env has no PATH (scratch included), and
// its ONBUILD triggers are taken out of the config and returned, for the
// executor to run (see Triggers) before the stage's own instructions. base is
// not changed.
func NewState(base *storage.Image) (*State, []string) {
	img := base.Clone()
	triggers := img.Config.OnBuild
	img.Config.OnBuild = nil
	hasPath := slices.ContainsFunc(img.Config.Env, func(kv string) bool {
		return strings.HasPrefix(kv, "PATH=")
	})
	if !hasPath {
		img.Config.Env = append(img.Config.Env, "PATH="+DefaultPath)
	}
	return &State{Image: img}, triggers
}

// Apply applies cmd, already expanded by Expand, to the stage's image config
// and reports whether cmd is a metadata instruction. RUN, COPY, ADD and ARG
// are not: Apply returns false for them and changes nothing. An error names
// the bad value; the caller adds the step and its Dockerfile line.
//
// Apply changes cmd in one case: a WORKDIR's Path becomes the resolved
// directory (as in the config), for the executor to create and for
// CreatedBy, which is called after Apply, to show as BuildKit does.
func Apply(st *State, cmd bk.Command) (bool, error) {
	cfg := &st.Image.Config
	var err error
	switch c := cmd.(type) {
	case *bk.EnvCommand:
		applyEnv(cfg, c)
	case *bk.LabelCommand:
		applyLabel(cfg, c)
	case *bk.ExposeCommand:
		err = applyExpose(cfg, c)
	case *bk.VolumeCommand:
		err = applyVolume(cfg, c)
	case *bk.UserCommand:
		applyUser(cfg, c)
	case *bk.WorkdirCommand:
		applyWorkdir(cfg, c)
	case *bk.CmdCommand:
		applyCmd(st, c)
	case *bk.EntrypointCommand:
		applyEntrypoint(st, c)
	case *bk.ShellCommand:
		applyShell(cfg, c)
	case *bk.StopSignalCommand:
		err = applyStopSignal(cfg, c)
	case *bk.HealthCheckCommand:
		applyHealthcheck(cfg, c)
	case *bk.OnbuildCommand:
		applyOnbuild(cfg, c)
	case *bk.MaintainerCommand:
		applyMaintainer(st.Image, c)
	default:
		return false, nil
	}
	return true, err
}

// withShell turns a shell-form command line into argv: shell (or /bin/sh -c
// when the image sets none) followed by the words joined into one string.
func withShell(shell, cmdline []string) []string {
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(shell), strings.Join(cmdline, " "))
}

// commandLine returns the argv of a CMD, ENTRYPOINT or RUN line, prepending
// the shell in shell form.
func commandLine(c bk.ShellDependantCmdLine, shell []string) []string {
	if c.PrependShell {
		return withShell(shell, c.CmdLine)
	}
	return slices.Clone(c.CmdLine)
}
