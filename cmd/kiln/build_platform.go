package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/build"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// multiFlags are build's flags for multi-platform builds.
type multiFlags struct {
	manifest string
	all      bool
}

func (m *multiFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&m.manifest, "manifest", "", "add the images built to this manifest list (created if missing)")
	fl.BoolVar(&m.all, "all-platforms", false, "build for every platform all the base images offer")
}

// wanted reports whether the build makes a manifest list.
func (m *multiFlags) wanted(plats []storage.Platform) bool {
	return len(plats) > 1 || m.all || m.manifest != ""
}

// parsePlatforms parses --platform: comma-separated OS/ARCH[/VARIANT].
func parsePlatforms(val string) ([]storage.Platform, error) {
	if val == "" {
		return nil, nil
	}
	var out []storage.Platform
	seen := map[string]bool{}
	for _, s := range strings.Split(val, ",") {
		p, err := storage.ParsePlatform(s)
		if err != nil {
			return nil, fmt.Errorf("--platform: %w", err)
		}
		if !seen[p.String()] {
			seen[p.String()] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// runMultiBuild builds every platform and collects the images in a manifest
// list named by --manifest, else by the first -t.
func runMultiBuild(cmd *cobra.Command, store *storage.Store, runner exec.Runner, opts build.Options, f *buildFlags, plats []storage.Platform) error {
	if f.multi.all {
		if len(plats) > 0 {
			return fmt.Errorf("--all-platforms and --platform: give one of them")
		}
		var err error
		if plats, err = build.BasePlatforms(cmd.Context(), store, opts); err != nil {
			return err
		}
	}
	if len(plats) == 0 {
		plats = []storage.Platform{storage.HostPlatform()}
	}
	mo := build.MultiOptions{Platforms: plats, Manifest: f.multi.manifest}
	if mo.Manifest == "" && len(opts.Tags) > 0 {
		mo.Manifest, opts.Tags = opts.Tags[0], opts.Tags[1:]
	}
	res, err := build.BuildPlatforms(cmd.Context(), store, runner, opts, mo)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &exitCodeError{code: ee.Code, err: err}
		}
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte("sha256:"+res.ListID), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if f.progress != "json" {
		fmt.Fprintln(cmd.OutOrStdout(), res.ListID)
	}
	return nil
}
