package dockerfile

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// summary renders a command as its type and the fields a test cares about.
func summary(cmd instructions.Command) string {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return fmt.Sprintf("RUN shell=%v %q files=%v", c.PrependShell, c.CmdLine, c.Files)
	case *instructions.CmdCommand:
		return fmt.Sprintf("CMD shell=%v %q", c.PrependShell, c.CmdLine)
	case *instructions.EntrypointCommand:
		return fmt.Sprintf("ENTRYPOINT shell=%v %q", c.PrependShell, c.CmdLine)
	case *instructions.CopyCommand:
		return fmt.Sprintf("COPY from=%q %q %v -> %q", c.From, c.SourcePaths, c.SourceContents, c.DestPath)
	case *instructions.AddCommand:
		return fmt.Sprintf("ADD %q -> %q", c.SourcePaths, c.DestPath)
	case *instructions.EnvCommand:
		return fmt.Sprintf("ENV %v", c.Env)
	case *instructions.LabelCommand:
		return fmt.Sprintf("LABEL %v", c.Labels)
	case *instructions.ArgCommand:
		var kv []string
		for _, a := range c.Args {
			kv = append(kv, a.String())
		}
		return fmt.Sprintf("ARG %v", kv)
	case *instructions.WorkdirCommand:
		return "WORKDIR " + c.Path
	case *instructions.ShellCommand:
		return fmt.Sprintf("SHELL %q", c.Shell)
	case *instructions.HealthCheckCommand:
		return fmt.Sprintf("HEALTHCHECK %+v", *c.Health)
	case *instructions.OnbuildCommand:
		return "ONBUILD " + c.Expression
	case *instructions.VolumeCommand:
		return fmt.Sprintf("VOLUME %q", c.Volumes)
	case *instructions.ExposeCommand:
		return fmt.Sprintf("EXPOSE %q", c.Ports)
	}
	return fmt.Sprintf("%T", cmd)
}

type stageSummary struct {
	Name, Base, Platform string
	Commands             []string
}

