package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/blobinfocache/memory"
	"go.podman.io/image/v5/types"
)

func testEntry(i int, repo string, seen time.Time) blobEntry {
	return blobEntry{
		DiffID: digest.FromString(fmt.Sprint("diff", i)), Digest: digest.FromString(fmt.Sprint("blob", i)),
		Size: int64(i), MediaType: v1.MediaTypeImageLayerGzip, Host: "registry.test", Repo: repo, Seen: seen,
	}
}

func TestBlobRecordConcurrentWriters(t *testing.T) {
	t.Parallel()
	r := &blobRecord{path: filepath.Join(t.TempDir(), "kiln", "blobinfo.json"), max: maxBlobEntries}
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- r.update([]blobEntry{testEntry(w*each+i, "repo", time.Now())}, nil)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := r.load()
	if len(got) != writers*each {
		t.Fatalf("record holds %d entries after %d concurrent updates, want all of them", len(got), writers*each)
	}
	// Adding an entry again refreshes it instead of duplicating it; drop removes it.
	e := testEntry(3, "repo", time.Now().Add(time.Hour))
	if err := r.update([]blobEntry{e, e}, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(r.load()); n != writers*each {
		t.Errorf("record holds %d entries after re-adding one, want %d", n, writers*each)
	}
	if err := r.update(nil, []blobEntry{e}); err != nil {
		t.Fatal(err)
	}
	if n := len(r.load()); n != writers*each-1 {
		t.Errorf("record holds %d entries after dropping one, want %d", n, writers*each-1)
	}
	if m := r.lookup("registry.test")[testEntry(4, "", time.Time{}).DiffID]; len(m) != 1 || m[0].Digest != testEntry(4, "", time.Time{}).Digest {
		t.Errorf("lookup of diff id 4 gave %+v", m)
	}
	if m := r.lookup("other.test"); len(m) != 0 {
		t.Errorf("lookup of another host gave %d entries", len(m))
	}
}

// The corrupt-file case changes logrus's global level and output, so it does not run in parallel.
func TestBlobRecordCorruptFile(t *testing.T) {
	r := &blobRecord{path: filepath.Join(t.TempDir(), "blobinfo.json"), max: maxBlobEntries}
	var logged bytes.Buffer
	level, out := logrus.GetLevel(), logrus.StandardLogger().Out
	logrus.SetLevel(logrus.DebugLevel)
	logrus.SetOutput(&logged)
	t.Cleanup(func() { logrus.SetLevel(level); logrus.SetOutput(out) })
	for _, bad := range []string{`{"version":1,"entries":[{"diffID":`, "\x00\x01garbage", `{"version":99,"entries":[]}`} {
		if err := os.WriteFile(r.path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		logged.Reset()
		if got := r.load(); got != nil {
			t.Errorf("corrupt record %q loaded as %+v", bad, got)
		}
		if !strings.Contains(logged.String(), "Ignoring") || !strings.Contains(logged.String(), "level=debug") {
			t.Errorf("corrupt record %q: debug log %q", bad, logged.String())
		}
		if err := r.update([]blobEntry{testEntry(1, "repo", time.Now())}, nil); err != nil {
			t.Fatalf("updating over corrupt record %q: %v", bad, err)
		}
		if got := r.load(); len(got) != 1 || got[0].Digest != testEntry(1, "", time.Time{}).Digest {
			t.Errorf("record rewritten over %q holds %+v", bad, got)
		}
	}
}

func TestBlobRecordBounded(t *testing.T) {
	t.Parallel()
	r := &blobRecord{path: filepath.Join(t.TempDir(), "blobinfo.json"), max: 10}
	start := time.Now()
	for i := range 25 {
		if err := r.update([]blobEntry{testEntry(i, "repo", start.Add(time.Duration(i)*time.Second))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := r.load()
	if len(got) != 10 {
		t.Fatalf("bounded record holds %d entries, want 10", len(got))
	}
	for _, e := range got {
		if e.Size < 15 {
			t.Errorf("record kept entry %d, one of the oldest", e.Size)
		}
	}
	if fi, err := os.Stat(r.path); err != nil || fi.Size() > 10*400 {
		t.Errorf("record file: %v, size %d", err, fi.Size())
	}
}

// recordCompressor reaches an internal method of containers/image's memory cache by reflection;
// this fails if a new containers/image changes it, and checks that the docker transport is then
// offered the recorded location as a mount candidate.
func TestRecordCompressorOffersMount(t *testing.T) {
	t.Parallel()
	d := digest.FromString("blob")
	cache := memory.New()
	cache.RecordKnownLocation(docker.Transport, types.BICTransportScope{Opaque: "registry.test"}, d,
		types.BICLocationReference{Opaque: "registry.test/other/repo"})
	candidates := func() int {
		m := reflect.ValueOf(cache).MethodByName("CandidateLocations2")
		if !m.IsValid() || m.Type().NumIn() != 4 {
			t.Fatal("the memory cache has no CandidateLocations2(transport, scope, digest, options)")
		}
		opts := reflect.New(m.Type().In(3)).Elem()
		res := m.Call([]reflect.Value{reflect.ValueOf(docker.Transport), reflect.ValueOf(types.BICTransportScope{Opaque: "registry.test"}),
			reflect.ValueOf(d), opts})
		return res[0].Len()
	}
	if n := candidates(); n != 0 {
		t.Fatalf("%d candidates before the compression is known, want none (containers/image changed?)", n)
	}
	if err := recordCompressor(cache, d, "gzip"); err != nil {
		t.Fatal(err)
	}
	if n := candidates(); n != 1 {
		t.Errorf("%d candidates after recordCompressor, want the recorded location", n)
	}
}

func TestImageBlobs(t *testing.T) {
	t.Parallel()
	cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":["` + digest.FromString("d0").String() + `","` + digest.FromString("d1").String() + `"]}}`)
	cfgDigest := digest.FromBytes(cfg)
	man, err := json.Marshal(v1.Manifest{
		MediaType: v1.MediaTypeImageManifest,
		Config:    v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfg))},
		Layers: []v1.Descriptor{
			{MediaType: v1.MediaTypeImageLayerGzip, Digest: digest.FromString("c0"), Size: 10},
			{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromString("d1"), Size: 20}, // uncompressed: nothing to record
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	man = append([]byte(`{"schemaVersion":2,`), man[1:]...)
	r := blobReader{config: func(_ context.Context, d digest.Digest) ([]byte, error) {
		if d != cfgDigest {
			return nil, fmt.Errorf("config %s asked for", d)
		}
		return cfg, nil
	}}
	got, err := seenBlobs(context.Background(), man, r, "registry.test", "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Digest != cfgDigest || got[1].DiffID != digest.FromString("d0") || got[1].Digest != digest.FromString("c0") ||
		got[1].Size != 10 || got[1].Host != "registry.test" || got[1].Repo != "app" {
		t.Errorf("seenBlobs gave %+v", got)
	}
}
