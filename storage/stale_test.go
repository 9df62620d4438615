package storage

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
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

// A killed kiln that its parent has not reaped yet is a zombie: its work is stale all the same.
func TestProcStartZombie(t *testing.T) {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d did not become a zombie: %s", p.Pid, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := procStart(p.Pid); got != "" {
		t.Errorf("procStart of zombie %d = %q, want \"\"", p.Pid, got)
	}
	if !staleWorkLayer([]string{fmt.Sprintf("%s%d-%s-1", workLayerPrefix, p.Pid, "1")}) {
		t.Error("a zombie's work layer is not stale")
	}
}
