package build

import "time"

// Event is one thing that happened in a build, for the CLI to print as a
// line of text or as JSON.
type Event struct {
	// Type is "step", "cache", "step-done", "pull", "onbuild", "commit",
	// "image" or "notice".
	Type        string    `json:"type"`
	Time        time.Time `json:"time"`
	Stage       string    `json:"stage,omitempty"`
	Step        int       `json:"step,omitempty"`
	Total       int       `json:"total,omitempty"`
	Instruction string    `json:"instruction,omitempty"`
	// Key is the step's cache key; Cached says it was reused.
	Key    string `json:"key,omitempty"`
	Cached bool   `json:"cached,omitempty"`
	// Layer is the layer a step made ("" for none).
	Layer string `json:"layer,omitempty"`
	// Timings split a step's time, in seconds: "cache" (lookup), "mount"
	// (work layer), "run" (the command or the copy), "diff" (snapshot into
	// the store), "release" (unmount), and "total".
	Timings map[string]float64 `json:"timings,omitempty"`
	// Image and Tags describe a committed image; Name a pulled or tagged one.
	Image string   `json:"image,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Name  string   `json:"name,omitempty"`
	// Message is free text for notices.
	Message string `json:"message,omitempty"`
}

// emit hands ev to the progress function, stamping its time.
func (b *Builder) emit(ev Event) {
	if b.opts.Progress == nil {
		return
	}
	ev.Time = time.Now().UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.opts.Progress(ev)
}

// timer accumulates the phases of one step.
type timer struct {
	start, last time.Time
	phases      map[string]float64
}

func newTimer() *timer {
	now := time.Now()
	return &timer{start: now, last: now, phases: map[string]float64{}}
}

// mark ends the phase named name.
func (t *timer) mark(name string) {
	now := time.Now()
	t.phases[name] += now.Sub(t.last).Seconds()
	t.last = now
}

func (t *timer) done() map[string]float64 {
	t.phases["total"] = time.Since(t.start).Seconds()
	return t.phases
}
