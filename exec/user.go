package exec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// User is the identity a step's process runs as: the ids of a USER string
// resolved against the image, as docker and runc resolve them.
type User struct {
	UID, GID uint32
	// AdditionalGIDs are the groups of /etc/group that list the user by
	// name, in file order, when USER names no group explicitly; nil if none.
	AdditionalGIDs []uint32
	// Home is the user's home directory from /etc/passwd, or "/".
	Home string
}

// ErrUnknownUser is wrapped when USER names a user or group that the image's
// /etc/passwd or /etc/group does not define.
var ErrUnknownUser = errors.New("no such user or group")

// maxID is the largest uid or gid a USER string may give, as in runc.
const maxID = math.MaxInt32

// LookupUser resolves a Dockerfile or OCI USER string against the image
// root filesystem rootfs, reading its /etc/passwd and /etc/group as data,
// with symlinks resolved inside rootfs. spec is name, uid, name:group,
// uid:gid, name:gid or uid:group; empty means root. A name must exist in the
// image (else the error wraps [ErrUnknownUser]); a numeric id need not, and
// then has gid 0 (unless given) and home "/". The uid of a name, or the
// entry of a numeric uid, gives the primary gid and home; the groups
// listing that user's name give AdditionalGIDs unless a group is given.
func LookupUser(rootfs, spec string) (User, error) {
	userArg, groupArg, err := splitUserSpec(spec)
	if err != nil {
		return User{}, err
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return User{}, fmt.Errorf("looking up user %q: %w", spec, err)
	} else if !fi.IsDir() {
		return User{}, fmt.Errorf("looking up user %q: root filesystem %s is not a directory", spec, rootfs)
	}
	u := User{Home: "/"}
	uid, uidNumeric, err := parseID("uid", userArg)
	if err != nil {
		return User{}, err
	}
	users, err := readEntries(rootfs, "/etc/passwd", parsePasswd)
	if err != nil {
		return User{}, err
	}
	var name string
	i := slices.IndexFunc(users, func(e passwdEntry) bool {
		if uidNumeric {
			return e.err == nil && e.uid == uid
		}
		return e.name == userArg
	})
	switch {
	case i >= 0 && users[i].err != nil:
		return User{}, fmt.Errorf("looking up user %q in /etc/passwd: line %d: %w", userArg, users[i].line, users[i].err)
	case i >= 0:
		name, u.UID, u.GID = users[i].name, users[i].uid, users[i].gid
		if users[i].home != "" {
			u.Home = users[i].home
		}
	case !uidNumeric:
		return User{}, fmt.Errorf("looking up user %q in /etc/passwd: %w", userArg, ErrUnknownUser)
	default:
		u.UID = uid
	}
	if groupArg == "" && name == "" {
		return u, nil
	}
	groups, err := readEntries(rootfs, "/etc/group", parseGroup)
	if err != nil {
		return User{}, err
	}
	if groupArg == "" {
		u.AdditionalGIDs = memberOf(groups, name)
		return u, nil
	}
	u.GID, err = lookupGroup(groups, groupArg)
	return u, err
}

// splitUserSpec splits USER into its user and group parts; an empty user
// is root.
func splitUserSpec(spec string) (user, group string, err error) {
	user, group, _ = strings.Cut(spec, ":")
	if strings.Contains(group, ":") {
		return "", "", fmt.Errorf("parsing USER %q: want user[:group]", spec)
	}
	if user == "" {
		user = "0"
	}
	return user, group, nil
}

// parseID parses a decimal id; numeric is false for a name.
func parseID(kind, s string) (id uint32, numeric bool, err error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, false, fmt.Errorf("parsing %s %s: out of range 0-%d", kind, s, maxID)
		}
		return 0, false, nil
	}
	if n < 0 || n > maxID {
		return 0, false, fmt.Errorf("parsing %s %s: out of range 0-%d", kind, s, maxID)
	}
	return uint32(n), true, nil
}

