package storage

import (
	"context"
	"sort"
)

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes every image no container uses, not only dangling ones.
	All bool
	// Filters are podman's prune filters: until=, label=, label!=.
	Filters []string
}

// Prune removes dangling images (untagged, with no children), or with All
// every image no container uses. Removing an image can leave its parent
// unused, so it repeats until nothing more goes.
func (st *Store) Prune(ctx context.Context, opts PruneOptions) (*RemoveReport, error) {
	filter, err := st.parseFilters(opts.Filters, pruneFilterKeys)
	if err != nil {
		return nil, err
	}
	unlock, err := st.lockAgainstPrune(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &RemoveReport{}
	for {
		inv, err := st.inventory()
		if err != nil {
			return rep, err
		}
		victims := st.pruneCandidates(ctx, inv, opts.All, filter)
		if len(victims) == 0 {
			return rep, nil
		}
		for _, id := range victims {
			r, err := st.deleteImage(inv, inv.byID[id])
			rep.add(r)
			if err != nil {
				return rep, err
			}
		}
	}
}

// pruneCandidates lists the images Prune may remove this round, oldest
// first so that output is stable.
func (st *Store) pruneCandidates(ctx context.Context, inv *inventory, all bool, filter *imageFilter) []string {
	var out []*ImageSummary
	listed := st.listedImages(inv)
	for i := range inv.images {
		img := &inv.images[i]
		if img.ReadOnly || len(inv.used[img.ID]) > 0 || len(inv.children[img.ID]) > 0 || listed[img.ID] && !all {
			continue
		}
		if !all && len(img.Names) > 0 {
			continue
		}
		s := st.summary(ctx, inv, img)
		if filter.match(s) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	ids := make([]string, len(out))
	for i, s := range out {
		ids[i] = s.ID
	}
	return ids
}
