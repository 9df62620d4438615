package storage

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// A work layer is named after the kiln process that made it, so that a later kiln can tell the
// work layers of a process that was killed (SIGKILL, a crash, a power cut) from those of a build
// still running, and remove them: a killed build may have moved a work layer's upper directory
// into a new layer already, leaving a layer record without its files.
const workLayerPrefix = "kiln-work-"

var workLayerSeq atomic.Uint64

// workLayerName is a unique name for a new work layer of this process.
func workLayerName() string {
	return fmt.Sprintf("%s%d-%s-%d", workLayerPrefix, os.Getpid(), procStart(os.Getpid()), workLayerSeq.Add(1))
}

// procStart is the start time of process pid in clock ticks since boot ("" if it is gone, or a
// zombie: a killed kiln whose parent has not reaped it yet is gone for this purpose): with the pid
// it names one process, whatever pids were reused since.
func procStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name, in parentheses, may hold spaces: count fields after its end.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" { // field 3 of stat: state
		return ""
	}
	return f[19] // field 22 of stat: starttime
}

// staleWorkLayer reports whether names mark a work layer whose process is gone.
func staleWorkLayer(names []string) bool {
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, workLayerPrefix)
		if !ok {
			continue
		}
		f := strings.Split(rest, "-")
		if len(f) != 3 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		return procStart(pid) != f[1]
	}
	return false
}

// RemoveStaleWorkLayers deletes the work layers of kiln processes that are gone, and returns
// how many it removed.
func (st *Store) RemoveStaleWorkLayers() (int, error) {
	layers, err := st.s.Layers()
	if err != nil {
		return 0, fmt.Errorf("listing layers: %w", err)
	}
	n := 0
	var errs []error
	for _, l := range layers {
		if !staleWorkLayer(l.Names) {
			continue
		}
		if err := st.removeWorkLayer(l.ID, "stale work layer"); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// workLayers is the set of work layers in the store. Check does not count them: a running build
// may have moved one's upper directory into a new layer already, and those of a kiln that is gone
// are leftovers the next kiln removes, not damage.
func (st *Store) workLayers() (map[string]bool, error) {
	layers, err := st.s.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	work := map[string]bool{}
	for _, l := range layers {
		for _, n := range l.Names {
			if strings.HasPrefix(n, workLayerPrefix) {
				work[l.ID] = true
			}
		}
	}
	return work, nil
}