// lookupGroup resolves the group part of USER: a gid, or a name that must
// be in /etc/group.
func lookupGroup(groups []groupEntry, arg string) (uint32, error) {
	gid, numeric, err := parseID("gid", arg)
	if err != nil || numeric {
		return gid, err
	}
	i := slices.IndexFunc(groups, func(g groupEntry) bool { return g.name == arg })
	switch {
	case i < 0:
		return 0, fmt.Errorf("looking up group %q in /etc/group: %w", arg, ErrUnknownUser)
	case groups[i].err != nil:
		return 0, fmt.Errorf("looking up group %q in /etc/group: line %d: %w", arg, groups[i].line, groups[i].err)
	}
	return groups[i].gid, nil
}

// memberOf returns the gids of the groups that list user, without repeats.
func memberOf(groups []groupEntry, user string) []uint32 {
	var gids []uint32
	for _, g := range groups {
		if g.err == nil && slices.Contains(g.members, user) && !slices.Contains(gids, g.gid) {
			gids = append(gids, g.gid)
		}
	}
	return gids
}

// readEntries parses the file at name inside rootfs; a missing file has no
// entries. Symlinks resolve inside rootfs, the way they would for a process
// chrooted there; only a regular file is read, so a FIFO cannot block.
func readEntries[E any](rootfs, name string, parse func(io.Reader) ([]E, error)) ([]E, error) {
	if rootfs == "" {
		return nil, fmt.Errorf("reading %s: no root filesystem given", name)
	}
	path, err := securejoin.SecureJoin(filepath.Clean(rootfs), name)
	if err != nil {
		return nil, fmt.Errorf("resolving %s in %s: %w", name, rootfs, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if securejoin.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s of the image: %w", name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("reading %s of the image: %w", name, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s of the image: %s is not a regular file", name, path)
	}
	entries, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("parsing %s of the image: %w", name, err)
	}
	return entries, nil
}

// passwdEntry is one line of /etc/passwd: name:password:uid:gid:gecos:home:shell.
type passwdEntry struct {
	line     int
	name     string
	uid, gid uint32
	home     string
	err      error // why uid or gid is invalid; such an entry matches only by name
}

// groupEntry is one line of /etc/group: name:password:gid:member,member.
type groupEntry struct {
	line    int
	name    string
	gid     uint32
	members []string
	err     error // why gid is invalid; such an entry matches only by name
}

// parsePasswd parses /etc/passwd as data. Blank lines, comments, NIS
// compat lines (+ and -) and lines without a name are skipped; an entry
// with a bad uid or gid is kept with err set, so that looking it up by name
// reports its line. Fields beyond the seventh are ignored.
func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var entries []passwdEntry
	err := scanEntries(r, func(n int, f []string) {
		e := passwdEntry{line: n, name: f[0]}
		if len(f) < 4 {
			e.err = errors.New("want name:password:uid:gid")
		} else {
			e.uid, e.err = parseField("uid", f[2])
			if e.err == nil {
				e.gid, e.err = parseField("gid", f[3])
			}
		}
		if len(f) > 5 {
			e.home = f[5]
		}
		entries = append(entries, e)
	})
	return entries, err
}

// parseGroup parses /etc/group as data, with the rules of parsePasswd.
func parseGroup(r io.Reader) ([]groupEntry, error) {
	var entries []groupEntry
	err := scanEntries(r, func(n int, f []string) {
		e := groupEntry{line: n, name: f[0]}
		if len(f) < 3 {
			e.err = errors.New("want name:password:gid")
		} else {
			e.gid, e.err = parseField("gid", f[2])
		}
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.members = append(e.members, m)
				}
			}
		}
		entries = append(entries, e)
	})
	return entries, err
}

// scanEntries calls entry with the line number and colon-separated fields
// of each line that may be an entry.
func scanEntries(r io.Reader, entry func(n int, fields []string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		if f := strings.Split(line, ":"); f[0] != "" {
			entry(n, f)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

// parseField parses a uid or gid field of /etc/passwd or /etc/group.
func parseField(kind, s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > maxID {
		return 0, fmt.Errorf("invalid %s %q", kind, s)
	}
	return uint32(n), nil
}
