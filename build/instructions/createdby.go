package instructions

import (
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Comment is the history comment BuildKit's Dockerfile frontend puts on
// every entry it writes.
const Comment = "buildkit.dockerfile.v0"

// buildkitSuffix ends the history text of the steps that run on a snapshot.
const buildkitSuffix = " # buildkit"

// CreatedBy returns the image history text ("created_by") that BuildKit's
// Dockerfile frontend writes for cmd, expanded by Expand and, for a metadata
// instruction, already applied by Apply (which puts a WORKDIR's resolved path
// into the command). shell is the image's Shell (nil for /bin/sh -c), used by
// RUN, CMD and ENTRYPOINT. buildArgs are the build arguments in scope for a
// RUN, KEY=VALUE in the order they were declared (in this stage and the
// stages it is built on) with their current values, which BuildKit shows as
// "|N K=V …"; other instructions ignore them. An ARG must carry its resolved
// values.
//
// It returns "" for ONBUILD, for which BuildKit writes no history entry.
// Examples: "ENV A=b", "RUN /bin/sh -c echo hi # buildkit",
// "COPY --chown=app a /b # buildkit", "WORKDIR /x", `CMD ["sh"]`.
func CreatedBy(cmd bk.Command, shell []string, buildArgs ...string) string {
	switch c := cmd.(type) {
	case *bk.RunCommand:
		return runCreatedBy(c, shell, buildArgs)
	case *bk.CopyCommand:
		return copyCreatedBy("COPY", c.Parents, c.Chown, c.Chmod, c.SourcesAndDest)
	case *bk.AddCommand:
		return copyCreatedBy("ADD", false, c.Chown, c.Chmod, c.SourcesAndDest)
	case *bk.ArgCommand:
		return argCreatedBy(c)
	case *bk.EnvCommand:
		return envCreatedBy(c)
	case *bk.LabelCommand:
		return labelCreatedBy(c)
	case *bk.ExposeCommand:
		return exposeCreatedBy(c)
	case *bk.VolumeCommand:
		return volumeCreatedBy(c)
	case *bk.UserCommand:
		return userCreatedBy(c)
	case *bk.WorkdirCommand:
		return workdirCreatedBy(c)
	case *bk.CmdCommand:
		return cmdCreatedBy(c, shell)
	case *bk.EntrypointCommand:
		return entrypointCreatedBy(c, shell)
	case *bk.ShellCommand:
		return shellCreatedBy(c)
	case *bk.StopSignalCommand:
		return stopSignalCreatedBy(c)
	case *bk.HealthCheckCommand:
		return healthcheckCreatedBy(c)
	case *bk.MaintainerCommand:
		return maintainerCreatedBy(c)
	}
	return ""
}

// copyCreatedBy is BuildKit's history text for COPY and ADD:
// "COPY [--parents] [--chown=U] [--chmod=M] SRC… <<HEREDOC… DEST # buildkit".
// --from, --link and --exclude are not shown.
func copyCreatedBy(name string, parents bool, chown, chmod string, sd bk.SourcesAndDest) string {
	words := []string{name}
	if parents {
		words = append(words, "--parents")
	}
	if chown != "" {
		words = append(words, "--chown="+chown)
	}
	if chmod != "" {
		words = append(words, "--chmod="+chmod)
	}
	words = append(words, sd.SourcePaths...)
	for _, src := range sd.SourceContents {
		words = append(words, "<<"+src.Path)
	}
	words = append(words, sd.DestPath)
	return strings.Join(words, " ") + buildkitSuffix
}
