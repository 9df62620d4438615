package overlay

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// OCI whiteout names (image-spec, layer.md).
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = whiteoutPrefix + whiteoutPrefix + ".opq"
)

// Buffer sizes: file contents are copied through one reusable buffer, and
// the output is batched so that 512-byte tar headers do not each become a
// write on the caller's writer.
const (
	copyBufferSize   = 1 << 20
	outputBufferSize = 64 << 10
)

// DiffOptions adjusts the layer Diff writes. The zero value writes the upper
// directory as it is on disk.
type DiffOptions struct {
	// SourceDateEpoch, when set, clamps every modification time in the
	// layer to at most this time, as BuildKit's rewrite-timestamp does.
	// Access and change times are never written either way.
	SourceDateEpoch *time.Time

	// IDMap, when set, maps the ownership recorded in the upper directory
	// (from stat, or from user.containers.override_stat) to the uid and
	// gid written in the layer, for callers whose upper directory holds
	// host ids. Nil keeps the ids as recorded.
	IDMap func(uid, gid int) (int, int)

	// NoDigest leaves DiffResult.DiffID empty, for a caller that hashes
	// the tar as it reads it anyway.
	NoDigest bool
}

// DiffResult describes the layer tar Diff wrote.
type DiffResult struct {
	// DiffID is the sha256 digest of the uncompressed tar bytes.
	DiffID digest.Digest
	// Size is the number of tar bytes written.
	Size int64
}

// Diff writes to w an uncompressed OCI layer tar of everything in the
// overlay upper directory upper, reading nothing else, so its cost follows
// what changed rather than the size of the image below.
//
// Entries come in the order filepath.WalkDir visits them: each directory's
// entries sorted by name, a directory's contents right after it; names are
// relative, and directories end in "/". Overlay whiteouts (0/0 character
// devices, or files marked with an overlay.whiteout xattr) become ".wh.NAME"
// entries, and an opaque directory is followed by its ".wh..wh..opq"
// marker; both markers are empty files with mode 0 owned by 0:0. A second
// path to an inode already written becomes a hard link to the first.
// Sockets are skipped. Overlay's own xattrs are dropped, a
// user.containers.override_stat xattr replaces uid, gid and permission bits,
// and all other xattrs are kept as PAX SCHILY.xattr records. Modification
// times are whole seconds, so the same tree always gives the same bytes.
//
// Diff fails with an error wrapping [errors.ErrUnsupported] if the upper
// directory uses overlay redirects or metacopy (which keep part of a file's
// state in the lower layers) or holds a name starting with ".wh.". On any
// error w may hold part of a tar, which the caller discards.
func Diff(ctx context.Context, upper string, w io.Writer, opts DiffOptions) (DiffResult, error) {
	var st unix.Stat_t
	if err := unix.Lstat(upper, &st); err != nil {
		return DiffResult{}, fmt.Errorf("diffing %s: %w", upper, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return DiffResult{}, fmt.Errorf("diffing %s: %w", upper, unix.ENOTDIR)
	}
	out := bufio.NewWriterSize(w, outputBufferSize)
	hw := &hashWriter{w: out}
	if !opts.NoDigest {
		hw.h = digest.SHA256.Hash()
	}
	d := &differ{
		ctx:   ctx,
		root:  upper,
		opts:  opts,
		tw:    tar.NewWriter(hw),
		buf:   make([]byte, copyBufferSize),
		links: make(map[fileID]string),
	}
	if e := opts.SourceDateEpoch; e != nil {
		sec := e.Unix()
		d.epoch = &sec
	}
	err := d.walkDir("")
	if err == nil {
		err = d.tw.Close()
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return DiffResult{}, fmt.Errorf("diffing %s: %w", upper, err)
	}
	res := DiffResult{Size: hw.n}
	if hw.h != nil {
		res.DiffID = digest.NewDigest(digest.SHA256, hw.h)
	}
	return res, nil
}

// hashWriter passes writes on while hashing (unless h is nil) and counting
// them.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	if hw.h != nil {
		hw.h.Write(p[:n])
	}
	hw.n += int64(n)
	return n, err
}

// fileID identifies an inode, to find hard links.
type fileID struct{ dev, ino uint64 }

// differ holds the state of one Diff call.
type differ struct {
	ctx   context.Context
	root  string
	opts  DiffOptions
	epoch *int64 // SourceDateEpoch in whole seconds
	tw    *tar.Writer
	buf   []byte            // file contents
	xbuf  xattrBuffers      // xattr names and values
	links map[fileID]string // first name written for each multiply linked inode
}

// walkDir writes the entries of the directory rel ("" for the root) and,
// depth first, everything below them.
func (d *differ) walkDir(rel string) error {
	entries, err := os.ReadDir(filepath.Join(d.root, rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if rel != "" {
			name = rel + "/" + name
		}
		if err := d.entry(name); err != nil {
			return err
		}
	}
	return nil
}

// entry writes the tar entries for the path name, relative to the root,
// and recurses into it if it is a directory.
func (d *differ) entry(name string) error {
	full := filepath.Join(d.root, name)
	var st unix.Stat_t
	if err := unix.Lstat(full, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: full, Err: err}
	}
	e, err := d.header(name, full, &st)
	if err != nil {
		return err
	}
	switch e.kind {
	case kindSkip:
		return nil
	case kindWhiteout:
		dir, base := path.Split(name)
		return d.writeMarker(dir+whiteoutPrefix+base, e.hdr.ModTime)
	}
	if strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return fmt.Errorf("%s: name reserved for OCI whiteouts: %w", name, errors.ErrUnsupported)
	}
	if e.hdr.Typeflag != tar.TypeDir && uint64(st.Nlink) > 1 {
		id := fileID{dev: uint64(st.Dev), ino: st.Ino}
		if first, ok := d.links[id]; ok {
			e.hdr.Typeflag, e.hdr.Linkname, e.hdr.Size, e.hdr.PAXRecords = tar.TypeLink, first, 0, nil
		} else {
			d.links[id] = name
		}
	}
	if err := d.tw.WriteHeader(e.hdr); err != nil {
		return fmt.Errorf("writing header of %s: %w", name, err)
	}
	switch {
	case e.hdr.Typeflag == tar.TypeReg && e.hdr.Size > 0:
		return d.copyFile(name, full, e.hdr.Size)
	case e.hdr.Typeflag == tar.TypeDir:
		if e.kind == kindOpaque {
			if err := d.writeMarker(name+"/"+opaqueMarker, e.hdr.ModTime); err != nil {
				return err
			}
		}
		return d.walkDir(name)
	}
	return nil
}

// writeMarker writes an empty whiteout or opaque marker file.
func (d *differ) writeMarker(name string, mtime time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, ModTime: mtime}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing whiteout %s: %w", name, err)
	}
	return nil
}

// copyFile writes size bytes of the regular file full into the current tar
// entry, checking for cancellation between chunks. It reads with plain
// system calls: an *os.File would register each file with the poller.
func (d *differ) copyFile(name, full string, size int64) error {
	fd, err := unix.Open(full, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: full, Err: err}
	}
	defer unix.Close(fd)
	for size > 0 {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		n, err := unix.Read(fd, d.buf[:min(int64(len(d.buf)), size)])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return &fs.PathError{Op: "read", Path: full, Err: err}
		case n == 0:
			return fmt.Errorf("reading %s: file shrank while diffing", full)
		}
		if _, err := d.tw.Write(d.buf[:n]); err != nil {
			return fmt.Errorf("writing contents of %s: %w", name, err)
		}
		size -= int64(n)
	}
	return nil
}
