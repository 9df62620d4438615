package overlay

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Xattr names overlay and containers/storage use for their own bookkeeping.
const (
	overlayTrustedPrefix = "trusted.overlay."
	overlayUserPrefix    = "user.overlay."
	overrideStatXattr    = "user.containers.override_stat"
	paxXattrPrefix       = "SCHILY.xattr."
)

// entryKind says how an upper directory entry appears in the layer.
type entryKind int

const (
	kindPlain    entryKind = iota // written as it is
	kindSkip                      // not written (sockets)
	kindWhiteout                  // written as a .wh. marker
	kindOpaque                    // a directory followed by .wh..wh..opq
)

// upperEntry is one upper directory entry, ready to write.
type upperEntry struct {
	kind entryKind
	hdr  *tar.Header
}

// header reads what the layer needs about the path name (full on disk,
// lstat st) and builds its tar header. Hard links are left to the caller.
func (d *differ) header(name, full string, st *unix.Stat_t) (upperEntry, error) {
	mtime := d.mtime(st)
	fileType := st.Mode & unix.S_IFMT
	if fileType == unix.S_IFCHR && st.Rdev == 0 {
		return upperEntry{kind: kindWhiteout, hdr: &tar.Header{ModTime: mtime}}, nil
	}
	tf, ok := typeflag(fileType)
	if !ok {
		return upperEntry{kind: kindSkip}, nil
	}
	hdr := &tar.Header{
		Typeflag: tf,
		Name:     name,
		Mode:     int64(st.Mode & 0o7777),
		Uid:      int(st.Uid),
		Gid:      int(st.Gid),
		ModTime:  mtime,
	}
	kind, err := d.applyXattrs(hdr, full)
	if err != nil || kind == kindWhiteout {
		return upperEntry{kind: kind, hdr: hdr}, err
	}
	switch tf {
	case tar.TypeDir:
		hdr.Name += "/"
	case tar.TypeReg:
		hdr.Size = st.Size
	case tar.TypeSymlink:
		if hdr.Linkname, err = os.Readlink(full); err != nil {
			return upperEntry{}, err
		}
	case tar.TypeChar, tar.TypeBlock:
		hdr.Devmajor = int64(unix.Major(uint64(st.Rdev)))
		hdr.Devminor = int64(unix.Minor(uint64(st.Rdev)))
	}
	if d.opts.IDMap != nil {
		hdr.Uid, hdr.Gid = d.opts.IDMap(hdr.Uid, hdr.Gid)
		if hdr.Uid < 0 || hdr.Gid < 0 {
			return upperEntry{}, fmt.Errorf("mapping owner of %s: id map gave %d:%d", name, hdr.Uid, hdr.Gid)
		}
	}
	return upperEntry{kind: kind, hdr: hdr}, nil
}

// typeflag returns the tar type for a file type a layer can hold; sockets
// and unknown types have none.
func typeflag(fileType uint32) (byte, bool) {
	switch fileType {
	case unix.S_IFREG:
		return tar.TypeReg, true
	case unix.S_IFDIR:
		return tar.TypeDir, true
	case unix.S_IFLNK:
		return tar.TypeSymlink, true
	case unix.S_IFCHR:
		return tar.TypeChar, true
	case unix.S_IFBLK:
		return tar.TypeBlock, true
	case unix.S_IFIFO:
		return tar.TypeFifo, true
	}
	return 0, false
}

// mtime is the modification time to write for st, in whole seconds and
// clamped to SourceDateEpoch.
func (d *differ) mtime(st *unix.Stat_t) time.Time {
	sec := int64(st.Mtim.Sec)
	if d.epoch != nil && sec > *d.epoch {
		sec = *d.epoch
	}
	return time.Unix(sec, 0).UTC()
}

