package exec

import (
	"errors"
	"slices"
	"testing"
)

func TestCapabilities(t *testing.T) {
	t.Parallel()
	def := slices.Sorted(slices.Values(DefaultCapabilities))
	tests := []struct {
		name      string
		add, drop []string
		want      []string
		has, lack []string
	}{
		{name: "default", want: def},
		{name: "drop chown", drop: []string{"chown"}, lack: []string{"CAP_CHOWN"}, has: []string{"CAP_KILL"}},
		{name: "drop with prefix", drop: []string{"CAP_CHOWN"}, lack: []string{"CAP_CHOWN"}},
		{name: "add", add: []string{"net_raw", "Sys_Admin"}, has: []string{"CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_CHOWN"}},
		{name: "drop all add one", add: []string{"CHOWN"}, drop: []string{"ALL"}, want: []string{"CAP_CHOWN"}},
		{name: "add all", add: []string{"all"}, has: []string{"CAP_SYS_ADMIN", "CAP_MKNOD", "CAP_CHOWN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Capabilities(tt.add, tt.drop)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for _, c := range tt.has {
				if !slices.Contains(got, c) {
					t.Errorf("%v lacks %s", got, c)
				}
			}
			for _, c := range tt.lack {
				if slices.Contains(got, c) {
					t.Errorf("%v has %s", got, c)
				}
			}
		})
	}
	if _, err := Capabilities([]string{"NOT_A_CAP"}, nil); !errors.Is(err, ErrUnknownCapability) {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestProcessCapabilities(t *testing.T) {
	t.Parallel()
	root := processCapabilities(DefaultCapabilities, 0)
	if !slices.Equal(root.Effective, DefaultCapabilities) || !slices.Equal(root.Permitted, DefaultCapabilities) ||
		len(root.Inheritable) != 0 || len(root.Ambient) != 0 {
		t.Errorf("root: %+v", root)
	}
	user := processCapabilities(DefaultCapabilities, 1000)
	if !slices.Equal(user.Bounding, DefaultCapabilities) || len(user.Effective)+len(user.Permitted)+len(user.Ambient) != 0 {
		t.Errorf("user 1000: %+v", user)
	}
}
