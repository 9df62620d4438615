package build

import (
	"io"
	"time"

	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// Options describe one build.
type Options struct {
	// ContextDir is the build context directory.
	ContextDir string
	// Dockerfile is the Dockerfile's content and Name its name in messages.
	Dockerfile []byte
	Name       string
	// IgnoreFile overrides .containerignore/.dockerignore in the context.
	IgnoreFile string
	// Tags name the result: names in the store or transport references.
	Tags []string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Target is the stage to build; "" builds the last.
	Target string
	// Labels and Annotations are added to the final image.
	Labels      map[string]string
	Annotations map[string]string
	// NoCache rebuilds every step.
	NoCache bool
	// Pull is the pull policy for base images: "missing" (default), "always",
	// "never" or "newer".
	Pull string
	// Format is storage.FormatOCI or storage.FormatDocker.
	Format string
	// Timestamp, when set, is used for every created time and clamps file
	// times, for reproducible images.
	Timestamp *time.Time
	// Network is exec.NetworkHost or exec.NetworkNone.
	Network string
	// Security is the seccomp profile and capability set of RUN steps.
	Security exec.Security
	// Output, when its Type is set, also exports the result's filesystem.
	Output Output
	// Jobs is how many independent stages may run at once.
	Jobs int
	// Squash merges the build's new layers into one.
	Squash bool
	// Secrets are the --secret values by id.
	Secrets map[string]Secret
	// SSH are the --ssh agent sockets by id (DefaultSSH for "default").
	SSH map[string]string
	// SquashAll merges every layer, the base image's too, into one.
	SquashAll bool
	// Quiet suppresses the steps' output.
	Quiet bool
	// Progress receives the build's events; nil drops them.
	Progress func(Event)
	// Out and Err receive the steps' own output.
	Out, Err io.Writer
	// Sys holds registry settings for pulls and transport tags.
	Sys storage.SystemOptions
	// OS and Arch are the target platform ("" for the host's).
	OS, Arch, Variant string
}

// Result is what a build produced.
type Result struct {
	// ImageID is the id of the final image in the store.
	ImageID string
	// ManifestDigest is the digest of its manifest.
	ManifestDigest string
}
