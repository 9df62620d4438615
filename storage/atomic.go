package storage

import "go.podman.io/storage/pkg/ioutils"

// WriteFileAtomic replaces path with data (mode 0600) through a temporary file in the same
// directory and a rename: a reader finds the old file or the new one, never part of one. It does
// not fsync: what kiln writes this way (cache entries, records, container state) is only a
// shortcut or is written again when lost.
func WriteFileAtomic(path string, data []byte) error {
	return ioutils.AtomicWriteFileWithOpts(path, data, 0o600, &ioutils.AtomicFileWriterOptions{NoSync: true})
}
