package instructions

import (
	"reflect"
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestMaintainer(t *testing.T) {
	t.Parallel()
	img := &storage.Image{Author: "old", Config: storage.Config{User: "u"}}
	if err := run(t, &State{Image: img}, "MAINTAINER Jane Doe <jane@example.com>\n"); err != nil {
		t.Fatal(err)
	}
	want := &storage.Image{Author: "Jane Doe <jane@example.com>", Config: storage.Config{User: "u"}}
	if !reflect.DeepEqual(img, want) {
		t.Errorf("image = %#v, want %#v", img, want)
	}
}
