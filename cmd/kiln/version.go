package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newVersionCmd) }

// versionInfo is what kiln version prints.
type versionInfo struct {
	Version        string `json:"Version" yaml:"Version"`
	Commit         string `json:"Commit" yaml:"Commit"`
	GoVersion      string `json:"GoVersion" yaml:"GoVersion"`
	OsArch         string `json:"OsArch" yaml:"OsArch"`
	StorageDriver  string `json:"StorageDriver" yaml:"StorageDriver"`
	ImageVersion   string `json:"ContainersImage" yaml:"ContainersImage"`
	StorageVersion string `json:"ContainersStorage" yaml:"ContainersStorage"`
}

func newVersionCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:         "version",
		Short:       "Show kiln's version and the versions of its libraries",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noUserns: "1"},
		RunE: func(cmd *cobra.Command, args []string) error {
			v := currentVersion(g)
			w := out(cmd)
			switch {
			case isJSON(format):
				return printJSON(w, v)
			case format != "":
				return render(w, format, []versionInfo{v}, table{})
			}
			_, err := fmt.Fprintf(w, "Version:             %s\nCommit:              %s\nGo Version:          %s\n"+
				"OS/Arch:             %s\nStorage Driver:      %s\ncontainers/image:    %s\ncontainers/storage:  %s\n",
				v.Version, v.Commit, v.GoVersion, v.OsArch, v.StorageDriver, v.ImageVersion, v.StorageVersion)
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json, or a Go template such as '{{.Version}}'")
	return cmd
}

// currentVersion gathers the version facts without opening the store: the
// driver is the one chosen by flag or storage.conf, else "auto".
func currentVersion(g *globals) versionInfo {
	v := versionInfo{Version: version, Commit: commit, GoVersion: runtime.Version(),
		OsArch: runtime.GOOS + "/" + runtime.GOARCH, StorageDriver: g.storageDriver,
		ImageVersion: "unknown", StorageVersion: "unknown"}
	if v.StorageDriver == "" {
		if d, err := storage.ConfiguredDriver(); err == nil && d != "" {
			v.StorageDriver = d
		} else {
			v.StorageDriver = "auto (overlay, fuse-overlayfs or vfs)"
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			switch dep.Path {
			case "go.podman.io/image/v5":
				v.ImageVersion = dep.Version
			case "go.podman.io/storage":
				v.StorageVersion = dep.Version
			}
		}
	}
	return v
}
