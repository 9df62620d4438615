package instructions

import (
	"reflect"
	"strings"
	"testing"
	"time"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/build/dockerfile"
	"github.com/kiln-build/kiln/storage"
)

const appDockerfile = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS app
MAINTAINER Jane <jane@example.com>
ENV APP_HOME=/srv/app \
    PORT=8080
LABEL org.opencontainers.image.title="demo app" version=1.0
WORKDIR $APP_HOME
WORKDIR bin
USER 1000:1000
EXPOSE $PORT 9000-9001/udp
VOLUME ["/data"]
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
CMD ./server --port "$PORT"
ENTRYPOINT ["/sbin/tini", "--"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=10s --retries=2 CMD wget -qO- http://localhost:$PORT/health
ONBUILD COPY . $APP_HOME
ENV PORT=9090

FROM app
ENTRYPOINT ["/server"]
`

// runStage applies every command of stage i to st, the way the executor
// does, and returns the history text of each.
func runStage(t *testing.T, f *dockerfile.File, i int, st *State) []string {
	t.Helper()
	var history []string
	for _, cmd := range f.Stages[i].Commands {
		if err := Expand(cmd, f.Escape, st.Image.Config.Env); err != nil {
			t.Fatalf("expanding %v: %v", cmd, err)
		}
		ok, err := Apply(st, cmd)
		if err != nil || !ok {
			t.Fatalf("Apply(%v) = %v, %v", cmd, ok, err)
		}
		history = append(history, CreatedBy(cmd, st.Image.Config.Shell))
	}
	return history
}

func TestApplyDockerfile(t *testing.T) {
	t.Parallel()
	f, err := dockerfile.Parse(strings.NewReader(appDockerfile), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dockerfile.ExpandFrom(f, dockerfile.ArgValues{}); err != nil {
		t.Fatal(err)
	}
	if f.Stages[0].BaseName != "busybox" || f.Stages[1].BaseName != "app" {
		t.Fatalf("bases = %q, %q", f.Stages[0].BaseName, f.Stages[1].BaseName)
	}

	busybox := &storage.Image{Config: storage.Config{
		Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd:    []string{"sh"},
		Labels: map[string]string{"base": "yes"},
	}}
	st, triggers := NewState(busybox)
	if triggers != nil {
		t.Errorf("busybox triggers = %q", triggers)
	}
	history := runStage(t, f, 0, st)

	want := storage.Config{
		User:         "1000:1000",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9000/udp": {}, "9001/udp": {}},
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_HOME=/srv/app", "PORT=9090"},
		Entrypoint:   []string{"/sbin/tini", "--"},
		Cmd:          []string{"/bin/ash", "-eo", "pipefail", "-c", `./server --port "$PORT"`},
		Healthcheck: &storage.Healthcheck{
			Test:     []string{"CMD-SHELL", "wget -qO- http://localhost:$PORT/health"},
			Interval: 10 * time.Second,
			Retries:  2,
		},
		ArgsEscaped: true,
		Volumes:     map[string]struct{}{"/data": {}},
		WorkingDir:  "/srv/app/bin",
		OnBuild:     []string{"COPY . $APP_HOME"},
		Labels:      map[string]string{"base": "yes", "org.opencontainers.image.title": "demo app", "version": "1.0"},
		StopSignal:  "SIGQUIT",
		Shell:       []string{"/bin/ash", "-eo", "pipefail", "-c"},
	}
	if !reflect.DeepEqual(st.Image.Config, want) {
		t.Errorf("config\n got %#v\nwant %#v", st.Image.Config, want)
	}
	if st.Image.Author != "Jane <jane@example.com>" {
		t.Errorf("Author = %q", st.Image.Author)
	}
	wantHistory := []string{
		"MAINTAINER Jane <jane@example.com>",
		"ENV APP_HOME=/srv/app PORT=8080",
		"LABEL org.opencontainers.image.title=demo app version=1.0",
		"WORKDIR /srv/app",
		"WORKDIR /srv/app/bin",
		"USER 1000:1000",
		"EXPOSE [8080/tcp 9000/udp 9001/udp]",
		"VOLUME [/data]",
		"SHELL [/bin/ash -eo pipefail -c]",
		`CMD ["/bin/ash" "-eo" "pipefail" "-c" "./server --port \"$PORT\""]`,
		`ENTRYPOINT ["/sbin/tini" "--"]`,
		"STOPSIGNAL SIGQUIT",
		"HEALTHCHECK {Test:[CMD-SHELL wget -qO- http://localhost:$PORT/health] Interval:10s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}",
		"",
		"ENV PORT=9090",
	}
	if !reflect.DeepEqual(history, wantHistory) {
		t.Errorf("history\n got %q\nwant %q", history, wantHistory)
	}
	if !reflect.DeepEqual(busybox.Config.Cmd, []string{"sh"}) || len(busybox.Config.Labels) != 1 {
		t.Errorf("base image changed: %#v", busybox.Config)
	}

	// The second stage builds on the first: its ONBUILD trigger comes back
	// out, and its ENTRYPOINT drops the CMD it inherited.
	st2, triggers := NewState(st.Image)
	cmds, err := Triggers(triggers)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := cmds[0].(*bk.CopyCommand); len(cmds) != 1 || !ok || c.DestPath != "$APP_HOME" {
		t.Errorf("triggers = %#v", cmds)
	}
	runStage(t, f, 1, st2)
	want2 := want.Clone()
	want2.OnBuild = nil
	want2.Entrypoint = []string{"/server"}
	want2.Cmd = nil
	if !reflect.DeepEqual(st2.Image.Config, want2) {
		t.Errorf("stage 2 config\n got %#v\nwant %#v", st2.Image.Config, want2)
	}
}
