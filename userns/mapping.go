package userns

import (
	"math"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mappings returns the id mappings of a rootless namespace: container id 0
// is hostID (the user's own uid or gid), and container ids from 1 on are the
// subordinate ranges, one after the other in the order given. Ranges are
// used as given (the kernel rejects overlapping ones); empty ranges are
// skipped, and the mapping stops before container id 4294967295.
func Mappings(hostID uint32, ranges []Range) []specs.LinuxIDMapping {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 1}}
	next := uint64(1)
	for _, r := range ranges {
		size := min(uint64(r.Length), math.MaxUint32-next)
		if size == 0 {
			continue
		}
		maps = append(maps, specs.LinuxIDMapping{ContainerID: uint32(next), HostID: r.Start, Size: uint32(size)})
		next += size
	}
	return maps
}

// NewuidmapArgs returns the arguments of newuidmap or newgidmap (without the
// program name) that write maps for the process pid: the pid, then
// container id, host id and size of each mapping.
func NewuidmapArgs(pid int, maps []specs.LinuxIDMapping) []string {
	args := make([]string, 0, 1+3*len(maps))
	args = append(args, strconv.Itoa(pid))
	for _, m := range maps {
		args = append(args,
			strconv.FormatUint(uint64(m.ContainerID), 10),
			strconv.FormatUint(uint64(m.HostID), 10),
			strconv.FormatUint(uint64(m.Size), 10))
	}
	return args
}
