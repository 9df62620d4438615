package overlay

import (
	"io"
	"sync"
)

// pipeChunks is how many writes a pipe holds before its writer waits.
const pipeChunks = 16

// pipe is io.Pipe with room for a few writes in flight. With io.Pipe a writer waits until its
// reader has taken every byte, so the tar writer (reading files, hashing) and the store reading
// the tar (tar-split's CRC64s) took turns on a big layer instead of working side by side.
type pipe struct {
	ch   chan []byte   // written chunks, closed by the writer's close
	free chan []byte   // chunks the reader is done with, for the writer to fill again
	done chan struct{} // closed when the reader is closed

	mu   sync.Mutex
	werr error  // the writer's close error, io.EOF for a clean end
	rerr error  // the reader's close error, for the writer
	buf  []byte // the chunk being read
	cur  []byte // what is left of it
	once sync.Once
}

func newPipe() *pipe {
	return &pipe{ch: make(chan []byte, pipeChunks), free: make(chan []byte, pipeChunks+1), done: make(chan struct{})}
}

// Write copies p into the pipe: the caller may reuse p once Write returns.
func (p *pipe) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var c []byte
	select {
	case c = <-p.free:
	default:
	}
	c = append(c[:0], b...)
	select {
	case p.ch <- c:
		return len(b), nil
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return 0, p.rerr
	}
}

// closeWrite ends the stream: the reader gets err, or io.EOF for nil, after the chunks in flight.
func (p *pipe) closeWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	p.mu.Lock()
	p.werr = err
	p.mu.Unlock()
	close(p.ch)
}

// Read reads what the writer wrote.
func (p *pipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.buf != nil {
			select {
			case p.free <- p.buf[:0]:
			default:
			}
			p.buf = nil
		}
		select {
		case <-p.done:
			return 0, io.ErrClosedPipe
		case c, ok := <-p.ch:
			if !ok {
				p.mu.Lock()
				defer p.mu.Unlock()
				return 0, p.werr
			}
			p.buf, p.cur = c, c
		}
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// CloseWithError stops the writer: its writes fail with err (io.ErrClosedPipe for nil).
func (p *pipe) CloseWithError(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	p.once.Do(func() {
		p.mu.Lock()
		p.rerr = err
		p.mu.Unlock()
		close(p.done)
	})
	return nil
}

// Close is CloseWithError(nil).
func (p *pipe) Close() error { return p.CloseWithError(nil) }

var _ io.ReadCloser = (*pipe)(nil)