func summarize(f *File) []stageSummary {
	var out []stageSummary
	for _, st := range f.Stages {
		s := stageSummary{Name: st.Name, Base: st.BaseName, Platform: st.Platform}
		for _, c := range st.Commands {
			s.Commands = append(s.Commands, summary(c))
		}
		out = append(out, s)
	}
	return out
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		stages []stageSummary
		escape rune
		syntax string
	}{{
		name: "stages, names lowercased, shell and exec forms",
		src: "FROM golang:1.22 AS Build\nRUN go build ./...\n" +
			"FROM --platform=$BUILDPLATFORM scratch\nCOPY --from=build /out /app\nCMD [\"/app\", \"-v\"]\nENTRYPOINT []\n",
		stages: []stageSummary{
			{Name: "build", Base: "golang:1.22", Commands: []string{`RUN shell=true ["go build ./..."] files=[]`}},
			{Base: "scratch", Platform: "$BUILDPLATFORM", Commands: []string{
				`COPY from="build" ["/out"] [] -> "/app"`,
				`CMD shell=false ["/app" "-v"]`,
				`ENTRYPOINT shell=false []`,
			}},
		},
	}, {
		name: "invalid JSON is shell form for CMD and a word list for COPY",
		src:  "FROM busybox\nCMD [\"a\", 'b']\nCOPY [\"a\" /b\nVOLUME [\"/v\"]\n",
		stages: []stageSummary{{Base: "busybox", Commands: []string{
			`CMD shell=true ["[\"a\", 'b']"]`,
			`COPY from="" ["[\"a\""] [] -> "/b"`,
			`VOLUME ["/v"]`,
		}}},
	}, {
		name: "line continuations and comments inside them",
		src:  "FROM busybox\nRUN apk add \\\n# a comment\n    curl \\\n    git\nENV A=1 \\\n    B=\"two words\"\n",
		stages: []stageSummary{{Base: "busybox", Commands: []string{
			`RUN shell=true ["apk add     curl     git"] files=[]`,
			// Quotes go when the executor expands the words.
			`ENV [{A 1 false} {B "two words" false}]`,
		}}},
	}, {
		name:   "escape directive",
		src:    "# escape=`\nFROM busybox\nRUN echo a `\n  b\nWORKDIR c:\\dir\n",
		escape: '`',
		stages: []stageSummary{{Base: "busybox", Commands: []string{
			`RUN shell=true ["echo a   b"] files=[]`,
			`WORKDIR c:\dir`,
		}}},
	}, {
		name:   "syntax directive is recorded",
		src:    "# syntax=docker/dockerfile:1.7\nFROM busybox\n",
		syntax: "docker/dockerfile:1.7",
		stages: []stageSummary{{Base: "busybox"}},
	}, {
		name: "heredocs",
		src: "FROM busybox\nRUN <<EOF\necho hi\necho there\nEOF\n" +
			"COPY <<EOF /x\nhello $NAME\nEOF\n" +
			"COPY <<-'END' /y\n\tverbatim $NAME\n\tEND\n",
		stages: []stageSummary{{Base: "busybox", Commands: []string{
			`RUN shell=true ["<<EOF"] files=[{EOF echo hi` + "\n" + `echo there` + "\n" + ` false}]`,
			`COPY from="" [] [{EOF hello $NAME` + "\n" + ` true}] -> "/x"`,
			`COPY from="" [] [{END verbatim $NAME` + "\n" + ` false}] -> "/y"`,
		}}},
	}, {
		name: "metadata instructions",
		src: "FROM busybox\nLABEL a=b \"c d\"=e\nEXPOSE 80 53/udp\nSHELL [\"/bin/bash\", \"-c\"]\n" +
			"HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/\nONBUILD run echo hi\n",
		stages: []stageSummary{{Base: "busybox", Commands: []string{
			`LABEL [{a b false} {"c d" e false}]`,
			`EXPOSE ["53/udp" "80"]`,
			`SHELL ["/bin/bash" "-c"]`,
			`HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:5s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}`,
			`ONBUILD run echo hi`,
		}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse(strings.NewReader(tt.src), "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := summarize(f); !reflect.DeepEqual(got, tt.stages) {
				t.Errorf("stages:\n got %#v\nwant %#v", got, tt.stages)
			}
			escape := tt.escape
			if escape == 0 {
				escape = '\\'
			}
			if f.Escape != escape || f.Syntax != tt.syntax || f.Name != "Dockerfile" {
				t.Errorf("Escape, Syntax, Name = %q, %q, %q; want %q, %q, Dockerfile", f.Escape, f.Syntax, f.Name, escape, tt.syntax)
			}
		})
	}
}

