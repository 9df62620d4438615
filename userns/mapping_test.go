package userns

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMappings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		hostID uint32
		ranges []Range
		want   []specs.LinuxIDMapping
	}{
		{name: "no ranges", hostID: 1000, want: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}},
		{name: "one range", hostID: 1000, ranges: []Range{{100000, 65536}}, want: []specs.LinuxIDMapping{
			{ContainerID: 0, HostID: 1000, Size: 1},
			{ContainerID: 1, HostID: 100000, Size: 65536},
		}},
		{name: "consecutive ranges", hostID: 1001, ranges: []Range{{200000, 65536}, {500000, 10}, {7, 1}}, want: []specs.LinuxIDMapping{
			{ContainerID: 0, HostID: 1001, Size: 1},
			{ContainerID: 1, HostID: 200000, Size: 65536},
			{ContainerID: 65537, HostID: 500000, Size: 10},
			{ContainerID: 65547, HostID: 7, Size: 1},
		}},
		{name: "empty range skipped", hostID: 5, ranges: []Range{{10, 0}, {20, 2}}, want: []specs.LinuxIDMapping{
			{ContainerID: 0, HostID: 5, Size: 1},
			{ContainerID: 1, HostID: 20, Size: 2},
		}},
		{name: "capped before id 4294967295", hostID: 5, ranges: []Range{{0, 4294967295}, {9, 9}}, want: []specs.LinuxIDMapping{
			{ContainerID: 0, HostID: 5, Size: 1},
			{ContainerID: 1, HostID: 0, Size: 4294967294},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Mappings(tt.hostID, tt.ranges); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Mappings(%d, %v) = %v, want %v", tt.hostID, tt.ranges, got, tt.want)
			}
		})
	}
}

func TestNewuidmapArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pid  int
		maps []specs.LinuxIDMapping
		want []string
	}{
		{name: "no maps", pid: 42, want: []string{"42"}},
		{name: "rootless", pid: 4242, maps: []specs.LinuxIDMapping{
			{ContainerID: 0, HostID: 1000, Size: 1},
			{ContainerID: 1, HostID: 100000, Size: 65536},
		}, want: []string{"4242", "0", "1000", "1", "1", "100000", "65536"}},
		{name: "large ids", pid: 1, maps: []specs.LinuxIDMapping{
			{ContainerID: 4294967294, HostID: 4294967293, Size: 1},
		}, want: []string{"1", "4294967294", "4294967293", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NewuidmapArgs(tt.pid, tt.maps); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NewuidmapArgs() = %q, want %q", got, tt.want)
			}
		})
	}
}
