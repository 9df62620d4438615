package instructions

import (
	"fmt"
	"reflect"
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	env := []string{"NAME=kiln", "DIR=/srv", "PORTS=80 443", "NAME=last"}
	tests := []struct {
		name, src string
		want      string
	}{
		{"later entries win", "USER $NAME", "{User:last}"},
		{"EXPOSE splits words", "EXPOSE $PORTS 8080", "{Ports:[80 443 8080]}"},
		{"COPY paths and flags", "COPY --chown=$NAME --chmod=$NOPE ${DIR}/a 'b' $DIR/", `{From: Chown:last Chmod: src:[/srv/a b] dest:/srv/}`},
		{"COPY heredoc body expands", "COPY <<EOF /x\nhi $NAME \"q\"\nEOF", `{contents:[hi last "q"` + "\n" + `]}`},
		{"quoted heredoc body does not", "COPY <<'EOF' /x\nhi $NAME\nEOF", `{contents:[hi $NAME` + "\n" + `]}`},
		{"RUN line is left to the shell", "RUN echo $NAME", "{CmdLine:[echo $NAME]}"},
		{"RUN mounts expand", "RUN --mount=type=cache,target=$DIR/cache make", "{Mount:/srv/cache}"},
		{"ARG is left to the executor", "ARG A=$NAME", "{Arg:A=$NAME}"},
		{"CMD is left alone", "CMD echo $NAME", "{CmdLine:[echo $NAME]}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmds, escape := parse(t, tt.src+"\n")
			if err := Expand(cmds[0], escape, env); err != nil {
				t.Fatal(err)
			}
			if got := show(cmds[0]); got != tt.want {
				t.Errorf("expanded\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func show(cmd bk.Command) string {
	switch c := cmd.(type) {
	case *bk.UserCommand:
		return fmt.Sprintf("{User:%s}", c.User)
	case *bk.ExposeCommand:
		return fmt.Sprintf("{Ports:%v}", c.Ports)
	case *bk.CopyCommand:
		if len(c.SourceContents) > 0 {
			return fmt.Sprintf("{contents:[%s]}", c.SourceContents[0].Data)
		}
		return fmt.Sprintf("{From:%s Chown:%s Chmod:%s src:%v dest:%s}", c.From, c.Chown, c.Chmod, c.SourcePaths, c.DestPath)
	case *bk.RunCommand:
		if m := bk.GetMounts(c); len(m) > 0 {
			return fmt.Sprintf("{Mount:%s}", m[0].Target)
		}
		return fmt.Sprintf("{CmdLine:%v}", c.CmdLine)
	case *bk.ArgCommand:
		return fmt.Sprintf("{Arg:%s}", c.Args[0].String())
	case *bk.CmdCommand:
		return fmt.Sprintf("{CmdLine:%v}", c.CmdLine)
	}
	return fmt.Sprintf("%T", cmd)
}

func TestExpandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ src, want string }{
		{"USER ${U:?user must be set}", `expanding "${U:?user must be set}": U: user must be set`},
		{"WORKDIR ${", `expanding "${": syntax error: missing '}'`},
		{"EXPOSE ${P:?required}", `expanding "${P:?required}": P: required`},
		// COPY's words are split at spaces before quotes are read.
		{`COPY "b c" /x`, `expanding "\"b": unexpected end of statement while looking for matching double-quote`},
		{"RUN --mount=type=bogus true", "unsupported mount type \"bogus\""},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			cmds, escape := parse(t, tt.src+"\n")
			err := Expand(cmds[0], escape, nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestExpandKeepsUnexpandableCommands(t *testing.T) {
	t.Parallel()
	cmds, escape := parse(t, "ENTRYPOINT $X\nSHELL [\"$X\"]\nHEALTHCHECK CMD $X\nONBUILD RUN $X\nMAINTAINER $X\n")
	for _, cmd := range cmds {
		before := fmt.Sprintf("%+v", cmd)
		if err := Expand(cmd, escape, []string{"X=1"}); err != nil {
			t.Fatal(err)
		}
		if after := fmt.Sprintf("%+v", cmd); !reflect.DeepEqual(before, after) {
			t.Errorf("%T changed: %s -> %s", cmd, before, after)
		}
	}
}
