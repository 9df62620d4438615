package main

import (
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/kiln-build/kiln/storage"
	"github.com/kiln-build/kiln/userns"
)

func init() { register(newInfoCmd) }

// hostInfo, storeInfo and systemInfo are what kiln info prints; keys follow
// podman info where it has the same fact.
type hostInfo struct {
	Arch       string `json:"arch" yaml:"arch"`
	OS         string `json:"os" yaml:"os"`
	Kernel     string `json:"kernel" yaml:"kernel"`
	Hostname   string `json:"hostname" yaml:"hostname"`
	Rootless   bool   `json:"rootless" yaml:"rootless"`
	UsernsMode string `json:"usernsMode" yaml:"usernsMode"`
}

type storeInfo struct {
	GraphRoot       string   `json:"graphRoot" yaml:"graphRoot"`
	RunRoot         string   `json:"runRoot" yaml:"runRoot"`
	GraphDriverName string   `json:"graphDriverName" yaml:"graphDriverName"`
	DriverReason    string   `json:"driverReason" yaml:"driverReason"`
	GraphOptions    []string `json:"graphOptions" yaml:"graphOptions"`
	ImageCount      int      `json:"imageCount" yaml:"imageCount"`
}

type systemInfo struct {
	Host       hostInfo            `json:"host" yaml:"host"`
	Store      storeInfo           `json:"store" yaml:"store"`
	Registries map[string][]string `json:"registries" yaml:"registries"`
	Version    versionInfo         `json:"version" yaml:"version"`
}

func newInfoCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the store, storage driver, user namespace and host kiln works with",
		Args:  cobra.NoArgs,
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			info, err := gatherInfo(cmd, g, st)
			if err != nil {
				return err
			}
			w := out(cmd)
			switch {
			case isJSON(format):
				return printJSON(w, info)
			case format != "":
				return render(w, format, []systemInfo{*info}, table{})
			}
			enc := yaml.NewEncoder(w)
			enc.SetIndent(2)
			if err := enc.Encode(info); err != nil {
				return err
			}
			return enc.Close()
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "json, or a Go template such as '{{.Store.GraphDriverName}}'")
	return cmd
}

func gatherInfo(cmd *cobra.Command, g *globals, st *storage.Store) (*systemInfo, error) {
	imgs, err := st.Images(cmd.Context(), storage.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	info := &systemInfo{
		Host: hostInfo{Arch: runtime.GOARCH, OS: runtime.GOOS, Kernel: kernelRelease(),
			Rootless: st.Rootless, UsernsMode: userns.CurrentMode().String()},
		Store: storeInfo{GraphRoot: st.GraphRoot(), RunRoot: st.RunRoot(), GraphDriverName: st.Driver(),
			DriverReason: st.DriverReason, GraphOptions: st.DriverOptions(), ImageCount: len(imgs)},
		Registries: map[string][]string{},
		Version:    currentVersion(g),
	}
	info.Version.StorageDriver = st.Driver()
	info.Host.Hostname, _ = os.Hostname()
	if info.Store.GraphOptions == nil {
		info.Store.GraphOptions = []string{}
	}
	if regs, err := storage.SearchRegistries(); err == nil {
		info.Registries["search"] = regs
	}
	return info, nil
}

func kernelRelease() string {
	data, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(data))
}
