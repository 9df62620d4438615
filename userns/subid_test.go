package userns

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, user string
		uid            int
		want           []Range
		err            string // substring of the error; "" for none
	}{
		{name: "empty", in: "", user: "alice", uid: 1000},
		{name: "by name", in: "alice:100000:65536\n", user: "alice", uid: 1000,
			want: []Range{{100000, 65536}}},
		{name: "by uid", in: "1000:100000:65536\n", user: "alice", uid: 1000,
			want: []Range{{100000, 65536}}},
		{name: "uid with leading zero", in: "01000:5:1\n", user: "alice", uid: 1000,
			want: []Range{{5, 1}}},
		{name: "other users skipped", in: "bob:165536:65536\nalice:100000:65536\n1001:300000:10\n", user: "alice", uid: 1000,
			want: []Range{{100000, 65536}}},
		{name: "several ranges in order", in: "alice:300000:10\n1000:100000:65536\nalice:5:1\n", user: "alice", uid: 1000,
			want: []Range{{300000, 10}, {100000, 65536}, {5, 1}}},
		{name: "comments, blanks, spaces, CRLF", in: "# subuid\n\n  alice:100000:65536  \r\n\t\n#alice:1:1\n", user: "alice", uid: 1000,
			want: []Range{{100000, 65536}}},
		{name: "no trailing newline", in: "alice:1:2", user: "alice", uid: 1000, want: []Range{{1, 2}}},
		{name: "empty owner", in: ":1:2\n", user: "", uid: 7, err: "line 1"},
		{name: "no name given", in: "alice:1:2\n7:3:4\n", user: "", uid: 7, want: []Range{{3, 4}}},
		{name: "negative uid matches by name only", in: "alice:1:2\n0:3:4\n", user: "alice", uid: -1, want: []Range{{1, 2}}},
		{name: "name is not a prefix match", in: "alice2:1:2\n", user: "alice", uid: 1000},
		{name: "largest range", in: "alice:0:4294967295\n", user: "alice", uid: 1000, want: []Range{{0, 4294967295}}},

		{name: "two fields", in: "alice:1\n", user: "alice", uid: 1000, err: `line 1: "alice:1": want owner:start:count`},
		{name: "four fields", in: "# x\nalice:1:2:3\n", user: "alice", uid: 1000, err: "line 2:"},
		{name: "bad start", in: "alice:x:2\n", user: "alice", uid: 1000, err: `line 1: start "x"`},
		{name: "negative start", in: "alice:-1:2\n", user: "alice", uid: 1000, err: `start "-1"`},
		{name: "bad count", in: "alice:1:\n", user: "alice", uid: 1000, err: `count ""`},
		{name: "zero count", in: "alice:1:0\n", user: "alice", uid: 1000, err: "count is 0"},
		{name: "start beyond uint32", in: "alice:4294967296:1\n", user: "alice", uid: 1000, err: "start"},
		{name: "range beyond last id", in: "alice:4294967295:1\n", user: "alice", uid: 1000, err: "goes beyond id 4294967294"},
		{name: "malformed line of another user", in: "alice:1:2\nbob:1\n", user: "alice", uid: 1000, err: "line 2"},
		{name: "line too long", in: "alice:1:2\n" + strings.Repeat("a", 70000), user: "alice", uid: 1000, err: "line 2: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSubIDs(strings.NewReader(tt.in), tt.user, tt.uid)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseSubIDs() error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSubIDs() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSubIDs() = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseSubIDs(f *testing.F) {
	for _, s := range []string{
		"alice:100000:65536\n", "1000:1:1", "# c\n\nbob:1:2\n", "a:b:c", ":::", "alice:4294967294:1",
		"alice:1:4294967295", "\xff:1:1",
	} {
		f.Add([]byte(s), "alice", 1000)
	}
	f.Fuzz(func(t *testing.T, data []byte, user string, uid int) {
		ranges, err := ParseSubIDs(bytes.NewReader(data), user, uid)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q does not name a line", err)
			}
			return
		}
		for _, r := range ranges {
			if r.Length == 0 || uint64(r.Start)+uint64(r.Length) > 4294967295 {
				t.Fatalf("invalid range %v from %q", r, data)
			}
		}
	})
}
