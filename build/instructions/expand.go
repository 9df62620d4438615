package instructions

import (
	"fmt"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Expand substitutes variables in cmd in place, as BuildKit does just before
// it dispatches a command. env is KEY=VALUE, later entries winning: the
// image's Env with the stage's ARG values over it. escape is the Dockerfile's
// escape character (build/dockerfile.File.Escape).
//
// It expands, and strips the quotes from, the words of ENV, LABEL, WORKDIR,
// USER, VOLUME, STOPSIGNAL, EXPOSE (where one word may become several ports),
// the paths, --chown and --chmod of COPY and ADD (and ADD's --checksum), and
// RUN's --mount options; and the body of a COPY or ADD heredoc whose
// terminator is unquoted. It leaves alone what BuildKit leaves alone: RUN,
// CMD, ENTRYPOINT, SHELL and HEALTHCHECK command lines (the shell expands
// them at run time), ONBUILD, MAINTAINER, FROM, and ARG, whose default the
// executor expands when it resolves the value.
func Expand(cmd bk.Command, escape rune, env []string) error {
	vars := shell.EnvsFromSlice(env)
	lex := shell.NewLex(escape)
	if c, ok := cmd.(*bk.ExposeCommand); ok {
		var ports []string
		for _, p := range c.Ports {
			words, err := lex.ProcessWords(p, vars)
			if err != nil {
				return lexError(p, err)
			}
			ports = append(ports, words...)
		}
		c.Ports = ports
		return nil
	}
	if ex, ok := cmd.(bk.SupportsSingleWordExpansion); ok {
		if _, isArg := cmd.(*bk.ArgCommand); !isArg {
			if err := ex.Expand(wordExpander(lex, vars)); err != nil {
				return err
			}
		}
	}
	if ex, ok := cmd.(bk.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		if err := ex.ExpandRaw(wordExpander(raw, vars)); err != nil {
			return err
		}
	}
	return nil
}

func wordExpander(lex *shell.Lex, vars shell.EnvGetter) bk.SingleWordExpander {
	return func(word string) (string, error) {
		s, _, err := lex.ProcessWord(word, vars)
		if err != nil {
			return "", lexError(word, err)
		}
		return s, nil
	}
}

// lexError replaces the lexer's "failed to process WORD: " prefix with
// "expanding WORD: ".
func lexError(word string, err error) error {
	msg, ok := strings.CutPrefix(err.Error(), fmt.Sprintf("failed to process %q: ", word))
	if !ok {
		return err
	}
	return &expandError{word: word, msg: msg, err: err}
}

// expandError is a lexer error with kiln's wording.
type expandError struct {
	word, msg string
	err       error
}

func (e *expandError) Error() string { return fmt.Sprintf("expanding %q: %s", e.word, e.msg) }
func (e *expandError) Unwrap() error { return e.err }
