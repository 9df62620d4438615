package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newBuildCmd) }

type buildFlags struct {
	tags, buildArgs, buildArgFiles, labels, annotations []string
	secrets                                             []string
	file, target, pull, iidfile, format, network        string
	ignoreFile, timestamp, sourceDateEpoch, platform    string
	noCache, quiet, squash, layers, debugTimings        bool
	progress, output                                    string
	jobs                                                int
	sys                                                 sysFlags
	multi                                               multiFlags
	security                                            securityFlags
	exec                                                execFlags
}

func newBuildCmd(g *globals) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:     "build [flags] [CONTEXT]",
		Aliases: []string{"bud"},
		Short:   "Build an image from a Dockerfile or Containerfile",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			contextDir := "."
			if len(args) == 1 {
				contextDir = args[0]
			}
			return runBuild(cmd, g, &f, contextDir)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name the image (repeatable; a transport prefix writes there)")
	fl.StringVarP(&f.file, "file", "f", "", "Dockerfile path (- for stdin; default CONTEXT/Containerfile or Dockerfile)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (repeatable)")
	fl.StringArrayVar(&f.buildArgFiles, "build-arg-file", nil, "file of KEY=VALUE build-time variables")
	fl.StringVar(&f.target, "target", "", "stage to build")
	fl.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE for the image (repeatable)")
	fl.StringArrayVar(&f.annotations, "annotation", nil, "manifest annotation KEY=VALUE (repeatable)")
	fl.BoolVar(&f.layers, "layers", true, "cache intermediate layers")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use cached steps")
	fl.StringVar(&f.pull, "pull", "missing", "pull policy for base images: always, missing, never, newer")
	fl.Lookup("pull").NoOptDefVal = "always"
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image id to this file")
	fl.StringVar(&f.format, "format", "oci", "manifest format: oci or docker")
	fl.StringVar(&f.network, "network", "", "network for RUN steps: host (default) or none")
	fl.StringVar(&f.ignoreFile, "ignorefile", "", "ignore file instead of CONTEXT/.containerignore or .dockerignore")
	fl.StringVar(&f.timestamp, "timestamp", "", "seconds since the epoch for every created time and file time")
	fl.StringVar(&f.sourceDateEpoch, "source-date-epoch", "", "like --timestamp (default $SOURCE_DATE_EPOCH)")
	fl.StringVar(&f.platform, "platform", "", "target platforms OS/ARCH[/VARIANT], comma-separated; several make a manifest list")
	f.multi.add(fl)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image id")
	fl.BoolVar(&f.squash, "squash", false, "squash the layers the build adds into one")
	fl.StringVarP(&f.output, "output", "o", "", "also write the result's filesystem: type=local,dest=DIR or type=tar,dest=FILE")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain or json (one object per event)")
	fl.BoolVar(&f.debugTimings, "debug-timings", false, "print each step's time split into cache lookup, mount, run, diff and release")
	fl.IntVar(&f.jobs, "jobs", runtime.NumCPU(), "how many independent stages to build at once")
	fl.StringArrayVar(&f.secrets, "secret", nil, "secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR")
	f.sys.add(fl)
	f.security.add(fl)
	f.exec.add(fl)
	return cmd
}

