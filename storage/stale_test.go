package storage

import (
	"os"
	"strings"
	"testing"
)

func TestStaleWorkLayer(t *testing.T) {
	t.Parallel()
	mine := workLayerName()
	if !strings.HasPrefix(mine, workLayerPrefix) || procStart(os.Getpid()) == "" {
		t.Fatalf("workLayerName() = %q, start time %q", mine, procStart(os.Getpid()))
	}
	for _, tc := range []struct {
		names []string
		stale bool
	}{
		{[]string{mine}, false},
		{nil, false},
		{[]string{"localhost/app:v1"}, false},
		{[]string{workLayerPrefix + "1-0-1"}, true},         // pid 1 started at tick 0: not this boot's init
		{[]string{workLayerPrefix + "999999999-5-1"}, true}, // no such process
		{[]string{workLayerPrefix + "x-5-1"}, false},        // not ours: left alone
		{[]string{workLayerPrefix + "12"}, false},
	} {
		if got := staleWorkLayer(tc.names); got != tc.stale {
			t.Errorf("staleWorkLayer(%q) = %v, want %v", tc.names, got, tc.stale)
		}
	}
}
