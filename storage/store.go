package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/unshare"
	"go.podman.io/storage/types"
)

// Options select the store. Empty fields take storage.conf's values, as
// podman does.
type Options struct {
	Root          string
	RunRoot       string
	Driver        string
	DriverOptions []string
	// SingleID says only one id is mapped (rootless without /etc/subuid):
	// layers then keep their other owners in the user.containers.override_stat
	// xattr, which needs fuse-overlayfs for writable layers.
	SingleID bool
}

// Store is an open containers/storage store. Close releases it.
type Store struct {
	s cstorage.Store
	// DriverReason says why the driver in use was chosen, for kiln info.
	DriverReason string
	// Rootless is true when running as an unprivileged user in a user
	// namespace.
	Rootless bool
	// staleOnce removes what killed kilns left in this store, before its first work directory.
	staleOnce sync.Once
	staleErr  error
	// adoptOnce decides CanAdoptUpper once: asking the store for its driver takes its lock.
	adoptOnce sync.Once
	canAdopt  bool
}

// Open opens (creating if needed) the store selected by opts.
func Open(ctx context.Context, opts Options) (*Store, error) {
	so, err := types.DefaultStoreOptions()
	if err != nil {
		return nil, fmt.Errorf("reading storage configuration: %w", err)
	}
	if opts.Root != "" {
		so.GraphRoot = opts.Root
	}
	if opts.RunRoot != "" {
		so.RunRoot = opts.RunRoot
	}
	if len(opts.DriverOptions) > 0 {
		so.GraphDriverOptions = append(so.GraphDriverOptions, opts.DriverOptions...)
	}
	st := &Store{Rootless: unshare.IsRootless()}
	if opts.SingleID {
		return st.openSingleID(so, opts.Driver)
	}
	switch {
	case opts.Driver != "":
		so.GraphDriverName = opts.Driver
		st.DriverReason = "chosen with --storage-driver"
	case so.GraphDriverName != "":
		st.DriverReason = "configured in storage.conf"
	}
	if so.GraphDriverName != "" {
		s, err := cstorage.GetStore(so)
		if err != nil {
			return nil, fmt.Errorf("opening store %s with driver %s: %w", so.GraphRoot, so.GraphDriverName, err)
		}
		st.s = s
		return st, nil
	}
	return st.openDetected(so)
}

// openDetected tries kernel overlay, then fuse-overlayfs, then vfs, and
// remembers why it settled where it did.
func (st *Store) openDetected(so types.StoreOptions) (*Store, error) {
	var errs []error
	so.GraphDriverName = "overlay"
	s, err := cstorage.GetStore(so)
	if err == nil {
		st.s, st.DriverReason = s, "kernel overlay mounts work here"
		return st, nil
	}
	errs = append(errs, fmt.Errorf("kernel overlay: %w", err))
	if fuse, lerr := exec.LookPath("fuse-overlayfs"); lerr == nil {
		fso := so
		fso.GraphDriverOptions = append(append([]string{}, so.GraphDriverOptions...), "overlay.mount_program="+fuse)
		if s, err := cstorage.GetStore(fso); err == nil {
			st.s, st.DriverReason = s, "kernel overlay cannot mount here ("+firstLine(err)+"); using fuse-overlayfs"
			return st, nil
		} else {
			errs = append(errs, fmt.Errorf("fuse-overlayfs: %w", err))
		}
	}
	so.GraphDriverName = "vfs"
	s, err = cstorage.GetStore(so)
	if err != nil {
		errs = append(errs, fmt.Errorf("vfs: %w", err))
		return nil, fmt.Errorf("opening store %s: %w", so.GraphRoot, errors.Join(errs...))
	}
	st.s, st.DriverReason = s, "neither kernel overlay nor fuse-overlayfs work here; vfs copies every layer"
	return st, nil
}

// openSingleID opens the store for a user namespace with one id: overlay
// through fuse-overlayfs with a forced mask (owners in xattrs), else vfs
// ignoring chown errors, which loses other owners.
func (st *Store) openSingleID(so types.StoreOptions, driver string) (*Store, error) {
	so.GraphDriverOptions = append(so.GraphDriverOptions, "overlay.ignore_chown_errors=true", "vfs.ignore_chown_errors=true")
	fuse, lerr := exec.LookPath("fuse-overlayfs")
	if (driver == "" || driver == "overlay") && lerr == nil {
		fso := so
		fso.GraphDriverName = "overlay"
		fso.GraphDriverOptions = append(append([]string{}, so.GraphDriverOptions...),
			"overlay.mount_program="+fuse, "overlay.force_mask=shared")
		s, err := cstorage.GetStore(fso)
		if err == nil {
			st.s, st.DriverReason = s, "single-id user namespace: fuse-overlayfs keeps other owners in xattrs"
			return st, nil
		}
		if driver == "overlay" {
			return nil, fmt.Errorf("opening store %s with fuse-overlayfs: %w", so.GraphRoot, err)
		}
	}
	so.GraphDriverName = "vfs"
	s, err := cstorage.GetStore(so)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", so.GraphRoot, err)
	}
	st.s, st.DriverReason = s, "single-id user namespace without fuse-overlayfs: vfs, owners other than root are lost"
	return st, nil
}

func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// Close releases the store's driver. Mounts made by this process are
// unmounted first so that nothing is left behind.
func (st *Store) Close() error {
	if st == nil || st.s == nil {
		return nil
	}
	if _, err := st.s.Shutdown(false); err != nil {
		return fmt.Errorf("shutting down store: %w", err)
	}
	return nil
}

// Driver is the name of the storage driver in use.
func (st *Store) Driver() string { return st.s.GraphDriverName() }

// GraphRoot is where layers and images are kept.
func (st *Store) GraphRoot() string { return st.s.GraphRoot() }

// RunRoot is where run-time state is kept.
func (st *Store) RunRoot() string { return st.s.RunRoot() }

// DriverOptions are the driver options in effect.
func (st *Store) DriverOptions() []string { return st.s.GraphOptions() }

// ensureDir makes a directory owned by the store's user.
func ensureDir(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	return nil
}
