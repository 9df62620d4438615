package exec

// Temporary minimal user lookup; replaced by the full implementation.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// User is a resolved USER: ids and home directory.
type User struct {
	UID, GID       uint32
	AdditionalGIDs []uint32
	Home           string
}

// LookupUser resolves spec (name, uid, name:group, uid:gid) in rootfs.
func LookupUser(rootfs, spec string) (User, error) {
	if spec == "" {
		spec = "0"
	}
	name, group, _ := strings.Cut(spec, ":")
	u := User{Home: "/"}
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID, u.GID = uint32(id), uint32(id)
		if e, ok := findEntry(rootfs, "/etc/passwd", func(f []string) bool { return len(f) > 2 && f[2] == name }); ok && len(f(e)) > 5 {
			g, _ := strconv.ParseUint(f(e)[3], 10, 32)
			u.GID, u.Home = uint32(g), f(e)[5]
		}
	} else {
		e, ok := findEntry(rootfs, "/etc/passwd", func(f []string) bool { return f[0] == name })
		if !ok || len(f(e)) < 6 {
			return u, fmt.Errorf("user %q not found in /etc/passwd", name)
		}
		id, _ := strconv.ParseUint(f(e)[2], 10, 32)
		g, _ := strconv.ParseUint(f(e)[3], 10, 32)
		u.UID, u.GID, u.Home = uint32(id), uint32(g), f(e)[5]
	}
	if group != "" {
		if id, err := strconv.ParseUint(group, 10, 32); err == nil {
			u.GID = uint32(id)
		} else {
			e, ok := findEntry(rootfs, "/etc/group", func(f []string) bool { return f[0] == group })
			if !ok || len(f(e)) < 3 {
				return u, fmt.Errorf("group %q not found in /etc/group", group)
			}
			id, _ := strconv.ParseUint(f(e)[2], 10, 32)
			u.GID = uint32(id)
		}
	}
	return u, nil
}

func f(line string) []string { return strings.Split(line, ":") }

func findEntry(rootfs, file string, match func([]string) bool) (string, bool) {
	p, err := securejoin.SecureJoin(rootfs, file)
	if err != nil {
		return "", false
	}
	fh, err := os.Open(p)
	if err != nil {
		return "", false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if match(f(sc.Text())) {
			return sc.Text(), true
		}
	}
	return "", false
}
