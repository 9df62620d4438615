package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	cstorage "go.podman.io/storage"
)

// CheckOptions select how deep Check looks.
type CheckOptions struct {
	// Quick skips reconstructing every layer's diff and comparing its digest.
	Quick bool
	// UnreferencedMaxAge is how old a layer no image or container uses may get before it counts
	// as a problem; zero means containers/storage's default (a day).
	UnreferencedMaxAge time.Duration
}

// Problem is one thing wrong in the store.
type Problem struct {
	Kind string // "layer", "read-only layer", "image", "read-only image", "container"
	ID   string
	Err  error
}

// String describes the problem on one line.
func (p Problem) String() string { return fmt.Sprintf("%s %s: %v", p.Kind, p.ID, p.Err) }

// CheckReport is what Check found; Repair takes it back.
type CheckReport struct {
	Problems []Problem
	raw      cstorage.CheckReport
}

// OK reports whether the store had no problems.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// Check verifies the store's layers, images and containers: the layers can be mounted, their
// diffs still have the recorded digests and the images' data items are there with their sizes.
// Work layers are not checked: those of kiln processes that are gone are removed first, the
// others are in use by running builds.
func (st *Store) Check(opts CheckOptions) (*CheckReport, error) {
	co := cstorage.CheckEverything()
	// Comparing every file of every layer against its diff is slow and, for layers a single-id
	// build wrote, reports the owners kept in xattrs as changes: the digests cover the content.
	co.LayerContents = false
	// Where the store cannot mount (a mount program without /dev/fuse: builds then mount kernel
	// overlay themselves), mounting is not a property of a layer.
	co.LayerMountable = st.CanMountWork()
	if opts.Quick {
		co.LayerDigests = false
	}
	if opts.UnreferencedMaxAge > 0 {
		age := opts.UnreferencedMaxAge
		co.LayerUnreferencedMaximumAge = &age
	}
	// What killed builds left behind is not damage: it goes, as the next build would remove it.
	if _, err := st.RemoveStaleWorkLayers(); err != nil {
		return nil, err
	}
	if err := removeStaleWorkDirs(st.workDirBase()); err != nil {
		return nil, err
	}
	raw, err := st.s.Check(co)
	if err != nil {
		return nil, fmt.Errorf("checking store: %w", err)
	}
	work, err := st.workLayers()
	if err != nil {
		return nil, err
	}
	for id := range work {
		delete(raw.Layers, id)
	}
	for id := range raw.Layers {
		if probeDir.MatchString(id) {
			delete(raw.Layers, id)
			removeStaleProbe(filepath.Join(st.GraphRoot(), st.Driver(), id))
		}
	}
	rep := &CheckReport{raw: raw}
	for _, g := range []struct {
		kind string
		m    map[string][]error
	}{{"layer", raw.Layers}, {"read-only layer", raw.ROLayers}, {"image", raw.Images},
		{"read-only image", raw.ROImages}, {"container", raw.Containers}} {
		for id, errs := range g.m {
			for _, e := range errs {
				rep.Problems = append(rep.Problems, Problem{Kind: g.kind, ID: id, Err: e})
			}
		}
	}
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].String() < rep.Problems[j].String() })
	return rep, nil
}

// probeDir names the directories the overlay driver makes in its home to probe the kernel's
// overlay features (os.MkdirTemp(home, "compat")). The store's check counts them as layers it
// does not know; one is left behind when a kiln is killed while its store starts.
var probeDir = regexp.MustCompile(`^compat[0-9]+$`)

// removeStaleProbe removes a probe directory left more than a minute ago: a probe in progress
// takes milliseconds, and its mounts die with the process that made them.
func removeStaleProbe(dir string) {
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > time.Minute {
		_ = os.RemoveAll(dir)
	}
}

// Repair removes what rep found damaged: images with damaged layers, damaged layers, and the
// containers that use them. Removed images have to be pulled or built again.
func (st *Store) Repair(rep *CheckReport) error {
	if rep == nil || rep.OK() {
		return nil
	}
	errs := st.s.Repair(rep.raw, cstorage.RepairEverything())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("repairing store: %w", err)
	}
	return nil
}
