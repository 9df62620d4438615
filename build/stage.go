package build

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/build/dockerfile"
	instr "github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/storage"
)

// stage is the state of a stage while its steps run.
type stage struct {
	index int
	name  string
	img   *storage.Image
	// top is the top layer id ("" for scratch).
	top string
	// key is the cache key of the last step.
	key digest.Digest
	// args are the ARGs declared in this stage so far, KEY=VALUE.
	args []string
	// argKeys are the names of the ARGs declared in this stage and the stages it is built on,
	// in declaration order, with or without a value (RUN's history text lists them).
	argKeys []string
	// cmdSet is true once CMD was set in this stage (ENTRYPOINT then keeps it).
	cmdSet bool
	// baseTop and baseHistory mark where the base image ends, for --squash.
	baseTop     string
	baseHistory int
}

// runStage runs every step of stage i.
func (b *Builder) runStage(ctx context.Context, i int) (*stage, error) {
	def := &b.file.Stages[i]
	s, err := b.from(ctx, i, def)
	if err != nil {
		return nil, b.stepError(i, def.Location, "FROM "+def.BaseName, err)
	}
	for _, cmd := range def.Commands {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b.emit(Event{Type: "step", Stage: dockerfile.StageName(b.file, i), Step: b.nextStep(), Total: b.total, Instruction: source(cmd)})
		if err := b.runStep(ctx, s, cmd); err != nil {
			return nil, b.stepError(i, cmd.Location(), source(cmd), err)
		}
	}
	return s, nil
}

// source is an instruction as written in the Dockerfile.
func source(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}

// stepError is the one place a step's context is added to an error.
func (b *Builder) stepError(stageIdx int, loc []parser.Range, text string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	name := b.file.Stages[stageIdx].Name
	if name == "" {
		name = fmt.Sprint(stageIdx)
	}
	return &StepError{File: b.opts.Name, Line: line, Stage: name, Instruction: text, Err: err}
}

// StepError is a failed build step.
type StepError struct {
	File        string
	Line        int
	Stage       string
	Instruction string
	Err         error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s:%d: stage %s: %s: %v", e.File, e.Line, e.Stage, e.Instruction, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// runStep expands one instruction and dispatches it.
func (b *Builder) runStep(ctx context.Context, s *stage, cmd instructions.Command) error {
	if err := b.expand(s, cmd); err != nil {
		return err
	}
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return b.run(ctx, s, c)
	case *instructions.CopyCommand:
		return b.copy(ctx, s, copySpec{cmd: c, src: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, excludes: c.ExcludePatterns, parents: c.Parents})
	case *instructions.AddCommand:
		return b.copy(ctx, s, copySpec{cmd: c, src: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, excludes: c.ExcludePatterns, add: true,
			checksum: c.Checksum, keepGitDir: c.KeepGitDir != nil && *c.KeepGitDir})
	case *instructions.ArgCommand:
		return b.declareArgs(s, c)
	}
	st := &instr.State{Image: s.img, CmdSet: s.cmdSet}
	ok, err := instr.Apply(st, cmd)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("instruction not supported: %w", errors.ErrUnsupported)
	}
	s.cmdSet = st.CmdSet
	if wd, ok := cmd.(*instructions.WorkdirCommand); ok {
		return b.workdir(ctx, s, wd)
	}
	return b.record(s, cmd, "")
}

// record appends the history entry of a step that made no layer (or made
// layer) and advances the cache key for metadata steps.
func (b *Builder) record(s *stage, cmd instructions.Command, extra string) error {
	key := stepKey(s.key, source(cmd), extra, instr.CreatedBy(cmd, s.img.Config.Shell))
	if _, ok := cmd.(*instructions.OnbuildCommand); ok {
		s.key = key // BuildKit writes no history entry for ONBUILD
		return nil
	}
	e, err := b.cache.get(key)
	if err != nil {
		return err
	}
	if e == nil || b.opts.NoCache {
		e = &cacheEntry{Created: b.now()}
		if err := b.cache.put(key, *e); err != nil {
			return err
		}
	}
	s.key = key
	created := e.Created
	s.img.History = append(s.img.History, storage.History{Created: &created,
		CreatedBy: instr.CreatedBy(cmd, s.img.Config.Shell, s.historyArgs()...), Comment: "buildkit.dockerfile.v0", EmptyLayer: true})
	return nil
}

// expand substitutes variables in cmd with the stage's args and env, as
// docker does: the image's ENV wins over an ARG of the same name.
func (b *Builder) expand(s *stage, cmd instructions.Command) error {
	return instr.Expand(cmd, b.file.Escape, append(append([]string{}, s.args...), s.img.Config.Env...))
}

// declareArgs brings ARGs into scope: a --build-arg wins over the default;
// a bare ARG takes a global ARG's value. The history entry shows the values.
func (b *Builder) declareArgs(s *stage, c *instructions.ArgCommand) error {
	resolved := &instructions.ArgCommand{Args: make([]instructions.KeyValuePairOptional, 0, len(c.Args))}
	for _, kv := range c.Args {
		val, has := "", false
		if kv.Value != nil {
			v, _, err := shell.NewLex(b.file.Escape).ProcessWord(*kv.Value, shell.EnvsFromSlice(append(append([]string{}, s.args...), s.img.Config.Env...)))
			if err != nil {
				return fmt.Errorf("expanding ARG %s: %w", kv.Key, err)
			}
			val, has = v, true
		}
		if v, ok := b.opts.BuildArgs[kv.Key]; ok {
			val, has = v, true
		} else if !has {
			val, has = lookupEnv(b.globalArgs, kv.Key)
		}
		r := instructions.KeyValuePairOptional{Key: kv.Key}
		if has {
			s.args = setEnv(s.args, kv.Key, val)
			r.Value = &val
		}
		s.argKeys = append(s.argKeys, kv.Key)
		resolved.Args = append(resolved.Args, r)
	}
	return b.record(s, resolved, "")
}

// historyArgs are the build arguments RUN's history text shows, KEY=VALUE in declaration
// order, each with its current value as a RUN sees it ("" for an ARG without one).
func (s *stage) historyArgs() []string {
	env := append(append([]string{}, s.args...), s.img.Config.Env...)
	kvs := make([]string, 0, len(s.argKeys))
	for _, k := range s.argKeys {
		v, _ := lookupEnv(env, k)
		kvs = append(kvs, k+"="+v)
	}
	return kvs
}

// runEnv is the environment a RUN sees: the image's ENV plus the ARGs in
// scope, ENV winning.
func (s *stage) runEnv() []string {
	env := append([]string{}, s.img.Config.Env...)
	for _, kv := range s.args {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := lookupEnv(env, k); !ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := lookupEnv(env, "PATH"); !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return env
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func setEnv(env []string, key, val string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + val
			return env
		}
	}
	return append(env, key+"="+val)
}
