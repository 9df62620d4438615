package instructions

import (
	"reflect"
	"strings"
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/build/dockerfile"
	"github.com/kiln-build/kiln/storage"
)

// parse returns the commands of "FROM scratch\n"+src and the escape
// character.
func parse(t *testing.T, src string) ([]bk.Command, rune) {
	t.Helper()
	f, err := dockerfile.Parse(strings.NewReader("FROM scratch\n"+src), "")
	if err != nil {
		t.Fatalf("parsing %q: %v", src, err)
	}
	return f.Stages[0].Commands, f.Escape
}

// run expands and applies every command of src to st in turn, as a stage
// would, and returns the first error.
func run(t *testing.T, st *State, src string) error {
	t.Helper()
	cmds, escape := parse(t, src)
	for _, cmd := range cmds {
		if err := Expand(cmd, escape, st.Image.Config.Env); err != nil {
			return err
		}
		if _, err := Apply(st, cmd); err != nil {
			return err
		}
	}
	return nil
}

// configTest is one case of a per-instruction table: src applied to a
// config holding base gives want, or the error wantErr.
type configTest struct {
	name    string
	base    storage.Config
	src     string
	want    storage.Config
	wantErr string
}

func runConfigTests(t *testing.T, tests []configTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &State{Image: &storage.Image{Config: tt.base.Clone()}}
			err := run(t, st, tt.src)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Image.Config; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestApplyLeavesNonMetadataToTheExecutor(t *testing.T) {
	t.Parallel()
	cmds, _ := parse(t, "RUN echo hi\nCOPY a /b\nADD a /b\nARG A=1\n")
	for _, cmd := range cmds {
		img := &storage.Image{Config: storage.Config{Env: []string{"A=0"}}}
		ok, err := Apply(&State{Image: img}, cmd)
		if ok || err != nil {
			t.Errorf("Apply(%T) = %v, %v; want false, nil", cmd, ok, err)
		}
		if !reflect.DeepEqual(img, &storage.Image{Config: storage.Config{Env: []string{"A=0"}}}) {
			t.Errorf("Apply(%T) changed the image: %#v", cmd, img)
		}
	}
}

func TestApplyReportsMetadata(t *testing.T) {
	t.Parallel()
	src := "ENV A=1\nLABEL a=b\nEXPOSE 80\nVOLUME /v\nUSER u\nWORKDIR /w\nCMD c\nENTRYPOINT e\n" +
		"SHELL [\"sh\"]\nSTOPSIGNAL 9\nHEALTHCHECK NONE\nONBUILD RUN x\nMAINTAINER m\n"
	cmds, _ := parse(t, src)
	if len(cmds) != 13 {
		t.Fatalf("parsed %d commands, want 13", len(cmds))
	}
	st := &State{Image: &storage.Image{}}
	for _, cmd := range cmds {
		if ok, err := Apply(st, cmd); !ok || err != nil {
			t.Errorf("Apply(%T) = %v, %v; want true, nil", cmd, ok, err)
		}
	}
}

func TestNewState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		base     storage.Config
		env      []string
		triggers []string
	}{
		{"scratch gets PATH", storage.Config{}, []string{"PATH=" + DefaultPath}, nil},
		{"PATH is kept", storage.Config{Env: []string{"PATH=/bin", "A=1"}}, []string{"PATH=/bin", "A=1"}, nil},
		{"PATH is added after the others", storage.Config{Env: []string{"A=1"}}, []string{"A=1", "PATH=" + DefaultPath}, nil},
		{"triggers are taken out", storage.Config{Env: []string{"PATH=/bin"}, OnBuild: []string{"RUN a", "COPY . /b"}},
			[]string{"PATH=/bin"}, []string{"RUN a", "COPY . /b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := &storage.Image{Config: tt.base.Clone()}
			st, triggers := NewState(base)
			if !reflect.DeepEqual(st.Image.Config.Env, tt.env) || st.Image.Config.OnBuild != nil || st.CmdSet {
				t.Errorf("state config %#v, CmdSet %v", st.Image.Config, st.CmdSet)
			}
			if !reflect.DeepEqual(triggers, tt.triggers) {
				t.Errorf("triggers = %q, want %q", triggers, tt.triggers)
			}
			if !reflect.DeepEqual(base.Config, tt.base) {
				t.Errorf("base changed: %#v", base.Config)
			}
		})
	}
}
