package instructions

import (
	"regexp"
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func ports(ps ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range ps {
		m[p] = struct{}{}
	}
	return m
}

func TestExpose(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "tcp by default, protocols lowercased",
		src:  "EXPOSE 80 53/udp 443/TCP 9/sctp\n",
		want: storage.Config{ExposedPorts: ports("80/tcp", "53/udp", "443/tcp", "9/sctp")},
	}, {
		name: "ranges expand",
		src:  "EXPOSE 8000-8002/udp 7-7\n",
		want: storage.Config{ExposedPorts: ports("8000/udp", "8001/udp", "8002/udp", "7/tcp")},
	}, {
		name: "host parts are dropped",
		src:  "EXPOSE 127.0.0.1:8080:80 [::1]:53:53/udp 9000-9001:90\n",
		want: storage.Config{ExposedPorts: ports("80/tcp", "53/udp", "90/tcp")},
	}, {
		name: "merges with the base",
		base: storage.Config{ExposedPorts: ports("22/tcp")},
		src:  "EXPOSE 80\n",
		want: storage.Config{ExposedPorts: ports("22/tcp", "80/tcp")},
	}, {
		name: "a variable may hold several ports",
		src:  "ENV PORTS=\"80 443\"\nEXPOSE $PORTS\n",
		want: storage.Config{Env: []string{"PORTS=80 443"}, ExposedPorts: ports("80/tcp", "443/tcp")},
	}, {
		name:    "not a number",
		src:     "EXPOSE http\n",
		wantErr: `invalid port "http": port "http" is not a number from 0 to 65535`,
	}, {
		name:    "out of range",
		src:     "EXPOSE 70000\n",
		wantErr: `invalid port "70000": port "70000" is not a number from 0 to 65535`,
	}, {
		name:    "bad protocol",
		src:     "EXPOSE 21/ftp\n",
		wantErr: `invalid port "21/ftp": invalid protocol "ftp": want tcp, udp or sctp`,
	}, {
		name:    "backwards range",
		src:     "EXPOSE 90-80\n",
		wantErr: `invalid port "90-80": port range 90-80 ends before it starts`,
	}, {
		name:    "ranges of different sizes",
		src:     "EXPOSE 1-3:5-6\n",
		wantErr: `invalid port "1-3:5-6": container port range 5-6 and host port range 1-3 differ in size`,
	}, {
		name:    "bad IP",
		src:     "EXPOSE nohost:80:80\n",
		wantErr: `invalid port "nohost:80:80": invalid IP address "nohost"`,
	}, {
		name:    "no port",
		src:     "EXPOSE /udp\n",
		wantErr: `invalid port "/udp": no port specified`,
	}})
}

// FuzzExposedPorts checks that any port spec gives an error or ports of the
// form PORT/PROTO, never a panic.
func FuzzExposedPorts(f *testing.F) {
	for _, seed := range []string{"80", "53/udp", "8000-8002/TCP", "[::1]:53:53/udp", "1-3:5-6", "0-65535", ":", "/"} {
		f.Add(seed)
	}
	valid := regexp.MustCompile(`^[0-9]+/(tcp|udp|sctp)$`)
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := exposedPorts([]string{spec})
		if err != nil {
			return
		}
		if len(got) == 0 {
			t.Fatalf("%q: no ports and no error", spec)
		}
		for _, p := range got {
			if !valid.MatchString(p) {
				t.Fatalf("%q gave %q", spec, p)
			}
		}
	})
}