// applyXattrs reads the xattrs of full into hdr: overlay's own decide the
// entry kind and are dropped, override_stat replaces ownership and
// permissions, and the rest become PAX records.
func (d *differ) applyXattrs(hdr *tar.Header, full string) (entryKind, error) {
	attrs, err := d.xbuf.read(full)
	if err != nil {
		return kindPlain, err
	}
	kind := kindPlain
	for _, a := range attrs {
		key, isOverlay := strings.CutPrefix(a.name, overlayTrustedPrefix)
		if !isOverlay {
			key, isOverlay = strings.CutPrefix(a.name, overlayUserPrefix)
		}
		switch {
		case isOverlay && key == "opaque" && a.value == "y" && hdr.Typeflag == tar.TypeDir:
			kind = kindOpaque
		case isOverlay && key == "whiteout" && hdr.Typeflag == tar.TypeReg:
			return kindWhiteout, nil
		case isOverlay && (key == "redirect" || key == "metacopy"):
			return kindPlain, fmt.Errorf("%s has xattr %s: %w", full, a.name, errors.ErrUnsupported)
		case isOverlay:
		case a.name == overrideStatXattr:
			o, err := parseOverrideStat(a.value)
			if err != nil {
				return kindPlain, fmt.Errorf("parsing %s of %s: %w", a.name, full, err)
			}
			hdr.Uid, hdr.Gid, hdr.Mode = o.uid, o.gid, o.mode
		default:
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = make(map[string]string, len(attrs))
			}
			hdr.PAXRecords[paxXattrPrefix+a.name] = a.value
		}
	}
	return kind, nil
}

// overrideStat is a parsed user.containers.override_stat value.
type overrideStat struct {
	uid, gid int
	mode     int64 // permission, setuid, setgid and sticky bits
}

// parseOverrideStat parses "UID:GID:MODE[:TYPE]" as containers/storage
// writes it (MODE octal with the setuid, setgid and sticky bits, TYPE such as
// "file" or "char-1-3") and as fuse-overlayfs writes it (MODE including the
// file type bits, no TYPE). The file type is taken from the file itself, so
// type bits and the TYPE field are ignored.
func parseOverrideStat(v string) (overrideStat, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 3 {
		return overrideStat{}, fmt.Errorf("%q is not UID:GID:MODE", v)
	}
	uid, err := strconv.ParseUint(parts[0], 10, 32)
	if err != nil {
		return overrideStat{}, fmt.Errorf("uid in %q: %w", v, err)
	}
	gid, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return overrideStat{}, fmt.Errorf("gid in %q: %w", v, err)
	}
	mode, err := strconv.ParseUint(parts[2], 8, 32)
	if err != nil {
		return overrideStat{}, fmt.Errorf("mode in %q: %w", v, err)
	}
	return overrideStat{uid: int(uid), gid: int(gid), mode: int64(mode & 0o7777)}, nil
}

// xattr is one extended attribute.
type xattr struct{ name, value string }

// xattrBuffers are reused across files: the kernel caps an xattr name list
// and an xattr value at 64 KiB each (XATTR_LIST_MAX, XATTR_SIZE_MAX).
type xattrBuffers struct{ names, value []byte }

const xattrMax = 64 << 10

// read returns the xattrs of path (not following symlinks), sorted by name.
func (b *xattrBuffers) read(path string) ([]xattr, error) {
	if b.names == nil {
		b.names, b.value = make([]byte, xattrMax), make([]byte, xattrMax)
	}
	n, err := unix.Llistxattr(path, b.names)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "llistxattr", Path: path, Err: err}
	}
	var attrs []xattr
	for name := range bytes.SplitSeq(b.names[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		vn, err := unix.Lgetxattr(path, string(name), b.value)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lgetxattr " + string(name), Path: path, Err: err}
		}
		attrs = append(attrs, xattr{name: string(name), value: string(b.value[:vn])})
	}
	slices.SortFunc(attrs, func(a, b xattr) int { return strings.Compare(a.name, b.name) })
	return attrs, nil
}
