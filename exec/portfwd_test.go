package exec

import (
	"errors"
	"io/fs"
	"testing"
)

func TestParsePort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Port
		bad  bool
	}{
		{in: "80", want: Port{HostPort: 80, ContainerPort: 80}},
		{in: "8080:80", want: Port{HostPort: 8080, ContainerPort: 80}},
		{in: "127.0.0.1:18080:80", want: Port{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80}},
		{in: "[::1]:18080:80/tcp", want: Port{HostIP: "::1", HostPort: 18080, ContainerPort: 80}},
		{in: "0.0.0.0:1:65535", want: Port{HostIP: "0.0.0.0", HostPort: 1, ContainerPort: 65535}},
		{in: "8080:80/udp", bad: true},
		{in: "8080:0", bad: true},
		{in: "70000:80", bad: true},
		{in: "web:80:80", bad: true},
		{in: "", bad: true},
		{in: "a:b", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePort(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParsePort(%q) = %+v, want an error", tc.in, got)
				}
				if !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
					t.Errorf("ParsePort(%q): error %v is neither invalid nor unsupported", tc.in, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParsePort(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestPortString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    Port
		want string
	}{
		{Port{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80}, "127.0.0.1:18080->80/tcp"},
		{Port{HostPort: 80, ContainerPort: 80}, ":80->80/tcp"},
		{Port{HostIP: "::1", HostPort: 1, ContainerPort: 2}, "[::1]:1->2/tcp"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}
