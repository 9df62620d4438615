package dockerfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Scratch is the base name of a stage that starts from an empty filesystem.
const Scratch = "scratch"

// Deps is what one stage needs besides the build context.
type Deps struct {
	// Base is the index of the earlier stage named by FROM, or -1 when FROM
	// names an image or scratch.
	Base int
	// Stages are the indexes of the earlier stages the stage reads, ascending
	// and unique: its FROM base, COPY --from and RUN --mount from=.
	Stages []int
	// Images are the image references COPY --from and RUN --mount from= name
	// that are not stages (nor scratch), in order of first use.
	Images []string
}

// StageDeps returns each stage's dependencies, indexed like f.Stages, with
// BuildKit's rules: FROM names the latest earlier stage of that exact name
// (call ExpandFrom first so that FROM $VAR is resolved); COPY --from takes a
// stage name (any case) or index, and RUN --mount from= a stage name; a name
// that is no stage is an image. A stage that reads itself or a later stage is
// an error, as is a variable in --from.
func StageDeps(f *File) ([]Deps, error) {
	lex := shell.NewLex(f.Escape)
	out := make([]Deps, len(f.Stages))
	for i, st := range f.Stages {
		d := Deps{Base: -1}
		for j := i - 1; j >= 0; j-- {
			if st.BaseName != "" && f.Stages[j].Name == st.BaseName {
				d.Base = j
				d.Stages = append(d.Stages, j)
				break
			}
		}
		for _, cmd := range st.Commands {
			refs, err := fromRefs(cmd, lex)
			if err != nil {
				return nil, f.errorAt(cmd, err)
			}
			for _, ref := range refs {
				if ref.name == Scratch {
					continue
				}
				j, isStage, err := f.lookup(ref, i)
				if err != nil {
					return nil, f.errorAt(cmd, err)
				}
				switch {
				case isStage && !slices.Contains(d.Stages, j):
					d.Stages = append(d.Stages, j)
				case !isStage && !slices.Contains(d.Images, ref.name):
					d.Images = append(d.Images, ref.name)
				}
			}
		}
		slices.Sort(d.Stages)
		out[i] = d
	}
	return out, nil
}

// Needed returns the indexes of the stages needed to build target, in the
// order to build them (every stage after the stages it reads), target last.
// An empty target means the last stage. Stage names match in any case.
func Needed(f *File, target string) ([]int, error) {
	if len(f.Stages) == 0 {
		return nil, &Error{File: f.Name, Err: fmt.Errorf("no stages to build")}
	}
	t := len(f.Stages) - 1
	if target != "" {
		var ok bool
		if t, ok = f.stageByName(target, len(f.Stages)); !ok {
			return nil, &Error{File: f.Name, Err: fmt.Errorf("target stage %q could not be found; %s", target, f.namesHint())}
		}
	}
	deps, err := StageDeps(f)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var visit func(int)
	visit = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		for _, j := range deps[i].Stages {
			visit(j)
		}
	}
	visit(t)
	needed := make([]int, 0, len(seen))
	for i := range seen {
		needed = append(needed, i)
	}
	// Every dependency is an earlier stage, so file order is build order.
	slices.Sort(needed)
	return needed, nil
}

// StageName returns the name of stage i for messages: its AS name or
// "stage-i", as BuildKit calls unnamed stages.
func StageName(f *File, i int) string {
	if f.Stages[i].Name != "" {
		return f.Stages[i].Name
	}
	return "stage-" + strconv.Itoa(i)
}

// fromRef is one --from reference of a command.
type fromRef struct {
	flag    string // "COPY --from" or "RUN --mount from"
	name    string
	byIndex bool // an index is allowed (COPY --from only)
}

// fromRefs returns the stages or images cmd reads.
func fromRefs(cmd instructions.Command, lex *shell.Lex) ([]fromRef, error) {
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From == "" {
			return nil, nil
		}
		expanded, _, err := lex.ProcessWord(c.From, shell.EnvsFromSlice(nil))
		if err != nil {
			return nil, fmt.Errorf("COPY --from=%s: %w", c.From, err)
		}
		if expanded != c.From {
			return nil, fmt.Errorf("COPY --from=%s: variable expansion is not supported for --from; define a stage with FROM using a global ARG instead", c.From)
		}
		return []fromRef{{flag: "COPY --from", name: c.From, byIndex: true}}, nil
	case *instructions.RunCommand:
		var refs []fromRef
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				refs = append(refs, fromRef{flag: "RUN --mount from", name: m.From})
			}
		}
		return refs, nil
	}
	return nil, nil
}

// lookup resolves ref, used in stage cur, to an earlier stage index, or
// reports that it names an image.
func (f *File) lookup(ref fromRef, cur int) (int, bool, error) {
	if ref.byIndex {
		if n, err := strconv.Atoi(ref.name); err == nil {
			if n < 0 || n >= len(f.Stages) {
				return 0, false, fmt.Errorf("%s=%s: invalid stage index %d: the Dockerfile has %d stages", ref.flag, ref.name, n, len(f.Stages))
			}
			if n >= cur {
				return 0, false, f.laterStage(ref, n, cur)
			}
			return n, true, nil
		}
	}
	j, ok := f.stageByName(ref.name, len(f.Stages))
	if !ok {
		return 0, false, nil
	}
	if j >= cur {
		return 0, false, f.laterStage(ref, j, cur)
	}
	return j, true, nil
}

func (f *File) laterStage(ref fromRef, j, cur int) error {
	if j == cur {
		return fmt.Errorf("%s=%s: stage %q cannot read itself", ref.flag, ref.name, StageName(f, cur))
	}
	return fmt.Errorf("%s=%s: stage %q must be defined before the current stage %q", ref.flag, ref.name, StageName(f, j), StageName(f, cur))
}

// stageByName returns the last stage before index end whose name matches name
// in any case.
func (f *File) stageByName(name string, end int) (int, bool) {
	for j := end - 1; j >= 0; j-- {
		if f.Stages[j].Name != "" && strings.EqualFold(f.Stages[j].Name, name) {
			return j, true
		}
	}
	return 0, false
}

// namesHint lists the stage names for an unknown-target message.
func (f *File) namesHint() string {
	var names []string
	for _, st := range f.Stages {
		if st.Name != "" && !slices.Contains(names, st.Name) {
			names = append(names, st.Name)
		}
	}
	if len(names) == 0 {
		return "the Dockerfile has no named stages (name one with FROM image AS name)"
	}
	return "stages are: " + strings.Join(names, ", ")
}

// errorAt locates err at cmd's line.
func (f *File) errorAt(cmd instructions.Command, err error) error {
	var line int
	if loc := cmd.Location(); len(loc) > 0 {
		line = loc[0].Start.Line
	}
	return &Error{File: f.Name, Line: line, Err: err}
}
