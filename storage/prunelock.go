package storage

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Adding an image is two steps in containers/storage: the image record is created without
// names, then named. A prune in between sees an untagged image, removes it and its new layers,
// and the build or pull fails with "layer not known". Writers of images hold this lock shared
// while they add one; Prune holds it exclusive.
const pruneLockFile = "kiln-prune.lock"

// lockAgainstPrune takes the prune lock, shared (adding an image) or exclusive (pruning), and
// returns its release.
func (st *Store) lockAgainstPrune(exclusive bool) (func(), error) {
	p := filepath.Join(st.GraphRoot(), pruneLockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening prune lock %s: %w", p, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	return func() { f.Close() }, nil
}
