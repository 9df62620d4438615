package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Work directories are the cheap alternative to work layers: kiln mounts kernel overlay itself
// over the stored layers' directories, with its upper and work directories here, instead of
// asking the store to create, mount, unmount and delete a layer for every step (four writes of
// the store's metadata, a third of a trivial RUN step's time). Each is named after its process,
// as work layers are, so that the next kiln removes those a killed one left.

// OwnWorkPreferred reports whether steps should run on work directories rather than work layers:
// where the store keeps layers as kernel overlay directories. An upper directory made there is
// on the file system of the store's layers and moves into the store as it is.
func (st *Store) OwnWorkPreferred() bool {
	return st.Driver() == "overlay" && !st.hasMountProgram()
}

// workDirBase is the directory work directories go in. With the overlay driver and no mount
// program it is inside the driver's own directory, which the driver mounts on itself: a
// directory anywhere else would be on another mount, and moving its upper into a layer would
// fail with EXDEV. There it is under "tempdirs", the one entry of the driver's directory that
// neither counts as a layer (a store check would report any other as damage) nor is pruned:
// the store removes only its own temp-dir-* and lock-* entries there.
func (st *Store) workDirBase() string {
	if st.OwnWorkPreferred() {
		return filepath.Join(st.GraphRoot(), "overlay", "tempdirs", "kiln-work")
	}
	return filepath.Join(st.GraphRoot(), "kiln-work")
}

// NewWorkDir creates an empty work directory for one step. The caller removes it.
func (st *Store) NewWorkDir() (string, error) {
	base := st.workDirBase()
	st.staleOnce.Do(func() {
		// A killed kiln leaves work directories and layers behind: the next one removes them.
		_, err := st.RemoveStaleWorkLayers()
		st.staleErr = errors.Join(err, removeStaleWorkDirs(base))
	})
	if st.staleErr != nil {
		return "", st.staleErr
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("creating work directory: %w", err)
	}
	dir := filepath.Join(base, workLayerName())
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating work directory: %w", err)
	}
	return dir, nil
}

// removeStaleWorkDirs removes the work directories under base of kiln processes that are gone.
func removeStaleWorkDirs(base string) error {
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing work directories: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), workLayerPrefix) || !staleWorkLayer([]string{e.Name()}) {
			continue
		}
		// A killed step's mount died with kiln's mount namespace; only the files are left.
		if err := os.RemoveAll(filepath.Join(base, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("removing stale work directory: %w", err))
		}
	}
	return errors.Join(errs...)
}
