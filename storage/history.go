package storage

import (
	"context"
	"slices"
	"time"
)

// HistoryEntry is one step of an image's history, newest first, with the
// size of the layer it made. JSON keys are podman's.
type HistoryEntry struct {
	// ID is the image id on the newest entry and "<missing>" elsewhere,
	// as podman shows it.
	ID        string     `json:"id"`
	Created   *time.Time `json:"created,omitempty"`
	CreatedBy string     `json:"CreatedBy,omitempty"`
	Tags      []string   `json:"tags,omitempty"`
	Size      int64      `json:"size"`
	Comment   string     `json:"comment,omitempty"`
}

// History reads the history of the image found by name, newest first.
func (st *Store) History(ctx context.Context, name string) ([]HistoryEntry, error) {
	rec, err := st.Lookup(name)
	if err != nil {
		return nil, err
	}
	cfg, _, err := st.storedConfig(ctx, rec)
	if err != nil {
		return nil, err
	}
	chain, err := st.LayerChain(rec.TopLayer)
	if err != nil {
		return nil, err
	}
	entries := historyEntries(cfg.History, chain)
	slices.Reverse(entries)
	if len(entries) > 0 {
		entries[0].ID = rec.ID
		entries[0].Tags = slices.Clone(rec.Names)
	}
	return entries, nil
}

// historyEntries pairs the history entries that made layers with the
// layers, oldest first. Layers the history doesn't account for get an
// entry of their own, as with images written without history.
func historyEntries(hist []History, chain []*Layer) []HistoryEntry {
	var out []HistoryEntry
	next := 0
	for _, h := range hist {
		e := HistoryEntry{ID: "<missing>", Created: h.Created, CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !h.EmptyLayer && next < len(chain) {
			e.Size = chain[next].Size
			next++
		}
		out = append(out, e)
	}
	for ; next < len(chain); next++ {
		out = append(out, HistoryEntry{ID: "<missing>", Size: chain[next].Size})
	}
	return out
}
