package instructions

import (
	"reflect"
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

func TestArgChangesNoConfig(t *testing.T) {
	t.Parallel()
	cmds, escape := parse(t, "ARG A=1 B\n")
	img := &storage.Image{Config: storage.Config{Env: []string{"PATH=/bin"}}}
	if err := Expand(cmds[0], escape, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := Apply(&State{Image: img}, cmds[0]); ok || err != nil {
		t.Errorf("Apply(ARG) = %v, %v; want false, nil", ok, err)
	}
	if !reflect.DeepEqual(img.Config, storage.Config{Env: []string{"PATH=/bin"}}) {
		t.Errorf("config changed: %#v", img.Config)
	}
}

func TestArgCreatedBy(t *testing.T) {
	t.Parallel()
	v := "1"
	c := &bk.ArgCommand{Args: []bk.KeyValuePairOptional{{Key: "A", Value: &v}, {Key: "B"}}}
	if got := CreatedBy(c, nil); got != "ARG A=1 B" {
		t.Errorf("CreatedBy = %q, want %q", got, "ARG A=1 B")
	}
}
