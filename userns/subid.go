package userns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Range is one subordinate id range of /etc/subuid or /etc/subgid: Length
// consecutive host ids starting at Start.
type Range struct {
	Start, Length uint32
}

// ParseSubIDs reads r in the format of /etc/subuid and /etc/subgid, one
// owner:start:count entry a line, and returns, in file order, the ranges
// whose owner is user (by name) or uid (by number). An empty user or a
// negative uid matches nothing. Blank lines and lines starting with # are
// ignored; any other malformed line is an error naming its line number,
// whoever it belongs to.
func ParseSubIDs(r io.Reader, user string, uid int) ([]Range, error) {
	var ranges []Range
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		owner, rng, err := parseSubIDLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if ownerMatches(owner, user, uid) {
			ranges = append(ranges, rng)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return ranges, nil
}

// parseSubIDLine parses one non-blank, non-comment line.
func parseSubIDLine(line string) (string, Range, error) {
	f := strings.Split(line, ":")
	if len(f) != 3 || f[0] == "" {
		return "", Range{}, fmt.Errorf("%q: want owner:start:count", line)
	}
	start, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return "", Range{}, fmt.Errorf("start %q: %w", f[1], err)
	}
	count, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		return "", Range{}, fmt.Errorf("count %q: %w", f[2], err)
	}
	if count == 0 {
		return "", Range{}, errors.New("count is 0")
	}
	// 4294967295 is (uid_t)-1, never a valid id.
	if start+count > math.MaxUint32 {
		return "", Range{}, fmt.Errorf("range %d+%d goes beyond id %d", start, count, uint32(math.MaxUint32-1))
	}
	return f[0], Range{Start: uint32(start), Length: uint32(count)}, nil
}

// ownerMatches reports whether an entry's owner field names the user, by name
// or by numeric id, the way shadow's newuidmap matches it.
func ownerMatches(owner, user string, uid int) bool {
	if user != "" && owner == user {
		return true
	}
	n, err := strconv.ParseUint(owner, 10, 32)
	return err == nil && uid >= 0 && n == uint64(uid)
}

// readSubIDs returns the ranges of the user in the file at path; a missing
// file has none.
func readSubIDs(path, user string, uid int) ([]Range, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading subordinate ids: %w", err)
	}
	defer f.Close()
	ranges, err := ParseSubIDs(f, user, uid)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return ranges, nil
}
