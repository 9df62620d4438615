package dockerfile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ArgValues are the values ARG instructions can take from outside the
// Dockerfile.
type ArgValues struct {
	// Build holds the --build-arg values. One applies only where an ARG of
	// its name is declared, and then wins over the ARG's default.
	Build map[string]string
	// Predefined holds the automatic platform arguments (BUILDPLATFORM,
	// BUILDOS, BUILDARCH, BUILDVARIANT, TARGETPLATFORM, TARGETOS, TARGETARCH,
	// TARGETVARIANT, TARGETSTAGE, …). They are in scope for FROM without an
	// ARG; a Build value of the same name overrides one.
	Predefined map[string]string
}

// ExpandFrom evaluates the global ARGs (those before the first FROM) in
// order, and then expands each stage's FROM name and --platform value with
// them, in place, as BuildKit does: $VAR, ${VAR}, ${VAR:-default},
// ${VAR:+alt} and the rest of the shell lexer's forms, with the file's escape
// character. A default may use the ARGs above it.
//
// It returns the global ARG values as KEY=VALUE, predefined first; a stage's
// "ARG NAME" without a default inherits its value from them. A FROM that
// expands to nothing is an error naming its line.
func ExpandFrom(f *File, vals ArgValues) ([]string, error) {
	lex := shell.NewLex(f.Escape)
	var env []string
	for _, k := range sortedKeys(vals.Predefined) {
		v := vals.Predefined[k]
		if b, ok := vals.Build[k]; ok {
			v = b
		}
		env = setVar(env, k, v)
	}
	for _, cmd := range f.MetaArgs {
		for _, kv := range cmd.Args {
			v, ok := vals.Build[kv.Key]
			if !ok && kv.Value != nil {
				var err error
				v, _, err = lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(env))
				if err != nil {
					err = lexError(*kv.Value, err)
					return nil, f.errorAt(&cmd, fmt.Errorf("ARG %s: %w", kv.Key, err))
				}
				ok = true
			}
			if ok {
				env = setVar(env, kv.Key, v)
			}
		}
	}

	getter := shell.EnvsFromSlice(env)
	for i := range f.Stages {
		st := &f.Stages[i]
		line := firstLine([][]parser.Range{st.Location})
		name, _, err := lex.ProcessWord(st.BaseName, getter)
		if err != nil {
			err = lexError(st.BaseName, err)
			return nil, &Error{File: f.Name, Line: line, Err: fmt.Errorf("FROM %s: %w", st.BaseName, err)}
		}
		if name == "" {
			return nil, &Error{File: f.Name, Line: line, Err: fmt.Errorf(
				"FROM %s: the base name is empty after expanding the ARGs; declare the ARG before the first FROM, give it a default or pass --build-arg", st.BaseName)}
		}
		st.BaseName = name
		if st.Platform == "" {
			continue
		}
		p, _, err := lex.ProcessWord(st.Platform, getter)
		if err != nil {
			err = lexError(st.Platform, err)
			return nil, &Error{File: f.Name, Line: line, Err: fmt.Errorf("FROM --platform=%s: %w", st.Platform, err)}
		}
		if p == "" {
			return nil, &Error{File: f.Name, Line: line, Err: errors.New("FROM --platform=" + st.Platform + ": the platform is empty after expanding the ARGs")}
		}
		st.Platform = p
	}
	return env, nil
}

// lexError drops the "failed to process WORD: " prefix the shell lexer puts
// on its errors, since the caller names the word already.
func lexError(word string, err error) error {
	msg, ok := strings.CutPrefix(err.Error(), fmt.Sprintf("failed to process %q: ", word))
	if !ok {
		return err
	}
	return &wordError{msg: msg, err: err}
}

// wordError is a lexer error with a shorter message.
type wordError struct {
	msg string
	err error
}

func (e *wordError) Error() string { return e.msg }
func (e *wordError) Unwrap() error { return e.err }

// setVar sets KEY=VALUE in env, replacing an existing KEY in place.
func setVar(env []string, k, v string) []string {
	for i, kv := range env {
		if key, _, _ := strings.Cut(kv, "="); key == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