func TestParseMetaArgs(t *testing.T) {
	t.Parallel()
	f, err := Parse(strings.NewReader("ARG BASE=busybox\nARG TAG\nFROM $BASE:${TAG:-latest}\nARG TAG\nRUN true\n"), "app.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			got = append(got, fmt.Sprintf("%s=%v", kv.Key, kv.Value != nil))
		}
	}
	if want := []string{"BASE=true", "TAG=false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("meta args = %v, want %v", got, want)
	}
	if s := summarize(f); len(s) != 1 || s[0].Base != "$BASE:${TAG:-latest}" || s[0].Commands[0] != "ARG [TAG=]" {
		t.Errorf("stages = %#v", s)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"empty", "", "Dockerfile: file with no instructions"},
		{"only comments", "# nothing\n# here\n", "Dockerfile:2: file with no instructions"},
		{"unknown instruction", "FROM busybox\nRUN true\nFOOBAR baz\n", "Dockerfile:3: unknown instruction: FOOBAR"},
		{"misspelt instruction", "FROM busybox\n\nruun true\n", "Dockerfile:3: unknown instruction: ruun (did you mean run?)"},
		{"unterminated heredoc", "FROM busybox\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc"},
		{"unterminated COPY heredoc", "FROM busybox\nCOPY <<EOF /x\n", "Dockerfile:2: unterminated heredoc"},
		{"instruction before FROM", "ARG A\nRUN echo\nFROM busybox\n", "Dockerfile:2: RUN before FROM: a build stage starts with FROM, and only ARG may come before the first FROM"},
		{"no FROM", "ARG A=1\n", "Dockerfile: no FROM instruction: the Dockerfile has no stages to build"},
		{"non-string JSON array", "FROM busybox\nCMD [1, 2]\n", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"},
		{"SHELL needs JSON", "FROM busybox\nSHELL bash -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
		{"FROM arguments", "FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments"},
		{"stage name", "FROM busybox AS 1x\n", `Dockerfile:1: invalid name for build stage: "1x", name can't start with a number or contain symbols`},
		{"unknown flag", "FROM busybox\nCOPY --frm=a b c\n", "Dockerfile:2: unknown flag: --frm (did you mean from?)"},
		{"missing argument", "FROM busybox\n\nENV\n", "Dockerfile:3: ENV requires at least one argument"},
		{"line after continuation", "FROM busybox\nRUN a \\\n  b\nBOGUS\n", "Dockerfile:4: unknown instruction: BOGUS"},
		{"line after escape directive", "# escape=`\nFROM busybox\nRUN a `\n b\nBOGUS\n", "Dockerfile:5: unknown instruction: BOGUS"},
		{"bad escape", "# escape=x\nFROM busybox\n", "Dockerfile:1: invalid escape directive \"x\": the escape character is \\ or `"},
		{"repeated directive", "# escape=`\n# escape=\\\nFROM busybox\n", "Dockerfile:2: only one escape parser directive can be used"},
		{"check error=true", "# check=error=true\nFROM busybox\nMAINTAINER me\n",
			"Dockerfile: lint violation found for rules: MaintainerDeprecated (the check directive sets error=true): " +
				"Dockerfile:3: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(strings.NewReader(tt.src), "")
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != "Dockerfile" {
				t.Errorf("error %v is not a *Error for Dockerfile", err)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	t.Parallel()
	src := "FROM busybox AS a\nMAINTAINER me\nFROM busybox AS a\nRUN echo \\\n\n  hi\nFROM busybox AS scratch\n"
	f, err := Parse(strings.NewReader(src), "ci.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ci.Dockerfile:2: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label",
		`ci.Dockerfile:3: DuplicateStageName: Duplicate stage name "a", stage names should be unique`,
		"ci.Dockerfile:6: NoEmptyContinuation: Empty continuation line",
		`ci.Dockerfile:7: ReservedStageName: Stage name should not use the same name as reserved stage "scratch"`,
	}
	if !reflect.DeepEqual(f.Warnings, want) {
		t.Errorf("warnings:\n got %q\nwant %q", f.Warnings, want)
	}

	f, err = Parse(strings.NewReader("# check=skip=MaintainerDeprecated\nFROM busybox\nMAINTAINER me\n"), "")
	if err != nil || len(f.Warnings) != 0 {
		t.Errorf("skipped rule: warnings %q, err %v; want none", f.Warnings, err)
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	if err := Locate("Dockerfile", errors.New("plain")); err.Error() != "Dockerfile: plain" {
		t.Errorf("plain error: %v", err)
	}
	if Locate("Dockerfile", nil) != nil {
		t.Error("Locate(nil) is not nil")
	}
	inner := &Error{File: "a", Line: 2, Err: errors.New("x")}
	if got := Locate("b", fmt.Errorf("wrapped: %w", inner)); !errors.Is(got, inner.Err) || !strings.Contains(got.Error(), "wrapped") {
		t.Errorf("already located error rewritten: %v", got)
	}
}
