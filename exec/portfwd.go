package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Port is one published TCP port: connections to HostIP:HostPort on the
// host reach 127.0.0.1:ContainerPort in the container's network namespace.
//
// kiln publishes ports without slirp4netns or pasta, which need /dev/net/tun:
// the container gets a network namespace with only loopback, kiln listens on
// the host side, and for each connection a thread of kiln enters the
// container's namespace (setns on /proc/PID/ns/net), connects there and
// returns, and the two sockets are spliced together.
type Port struct {
	HostIP        string `json:"hostIP,omitempty"`
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
}

// ParsePort parses docker's -p value [[HOSTIP:]HOSTPORT:]CTRPORT[/tcp]; a
// missing host port is the container port.
func ParsePort(s string) (Port, error) {
	spec, proto, _ := strings.Cut(s, "/")
	if proto != "" && proto != "tcp" {
		return Port{}, fmt.Errorf("publishing %q: only tcp is supported: %w", s, errors.ErrUnsupported)
	}
	var p Port
	var host, hostPort, ctr string
	if i := strings.LastIndex(spec, ":"); i < 0 {
		ctr = spec
	} else {
		ctr = spec[i+1:]
		host = spec[:i]
		if j := strings.LastIndex(host, ":"); j >= 0 {
			p.HostIP, hostPort = strings.Trim(host[:j], "[]"), host[j+1:]
		} else {
			hostPort = host
		}
	}
	var err error
	if p.ContainerPort, err = portNumber(ctr); err != nil {
		return Port{}, fmt.Errorf("publishing %q: container port: %w", s, err)
	}
	p.HostPort = p.ContainerPort
	if hostPort != "" {
		if p.HostPort, err = portNumber(hostPort); err != nil {
			return Port{}, fmt.Errorf("publishing %q: host port: %w", s, err)
		}
	}
	if p.HostIP != "" && net.ParseIP(p.HostIP) == nil {
		return Port{}, fmt.Errorf("publishing %q: %q is not an IP address: %w", s, p.HostIP, fs.ErrInvalid)
	}
	return p, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535): %w", s, fs.ErrInvalid)
	}
	return n, nil
}

// String gives p as -p takes it.
func (p Port) String() string {
	host := p.HostIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d->%d/tcp", host, p.HostPort, p.ContainerPort)
}

// Listen opens p's host side.
func (p Port) Listen() (net.Listener, error) {
	addr := net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("publishing port %s: %w", p, err)
	}
	return ln, nil
}

// Forwarder serves published ports into one network namespace.
type Forwarder struct {
	ns    *os.File
	conns sync.WaitGroup
	mu    sync.Mutex
	open  map[net.Conn]struct{}
}

// NewForwarder opens the network namespace of pid, which stays reachable
// through the returned Forwarder even once the process is gone.
func NewForwarder(pid int) (*Forwarder, error) {
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	ns, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the container's network namespace %s: %w", path, err)
	}
	return &Forwarder{ns: ns, open: map[net.Conn]struct{}{}}, nil
}

// Serve accepts connections on ln until ctx ends and splices each to
// 127.0.0.1:ctrPort in the namespace. It closes ln.
func (f *Forwarder) Serve(ctx context.Context, ln net.Listener, ctrPort int) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.conns.Add(1)
		go func() {
			defer f.conns.Done()
			f.serveConn(ctx, c, ctrPort)
		}()
	}
}

func (f *Forwarder) serveConn(ctx context.Context, c net.Conn, ctrPort int) {
	defer c.Close()
	inner, err := f.dial(ctx, ctrPort)
	if err != nil {
		return
	}
	defer inner.Close()
	if ctx.Err() != nil {
		return
	}
	f.track(c, inner, true)
	defer f.track(c, inner, false)
	splice(c, inner)
}

func (f *Forwarder) track(a, b net.Conn, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		f.open[a], f.open[b] = struct{}{}, struct{}{}
	} else {
		delete(f.open, a)
		delete(f.open, b)
	}
}

// dial connects to 127.0.0.1:port inside the namespace, retrying for a
// moment while nothing listens yet (a server still starting up).
func (f *Forwarder) dial(ctx context.Context, port int) (net.Conn, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := f.dialOnce(port)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dialOnce creates the socket on a thread that entered the namespace and
// goes back to kiln's afterwards. A thread that cannot go back is never
// unlocked, so the runtime throws it away and no other goroutine runs in
// the container's namespace.
func (f *Forwarder) dialOnce(port int) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: fmt.Errorf("opening kiln's network namespace: %w", err)}
			return
		}
		defer home.Close()
		if err := unix.Setns(int(f.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("entering the container's network namespace: %w", err)}
			return
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// splice copies both ways until both directions are done, passing on
// half-closes.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
}

// Close ends the open connections, waits for them and releases the
// namespace. Call it once every Serve has returned.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	for c := range f.open {
		c.Close()
	}
	f.mu.Unlock()
	f.conns.Wait()
	return f.ns.Close()
}
