package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestVolume(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "word list and JSON forms",
		src:  "VOLUME /a /b\nVOLUME [\"/c\", \"/d e\"]\n",
		want: storage.Config{Volumes: ports("/a", "/b", "/c", "/d e")},
	}, {
		name: "paths are kept as written",
		src:  "VOLUME /data/ /x/../y\n",
		want: storage.Config{Volumes: ports("/data/", "/x/../y")},
	}, {
		name: "merges with the base, expands variables",
		base: storage.Config{Volumes: ports("/base")},
		src:  "ENV D=/data\nVOLUME $D\n",
		want: storage.Config{Env: []string{"D=/data"}, Volumes: ports("/base", "/data")},
	}, {
		name:    "empty after expansion",
		src:     "VOLUME /ok $EMPTY\n",
		wantErr: "empty volume path",
	}})
}
