package main

import (
	"strings"
	"sync"
	"testing"
)

// TestE2EConcurrentContainerNames starts several working containers of one image at once: each
// gets its own generated name, none fails because another kiln took the name it chose first.
func TestE2EConcurrentContainerNames(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	s := newStore(t)
	s.mustKiln(t, "load", "-i", savedBase(t))
	const n = 6
	names := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := s.exec("", "from", baseName)
			if err != nil || r.code != 0 {
				t.Errorf("kiln from %s #%d: exit %d, %v\n%s", baseName, i, r.code, err, r.stderr)
				return
			}
			names[i] = strings.TrimSpace(r.stdout)
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, name := range names {
		if name != "" && seen[name] {
			t.Errorf("two containers got the name %s", name)
		}
		seen[name] = true
	}
}
