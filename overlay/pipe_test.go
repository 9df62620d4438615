package overlay

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestPipe(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{7})
	want := make([]byte, 3<<20)
	_, _ = rng.Read(want)
	p := newPipe()
	go func() {
		// Uneven writes from one reused buffer: the pipe must copy what it keeps.
		buf := make([]byte, 70000)
		for off := 0; off < len(want); {
			n := copy(buf[:1+off%len(buf)], want[off:])
			if _, err := p.Write(buf[:n]); err != nil {
				p.closeWrite(err)
				return
			}
			for i := range buf[:n] {
				buf[i] = 0
			}
			off += n
		}
		p.closeWrite(nil)
	}()
	got, err := io.ReadAll(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v), want the %d written", len(got), err, len(want))
	}

	// The writer's error reaches the reader after what was written before it.
	p = newPipe()
	boom := errors.New("boom")
	go func() {
		_, _ = p.Write([]byte("abc"))
		p.closeWrite(boom)
	}()
	if got, err := io.ReadAll(p); string(got) != "abc" || err != boom {
		t.Fatalf("ReadAll = %q, %v; want abc, boom", got, err)
	}

	// Closing the reader stops a writer that waits for room.
	p = newPipe()
	stop := errors.New("stop")
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := p.Write(make([]byte, 1024)); err != nil {
				errc <- err
				return
			}
		}
	}()
	p.CloseWithError(stop)
	if err := <-errc; err != stop {
		t.Fatalf("writer got %v after the reader closed, want stop", err)
	}
}