func runBuild(cmd *cobra.Command, g *globals, f *buildFlags, contextDir string) error {
	if contextDir == "-" || build.IsGitURL(contextDir) {
		if contextDir == "-" && f.file == "-" {
			return fmt.Errorf("the context and the Dockerfile cannot both come from stdin")
		}
		dir, cleanup, err := build.FetchContext(cmd.Context(), contextDir, cmd.InOrStdin(), os.TempDir())
		if err != nil {
			return err
		}
		defer cleanup()
		contextDir = dir
	}
	opts := build.Options{ContextDir: contextDir, Tags: f.tags, Target: f.target, Pull: f.pull,
		NoCache: f.noCache || !f.layers, Jobs: f.jobs, Quiet: f.quiet, Squash: f.squash, IgnoreFile: f.ignoreFile,
		Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()}
	switch {
	case f.quiet:
		opts.Out, opts.Err = io.Discard, cmd.ErrOrStderr()
	case f.progress == "json":
		var mu sync.Mutex
		enc := json.NewEncoder(cmd.OutOrStdout())
		opts.Out = outputEvents{mu: &mu, enc: enc, stream: "stdout"}
		opts.Err = outputEvents{mu: &mu, enc: enc, stream: "stderr"}
		opts.Progress = func(ev build.Event) {
			mu.Lock()
			defer mu.Unlock()
			enc.Encode(ev)
		}
	case f.progress == "auto" || f.progress == "plain" || f.progress == "tty":
		opts.Progress = plainProgress(cmd.OutOrStdout(), f.debugTimings)
	default:
		return fmt.Errorf("--progress %q: want auto, plain or json", f.progress)
	}
	var err error
	if opts.Dockerfile, opts.Name, err = readDockerfile(cmd, contextDir, f.file); err != nil {
		return err
	}
	switch f.format {
	case "oci", "":
		opts.Format = storage.FormatOCI
	case "docker":
		opts.Format = storage.FormatDocker
	default:
		return fmt.Errorf("--format %q: want oci or docker", f.format)
	}
	switch f.network {
	case "", "default", "host":
		opts.Network = exec.NetworkHost
	case "none", "private":
		opts.Network = exec.NetworkNone
	default:
		return fmt.Errorf("--network %q: want host or none", f.network)
	}
	if opts.BuildArgs, err = parseBuildArgs(f.buildArgs, f.buildArgFiles); err != nil {
		return err
	}
	if opts.Labels, err = keyValues("--label", f.labels); err != nil {
		return err
	}
	if opts.Annotations, err = keyValues("--annotation", f.annotations); err != nil {
		return err
	}
	if f.output != "" {
		if opts.Output, err = build.ParseOutput(f.output); err != nil {
			return err
		}
		if opts.Output.Dest == "-" {
			// The tar owns stdout; progress goes to stderr.
			opts.Progress = plainProgress(cmd.ErrOrStderr(), f.debugTimings)
			opts.Out = cmd.ErrOrStderr()
			opts.Output.Stdout = cmd.OutOrStdout()
		}
	}
	if opts.Secrets, err = parseSecrets(f.secrets); err != nil {
		return err
	}
	runner, err := f.exec.apply(&opts)
	if err != nil {
		return err
	}
	if opts.Timestamp, err = buildTimestamp(f); err != nil {
		return err
	}
	plats, err := parsePlatforms(f.platform)
	if err != nil {
		return err
	}
	if len(plats) == 1 {
		opts.OS, opts.Arch, opts.Variant = plats[0].OS, plats[0].Architecture, plats[0].Variant
	}
	if opts.Security, err = f.security.options(); err != nil {
		return err
	}
	if opts.Sys, err = f.sys.options(); err != nil {
		return err
	}
	store, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer store.Close()
	if f.multi.wanted(plats) {
		return runMultiBuild(cmd, store, runner, opts, f, plats)
	}
	res, err := build.Build(cmd.Context(), store, runner, opts)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &exitCodeError{code: ee.Code, err: err}
		}
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte("sha256:"+res.ImageID), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if f.progress != "json" && opts.Output.Dest != "-" {
		fmt.Fprintln(cmd.OutOrStdout(), res.ImageID)
	}
	return nil
}

// readDockerfile reads -f (or stdin for "-"), defaulting to Containerfile
// then Dockerfile in the context.
func readDockerfile(cmd *cobra.Command, contextDir, file string) ([]byte, string, error) {
	if file == "-" {
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, "", fmt.Errorf("reading Dockerfile from stdin: %w", err)
		}
		return b, "Dockerfile", nil
	}
	candidates := []string{file}
	if file == "" {
		candidates = []string{filepath.Join(contextDir, "Containerfile"), filepath.Join(contextDir, "Dockerfile")}
	}
	var firstErr error
	for _, c := range candidates {
		b, err := os.ReadFile(c)
		if err == nil {
			return b, filepath.Base(c), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if file == "" {
		return nil, "", fmt.Errorf("no Containerfile or Dockerfile in %s: %w", contextDir, firstErr)
	}
	return nil, "", fmt.Errorf("reading Dockerfile: %w", firstErr)
}

func parseBuildArgs(args, files []string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading --build-arg-file: %w", err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			args = append([]string{line}, args...)
		}
		fh.Close()
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			// docker takes a bare name from the environment.
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func buildTimestamp(f *buildFlags) (*time.Time, error) {
	val, flag := f.timestamp, "--timestamp"
	if val == "" {
		val, flag = f.sourceDateEpoch, "--source-date-epoch"
	}
	if val == "" {
		val, flag = os.Getenv("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH"
	}
	if val == "" {
		return nil, nil
	}
	secs, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s %q: want seconds since the epoch", flag, val)
	}
	t := time.Unix(secs, 0).UTC()
	return &t, nil
}

// parseSecrets reads --secret id=ID,src=PATH|env=VAR; with neither, an
// environment variable named ID, as docker does.
func parseSecrets(vals []string) (map[string]build.Secret, error) {
	out := map[string]build.Secret{}
	for _, v := range vals {
		var id string
		var sec build.Secret
		for _, field := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(field, "=")
			switch k {
			case "id":
				id = val
			case "src", "source":
				sec.Src = val
			case "env":
				sec.Env = val
			case "type":
			default:
				return nil, fmt.Errorf("--secret %q: unknown field %q", v, k)
			}
		}
		if id == "" {
			return nil, fmt.Errorf("--secret %q: id= is required", v)
		}
		if sec.Src == "" && sec.Env == "" {
			sec.Env = id
		}
		if sec.Src != "" {
			if _, err := os.Stat(sec.Src); err != nil {
				return nil, fmt.Errorf("--secret %s: %w", id, err)
			}
		}
		out[id] = sec
	}
	return out, nil
}
