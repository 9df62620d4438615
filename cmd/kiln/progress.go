package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/kiln-build/kiln/build"
)

// plainProgress prints a build's events as buildah does: STEP lines, cache
// hits, the commit and the image id; with timings, each step's split.
func plainProgress(w io.Writer, timings bool) func(build.Event) {
	return func(ev build.Event) {
		switch ev.Type {
		case "step":
			fmt.Fprintf(w, "STEP %d/%d: %s\n", ev.Step, ev.Total, ev.Instruction)
		case "step-done":
			if ev.Cached {
				fmt.Fprintf(w, "--> Using cache %s\n", ev.Key[:12])
			}
			if timings {
				fmt.Fprintf(w, "--> timings: %s\n", formatTimings(ev.Timings))
			}
		case "pull":
			fmt.Fprintf(w, "Pulling %s\n", ev.Name)
		case "onbuild":
			fmt.Fprintf(w, "ONBUILD %s\n", ev.Instruction)
		case "commit":
			fmt.Fprintf(w, "COMMIT %s\n", ev.Name)
		case "image":
			fmt.Fprintf(w, "--> %.12s\n", ev.Image)
			for _, t := range ev.Tags {
				fmt.Fprintf(w, "Successfully tagged %s\n", t)
			}
		case "notice":
			fmt.Fprintf(w, "kiln: %s\n", ev.Message)
		}
	}
}

func formatTimings(t map[string]float64) string {
	order := []string{"cache", "mount", "run", "diff", "release", "total"}
	parts := make([]string, 0, len(t))
	for _, k := range order {
		if v, ok := t[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1fms", k, v*1000))
		}
	}
	return strings.Join(parts, ", ")
}

// outputEvents turns a step's output stream into "output" events, so that
// --progress=json stays one JSON object per line.
type outputEvents struct {
	mu     *sync.Mutex
	enc    *json.Encoder
	stream string
}

func (o outputEvents) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.enc.Encode(map[string]string{"type": "output", "stream": o.stream, "data": string(p)})
	return len(p), err
}
