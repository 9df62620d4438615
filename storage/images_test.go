package storage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"
)

// childOf commits an image with one more layer on top of parent's.
func childOf(t *testing.T, st *Store, parent *ImageRecord, salt, name string) *ImageRecord {
	t.Helper()
	ctx := context.Background()
	layer, err := st.PutLayer(ctx, parent.TopLayer, bytes.NewReader(tarOf(t, []entry{{name: "child-" + salt, body: salt, typ: '0', mode: 0o644}})))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := st.Config(ctx, parent)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	cfg.Created = &now
	res, err := st.Commit(ctx, CommitOptions{Config: cfg, TopLayer: layer.ID, Dest: name})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.Lookup(res.ID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestTagAndRemove(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	img := importRootfs(t, st, "tag", "app:v1")
	if err := st.Tag("app:v1", "app:v2", "quay.io/team/app:v3"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"app:v2", "localhost/app:v2", "quay.io/team/app:v3", img.ID[:12]} {
		if rec, err := st.Lookup(n); err != nil || rec.ID != img.ID {
			t.Fatalf("lookup %s after tag: %+v, %v", n, rec, err)
		}
	}
	if err := st.Tag("app:v1", "UPPER:case"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("tag UPPER:case: err = %v, want fs.ErrInvalid", err)
	}

	// One name of several: untag only.
	rep, err := st.Remove([]string{"app:v2"}, false)
	if err != nil || !slices.Equal(rep.Untagged, []string{"localhost/app:v2"}) || len(rep.Deleted) != 0 {
		t.Fatalf("rmi app:v2 = %+v, %v; want untagged localhost/app:v2 only", rep, err)
	}
	if _, err := st.Lookup("app:v2"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("app:v2 still found after untag: %v", err)
	}
	// By id while several names remain: refused without force.
	if _, err := st.Remove([]string{img.ID[:12]}, false); !errors.Is(err, ErrInUse) {
		t.Fatalf("rmi by id of a multi-named image: err = %v, want ErrInUse", err)
	}
	if err := st.Untag("quay.io/team/app:v3"); err != nil {
		t.Fatal(err)
	}
	// The last name deletes the image and its layer.
	rep, err = st.Remove([]string{"app:v1"}, false)
	if err != nil || !slices.Equal(rep.Deleted, []string{img.ID}) || !slices.Equal(rep.Untagged, []string{"localhost/app:v1"}) {
		t.Fatalf("rmi app:v1 = %+v, %v; want it untagged and deleted", rep, err)
	}
	if n := layerCount(t, st); n != 0 {
		t.Errorf("%d layers left after removing the only image", n)
	}
	if _, err := st.Remove([]string{"app:v1"}, false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rmi of a removed image: err = %v, want fs.ErrNotExist", err)
	}
}

func TestRemoveForceAndParents(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	base := importRootfs(t, st, "base", "base:v1")
	child := childOf(t, st, base, "one", "child:v1")

	sum, err := st.Summary(context.Background(), "child:v1")
	if err != nil || sum.Parent != base.ID {
		t.Fatalf("child's parent = %q (%v), want %s", sum.Parent, err, base.ID)
	}
	if _, err := st.Remove([]string{"base:v1"}, false); !errors.Is(err, ErrInUse) {
		t.Fatalf("rmi of an image with a child: err = %v, want ErrInUse", err)
	}
	// Untagged, the base is an intermediate image: hidden without All, and
	// removed with its last child.
	if err := st.Untag("base:v1"); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, st, ListOptions{}); !slices.Equal(got, []string{child.ID}) {
		t.Errorf("images = %v, want only the child %s", got, child.ID)
	}
	if got := ids(t, st, ListOptions{All: true}); len(got) != 2 {
		t.Errorf("images -a = %v, want both", got)
	}
	rep, err := st.Remove([]string{"child:v1"}, false)
	if err != nil || !slices.Equal(rep.Deleted, []string{child.ID, base.ID}) {
		t.Fatalf("rmi child = %+v, %v; want the child then its untagged parent deleted", rep, err)
	}

	// Force removes a parent but keeps what its child needs.
	base = importRootfs(t, st, "base2", "base:v2")
	child = childOf(t, st, base, "two", "child:v2")
	if _, err := st.Remove([]string{"base:v2"}, true); err != nil {
		t.Fatalf("rmi -f of a parent: %v", err)
	}
	if _, err := st.LayerChain(child.TopLayer); err != nil {
		t.Errorf("child lost its layers with the forced parent removal: %v", err)
	}
	var buf bytes.Buffer
	if err := st.Export(context.Background(), "child:v2", &buf); err != nil {
		t.Errorf("exporting the child after removing its parent: %v", err)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testStore(t)
	keep := importRootfs(t, st, "keep", "keep:v1")
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	entries := append(rootfs("dangling"), entry{name: "big", body: string(big), typ: '0', mode: 0o644})
	dangling := importTar(t, st, tarOf(t, entries), "", time.Time{})

	if rep, err := st.Prune(ctx, PruneOptions{Filters: []string{"until=1h"}}); err != nil || len(rep.Deleted) != 0 {
		t.Fatalf("prune until=1h of new images = %+v, %v; want nothing removed", rep, err)
	}
	rep, err := st.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Deleted, []string{dangling.ID}) {
		t.Fatalf("prune removed %v, want only the dangling %s", rep.Deleted, dangling.ID)
	}
	if rep.Reclaimed < 1<<20 || rep.Reclaimed > 1<<20+64<<10 {
		t.Errorf("prune reclaimed %d bytes, want the dangling image's 1 MiB and a little", rep.Reclaimed)
	}
	if got := ids(t, st, ListOptions{All: true}); !slices.Equal(got, []string{keep.ID}) {
		t.Errorf("after prune: %v, want only %s", got, keep.ID)
	}
	rep, err = st.Prune(ctx, PruneOptions{All: true})
	if err != nil || !slices.Equal(rep.Deleted, []string{keep.ID}) || rep.Reclaimed <= 0 {
		t.Fatalf("prune -a = %+v, %v; want %s removed", rep, err, keep.ID)
	}
	if _, err := st.Prune(ctx, PruneOptions{Filters: []string{"dangling=true"}}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("prune --filter dangling=true: err = %v, want fs.ErrInvalid", err)
	}
}

func TestImageFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testStore(t)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	labeled := &Image{OS: "linux", Architecture: "amd64", Config: Config{Labels: map[string]string{"tier": "web"}}}
	a, err := st.Import(ctx, ImportOptions{Source: bytes.NewReader(tarOf(t, rootfs("a"))), Name: "team/alpha:v1", Config: labeled, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	b := importTar(t, st, tarOf(t, rootfs("b")), "quay.io/team/beta:v1", t0.Add(time.Hour))
	c := importTar(t, st, tarOf(t, rootfs("c")), "", t0.Add(2*time.Hour))
	for _, tc := range []struct {
		filters []string
		want    []string
	}{
		{nil, []string{c.ID, b.ID, a.ID}},
		{[]string{"dangling=true"}, []string{c.ID}},
		{[]string{"dangling=false"}, []string{b.ID, a.ID}},
		{[]string{"reference=team/alpha"}, []string{a.ID}},
		{[]string{"reference=localhost/team/*:v1"}, []string{a.ID}},
		{[]string{"reference=*/team/*"}, []string{b.ID, a.ID}},
		{[]string{"reference=quay.io/team/beta:v1"}, []string{b.ID}},
		{[]string{"reference=team/alpha", "reference=quay.io/*/*"}, []string{b.ID, a.ID}},
		{[]string{"label=tier"}, []string{a.ID}},
		{[]string{"label=tier=web"}, []string{a.ID}},
		{[]string{"label=tier=db"}, nil},
		{[]string{"label!=tier"}, []string{c.ID, b.ID}},
		{[]string{"since=team/alpha:v1"}, []string{c.ID, b.ID}},
		{[]string{"before=quay.io/team/beta:v1"}, []string{a.ID}},
		{[]string{"since=team/alpha:v1", "dangling=false"}, []string{b.ID}},
		{[]string{"until=2024-01-01T01:30:00Z"}, []string{b.ID, a.ID}},
		{[]string{"id=" + b.ID[:8]}, []string{b.ID}},
	} {
		got := ids(t, st, ListOptions{Filters: tc.filters})
		if !slices.Equal(got, tc.want) {
			t.Errorf("filters %v: got %v, want %v", tc.filters, got, tc.want)
		}
	}
	for _, bad := range []string{"colour=red", "dangling=maybe", "before=missing:v1", "until=soon", "reference"} {
		if _, err := st.Images(ctx, ListOptions{Filters: []string{bad}}); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
}
