package storage

import "path/filepath"

// Adding an image is two steps in containers/storage: the image record is created without
// names, then named. A prune in between sees an untagged image, removes it and its new layers,
// and the build or pull fails with "layer not known". Writers of images hold this lock shared
// while they add one; Prune holds it exclusive.
const pruneLockFile = "kiln-prune.lock"

// lockAgainstPrune takes the prune lock, shared (adding an image) or exclusive (pruning), and
// returns its release.
func (st *Store) lockAgainstPrune(exclusive bool) (func(), error) {
	return flock(filepath.Join(st.GraphRoot(), pruneLockFile), exclusive)
}
