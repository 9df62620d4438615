package main

import (
	"fmt"
	"io/fs"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newConfigCmd) }

type configFlags struct {
	cmd, entrypoint, user, workdir, stopSignal string
	healthcheck, author, arch, os              string
	env, labels, ports, volumes, changes       []string
}

func newConfigCmd(g *globals) *cobra.Command {
	var f configFlags
	cmd := &cobra.Command{
		Use:   "config [flags] CONTAINER",
		Short: "Change the image config of a working container",
		Long: "Change the config kiln commit writes, with Dockerfile semantics: --cmd and --entrypoint take " +
			"a JSON array or a shell command line; --env, --label, --port and --volume add, and KEY- removes.",
		Args: cobra.ExactArgs(1),
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			c, err := lookupContainer(st, args[0])
			if err != nil {
				return err
			}
			if err := f.apply(cmd, c.Config); err != nil {
				return fmt.Errorf("configuring %s: %w", c.Name, err)
			}
			return st.SaveContainer(c)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cmd, "cmd", "", "default command: a JSON array or a shell command line")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "entrypoint: a JSON array or a shell command line")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "environment variable KEY=VALUE, or KEY- to remove it (repeatable)")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "label KEY=VALUE, or KEY- to remove it (repeatable)")
	fl.StringArrayVarP(&f.ports, "port", "p", nil, "exposed port PORT[/PROTO], or PORT- to remove it (repeatable)")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "volume PATH, or PATH- to remove it (repeatable)")
	fl.StringVarP(&f.user, "user", "u", "", "user USER[:GROUP] to run as")
	fl.StringVar(&f.workdir, "workingdir", "", "working directory")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container")
	fl.StringVar(&f.healthcheck, "healthcheck", "", "health check: 'CMD ...', 'CMD-SHELL ...' or NONE, with HEALTHCHECK's options")
	fl.StringVar(&f.author, "author", "", "author of the image")
	fl.StringVar(&f.arch, "arch", "", "architecture of the image")
	fl.StringVar(&f.os, "os", "", "operating system of the image")
	fl.StringArrayVarP(&f.changes, "change", "c", nil, "apply a Dockerfile instruction, such as 'CMD [\"sh\"]' (repeatable)")
	return cmd
}

// apply makes the changes the flags given ask for, in a fixed order.
func (f *configFlags) apply(cmd *cobra.Command, img *storage.Image) error {
	fl := cmd.Flags()
	var lines []string
	if fl.Changed("entrypoint") {
		lines = append(lines, "ENTRYPOINT "+f.entrypoint)
	}
	if fl.Changed("cmd") {
		lines = append(lines, "CMD "+f.cmd)
	}
	if fl.Changed("stop-signal") {
		lines = append(lines, "STOPSIGNAL "+f.stopSignal)
	}
	if fl.Changed("healthcheck") {
		lines = append(lines, "HEALTHCHECK "+f.healthcheck)
	}
	if err := applyInstructions(img, lines); err != nil {
		return err
	}
	cfg := &img.Config
	if fl.Changed("user") {
		cfg.User = f.user
	}
	if fl.Changed("workingdir") {
		cfg.WorkingDir = f.workdir
	}
	if fl.Changed("author") {
		img.Author = f.author
	}
	if fl.Changed("arch") {
		img.Architecture = f.arch
	}
	if fl.Changed("os") {
		img.OS = f.os
	}
	if err := f.applyLists(img); err != nil {
		return err
	}
	return applyChanges(img, f.changes)
}

func (f *configFlags) applyLists(img *storage.Image) error {
	cfg := &img.Config
	for _, kv := range f.env {
		if k, ok := strings.CutSuffix(kv, "-"); ok && !strings.Contains(kv, "=") {
			cfg.Env = removeEnv(cfg.Env, k)
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--env %q: want KEY=VALUE or KEY-: %w", kv, fs.ErrInvalid)
		}
		cfg.Env = append(removeEnv(cfg.Env, k), k+"="+v)
	}
	for _, kv := range f.labels {
		if k, ok := strings.CutSuffix(kv, "-"); ok && !strings.Contains(kv, "=") {
			delete(cfg.Labels, k)
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return fmt.Errorf("--label %q: want KEY=VALUE or KEY-: %w", kv, fs.ErrInvalid)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	for _, p := range f.ports {
		if k, ok := strings.CutSuffix(p, "-"); ok {
			if !strings.Contains(k, "/") {
				k += "/tcp"
			}
			delete(cfg.ExposedPorts, k)
		} else if err := applyInstructions(img, []string{"EXPOSE " + p}); err != nil {
			return err
		}
	}
	for _, v := range f.volumes {
		if k, ok := strings.CutSuffix(v, "-"); ok {
			delete(cfg.Volumes, k)
		} else if err := applyInstructions(img, []string{"VOLUME " + v}); err != nil {
			return err
		}
	}
	return nil
}

func removeEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

// applyInstructions applies Dockerfile lines to img without expanding
// variables in them, as buildah config does.
func applyInstructions(img *storage.Image, lines []string) error {
	st := &instructions.State{Image: img}
	for _, line := range lines {
		res, err := parser.Parse(strings.NewReader(line))
		if err != nil || len(res.AST.Children) != 1 {
			return fmt.Errorf("%q: not one instruction: %w", line, errorOr(err, fs.ErrInvalid))
		}
		c, err := bk.ParseCommand(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("%q: %w", line, err)
		}
		if _, err := instructions.Apply(st, c); err != nil {
			return fmt.Errorf("%q: %w", line, err)
		}
	}
	return nil
}

func errorOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
