package build

import (
	"context"
	"errors"
	"sync"
)

// runStages builds the needed stages, each once the stages it reads are
// built, at most opts.Jobs at a time, and returns the last one. A failed
// stage cancels the others.
func (b *Builder) runStages(ctx context.Context, needed []int) (*stage, error) {
	jobs := b.opts.Jobs
	if jobs < 1 {
		jobs = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(map[int]chan struct{}, len(needed))
	for _, i := range needed {
		ready[i] = make(chan struct{})
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil || errors.Is(firstErr, context.Canceled) {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for _, i := range needed {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for _, d := range b.deps[i].Stages {
				select {
				case <-ready[d]:
				case <-ctx.Done():
					fail(ctx.Err())
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				fail(ctx.Err())
				return
			}
			s, err := b.runStage(ctx, i)
			<-sem
			if err != nil {
				fail(err)
				return
			}
			b.setDone(i, s)
			close(ready[i])
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return b.stageDone(needed[len(needed)-1]), nil
}

func (b *Builder) setDone(i int, s *stage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done[i] = s
}

func (b *Builder) stageDone(i int) *stage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done[i]
}

// nextStep numbers a step for its "STEP n/total" line.
func (b *Builder) nextStep() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.step++
	return b.step
}

// addCleanup registers f to run when the build ends.
func (b *Builder) addCleanup(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cleanups = append(b.cleanups, f)
}
