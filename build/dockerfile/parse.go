// Package dockerfile reads a Dockerfile into build stages with BuildKit's
// parser, works out which stages a target needs, and expands the global ARGs
// into each stage's FROM line.
//
// Nothing here runs an instruction: the stages hold BuildKit's typed commands
// (instructions.RunCommand, instructions.EnvCommand, …) for the executor.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// File is a parsed Dockerfile.
type File struct {
	// Name is the file name used in messages, such as "Dockerfile".
	Name string
	// Escape is the escape character, '\\' unless a "# escape=`" directive
	// changed it. Variable expansion must use the same one.
	Escape rune
	// Syntax is the frontend image named by a "# syntax=" directive, or "".
	// kiln has a single built-in frontend and ignores it; the CLI says so.
	Syntax string
	// MetaArgs are the ARG instructions before the first FROM.
	MetaArgs []instructions.ArgCommand
	// Stages are the build stages in file order; a stage's index is its
	// position here.
	Stages []instructions.Stage
	// Warnings are BuildKit's lint warnings, each "NAME:LINE: Rule: message".
	Warnings []string
}

// Error is a fault in a Dockerfile at a line.
type Error struct {
	File string // file name, such as "Dockerfile"
	Line int    // 1-based line number; 0 when the fault has no line
	Err  error  // the fault
}

// Error returns "FILE:LINE: message", or "FILE: message" without a line.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns the fault.
func (e *Error) Unwrap() error { return e.Err }

// Locate turns err into an *Error naming file name and the line that
// BuildKit's parser attached to err (a parser.LocationError). An err without a
// location is still prefixed with name.
func Locate(name string, err error) error {
	if err == nil {
		return nil
	}
	var located *Error
	if errors.As(err, &located) {
		return err
	}
	var le *parser.LocationError
	if errors.As(err, &le) {
		return &Error{File: name, Line: firstLine(le.Locations), Err: le.Unwrap()}
	}
	return &Error{File: name, Err: err}
}

// Parse reads a Dockerfile from r into stages. name is used in messages and
// defaults to "Dockerfile". Errors are *Error values naming the file and the
// line at fault.
func Parse(r io.Reader, name string) (*File, error) {
	if name == "" {
		name = "Dockerfile"
	}
	dt, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := checkDirectives(dt); err != nil {
		return nil, Locate(name, err)
	}
	f := &File{Name: name}
	f.Syntax, _, _, _ = parser.DetectSyntax(dt)

	checks, _, _, _ := parser.ParseDirective("check", dt)
	lintCfg, err := linter.ParseLintOptions(checks)
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("parsing check directive: %w", err)}
	}
	var lints lintLog
	lintCfg.Warn = lints.warn
	lint := linter.New(lintCfg)

	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, Locate(name, err)
	}
	f.Escape = res.EscapeToken
	for _, w := range res.Warnings {
		if w.URL == linter.RuleNoEmptyContinuation.URL && w.Location != nil {
			lint.Run(&linter.RuleNoEmptyContinuation, []parser.Range{*w.Location},
				linter.RuleNoEmptyContinuation.Format())
		}
	}

	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		if n := commandBeforeFrom(res.AST); n != nil && lineOf(err) == n.StartLine {
			return nil, &Error{File: name, Line: n.StartLine, Err: fmt.Errorf(
				"%s before FROM: a build stage starts with FROM, and only ARG may come before the first FROM",
				strings.ToUpper(n.Value))}
		}
		return nil, Locate(name, err)
	}
	if len(stages) == 0 {
		return nil, &Error{File: name, Err: errors.New("no FROM instruction: the Dockerfile has no stages to build")}
	}
	f.Stages, f.MetaArgs = stages, metaArgs
	lintStageNames(f.Stages, lint)

	f.Warnings = lints.lines(name)
	if lintCfg.ReturnAsError && len(lints.rules) > 0 {
		return nil, &Error{File: name, Err: fmt.Errorf(
			"lint violation found for rules: %s (the check directive sets error=true): %s",
			strings.Join(lints.rules, ", "), strings.Join(f.Warnings, "; "))}
	}
	return f, nil
}

// lintLog collects the linter's warnings.
type lintLog struct {
	warnings []warning
	rules    []string // names of the rules that warned, sorted, unique
}

// warning is one lint warning.
type warning struct {
	line       int
	rule, text string
}

// warn is the linter's callback.
func (l *lintLog) warn(rule, _, _, msg string, loc []parser.Range) {
	l.warnings = append(l.warnings, warning{firstLine([][]parser.Range{loc}), rule, msg})
	if i, found := slices.BinarySearch(l.rules, rule); !found {
		l.rules = slices.Insert(l.rules, i, rule)
	}
}

// lines returns the warnings in line order as "NAME:LINE: Rule: message".
func (l *lintLog) lines(name string) []string {
	slices.SortStableFunc(l.warnings, func(a, b warning) int { return a.line - b.line })
	var out []string
	for _, w := range l.warnings {
		out = append(out, fmt.Sprintf("%s:%d: %s: %s", name, w.line, w.rule, w.text))
	}
	return out
}

// checkDirectives reports a repeated parser directive or a bad escape
// character with its line. (BuildKit's parser reports these one line early.)
func checkDirectives(dt []byte) error {
	dt = bytes.TrimPrefix(dt, []byte("\xEF\xBB\xBF"))
	ds, err := (&parser.DirectiveParser{}).ParseAll(dt)
	if err != nil {
		// Directives are the first lines; the bad one follows those parsed.
		return parser.WithLocation(err, []parser.Range{{Start: parser.Position{Line: len(ds) + 1}}})
	}
	for _, d := range ds {
		if d.Name == "escape" && d.Value != "`" && d.Value != `\` {
			return parser.WithLocation(fmt.Errorf("invalid escape directive %q: the escape character is \\ or `", d.Value), d.Location)
		}
	}
	return nil
}

// lintStageNames reports duplicate and reserved stage names, as BuildKit's
// DuplicateStageName and ReservedStageName rules do.
func lintStageNames(stages []instructions.Stage, lint *linter.Linter) {
	seen := map[string]bool{}
	for _, st := range stages {
		if st.Name == "" {
			continue
		}
		if st.Name == "scratch" || st.Name == "context" {
			lint.Run(&linter.RuleReservedStageName, st.Location, linter.RuleReservedStageName.Format(st.Name))
		}
		if seen[st.Name] {
			lint.Run(&linter.RuleDuplicateStageName, st.Location, linter.RuleDuplicateStageName.Format(st.Name))
		}
		seen[st.Name] = true
	}
}

// commandBeforeFrom returns the first known instruction other than ARG that
// comes before the first FROM, or nil.
func commandBeforeFrom(ast *parser.Node) *parser.Node {
	for _, n := range ast.Children {
		v := strings.ToLower(n.Value)
		switch {
		case v == command.Arg:
			continue
		case v == command.From:
			return nil
		}
		if _, known := command.Commands[v]; known {
			return n
		}
		return nil
	}
	return nil
}

// lineOf returns the line BuildKit attached to err, or 0.
func lineOf(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		return firstLine(le.Locations)
	}
	return 0
}

// firstLine returns the start line of the first range, the innermost location
// BuildKit recorded, or 0.
func firstLine(locs [][]parser.Range) int {
	for _, rs := range locs {
		if len(rs) > 0 {
			return rs[0].Start.Line
		}
	}
	return 0
}
