package instructions

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyExpose adds each port to ExposedPorts as "PORT/PROTO", as BuildKit
// does: the protocol defaults to tcp and is lowercased (tcp, udp or sctp), a
// range such as 8000-8002 adds every port in it, and an ip:hostPort: prefix
// is accepted and dropped.
func applyExpose(cfg *storage.Config, c *bk.ExposeCommand) error {
	ports, err := exposedPorts(c.Ports)
	if err != nil {
		return err
	}
	if cfg.ExposedPorts == nil {
		cfg.ExposedPorts = make(map[string]struct{}, len(ports))
	}
	for _, p := range ports {
		cfg.ExposedPorts[p] = struct{}{}
	}
	return nil
}

// exposeCreatedBy is BuildKit's history text with the normalized ports:
// "EXPOSE [53/udp 80/tcp]".
func exposeCreatedBy(c *bk.ExposeCommand) string {
	ports, err := exposedPorts(c.Ports)
	if err != nil {
		ports = c.Ports
	}
	return fmt.Sprintf("EXPOSE %v", ports)
}

// exposedPorts normalizes port specs to "PORT/PROTO", in order.
func exposedPorts(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		ports, err := parsePortSpec(spec)
		if err != nil {
			return nil, fmt.Errorf("invalid port %q: %w", spec, err)
		}
		out = append(out, ports...)
	}
	return out, nil
}

// parsePortSpec reads [[IP:]HOSTPORT:]PORT[-END][/PROTO].
func parsePortSpec(spec string) ([]string, error) {
	parts := strings.Split(spec, ":")
	n := len(parts)
	var ip, hostPort string
	if n >= 2 {
		hostPort = parts[n-2]
	}
	if n >= 3 {
		ip = strings.Join(parts[:n-2], ":")
	}
	port, proto, _ := strings.Cut(parts[n-1], "/")
	if port == "" {
		return nil, errors.New("no port specified")
	}
	switch proto = strings.ToLower(proto); proto {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid protocol %q: want tcp, udp or sctp", proto)
	}
	if ip != "" && net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")) == nil {
		return nil, fmt.Errorf("invalid IP address %q", ip)
	}
	first, last, err := portRange(port)
	if err != nil {
		return nil, err
	}
	if hostPort != "" {
		hFirst, hLast, err := portRange(hostPort)
		if err != nil {
			return nil, fmt.Errorf("host port: %w", err)
		}
		// A host range may go with a single container port, not with a
		// container range of another size.
		if first != last && last-first != hLast-hFirst {
			return nil, fmt.Errorf("container port range %s and host port range %s differ in size", port, hostPort)
		}
	}
	out := make([]string, 0, last-first+1)
	for p := first; p <= last; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

// portRange reads PORT or FIRST-LAST, each 0-65535.
func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	first, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange || a == b {
		return first, first, nil
	}
	last, err := portNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if last < first {
		return 0, 0, fmt.Errorf("port range %s ends before it starts", s)
	}
	return first, last, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 0 to 65535", s)
	}
	return n, nil
}
