package dockerfile

import (
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(src), "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

const multiStage = `FROM alpine AS tools
FROM golang AS build
RUN --mount=type=cache,target=/c --mount=from=tools,src=/bin,target=/t make
FROM build AS test
COPY --from=0 /x /x
FROM scratch AS unused
COPY --from=nginx:latest /etc/nginx /etc/nginx
FROM busybox
COPY --from=BUILD /out /out
RUN --mount=from=alpine:3,target=/a --mount=type=bind,target=/ctx true
COPY --from=nginx:latest /a /a
`

func TestStageDeps(t *testing.T) {
	t.Parallel()
	got, err := StageDeps(mustParse(t, multiStage))
	if err != nil {
		t.Fatal(err)
	}
	want := []Deps{
		{Base: -1},
		{Base: -1, Stages: []int{0}},
		{Base: 1, Stages: []int{0, 1}},
		{Base: -1, Images: []string{"nginx:latest"}},
		{Base: -1, Stages: []int{1}, Images: []string{"alpine:3", "nginx:latest"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StageDeps:\n got %+v\nwant %+v", got, want)
	}
}

func TestStageDepsBase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		bases     []int
	}{
		{"later stage name is an image", "FROM b AS a\nFROM busybox AS b\n", []int{-1, -1}},
		{"FROM matches the exact lowercase name", "FROM busybox AS a\nFROM A\n", []int{-1, -1}},
		{"latest earlier duplicate wins", "FROM busybox AS a\nFROM alpine AS a\nFROM a\n", []int{-1, -1, 1}},
		{"scratch", "FROM scratch\n", []int{-1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deps, err := StageDeps(mustParse(t, tt.src))
			if err != nil {
				t.Fatal(err)
			}
			var bases []int
			for _, d := range deps {
				bases = append(bases, d.Base)
			}
			if !reflect.DeepEqual(bases, tt.bases) {
				t.Errorf("bases = %v, want %v", bases, tt.bases)
			}
		})
	}
}

func TestStageDepsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"COPY from a later stage", "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n",
			`Dockerfile:2: COPY --from=b: stage "b" must be defined before the current stage "a"`},
		{"COPY from itself", "FROM busybox AS a\nRUN true\nCOPY --from=a /x /y\n",
			`Dockerfile:3: COPY --from=a: stage "a" cannot read itself`},
		{"COPY from its own index", "FROM busybox\nCOPY --from=0 /x /y\n",
			`Dockerfile:2: COPY --from=0: stage "stage-0" cannot read itself`},
		{"index out of range", "FROM busybox\nFROM busybox\nCOPY --from=5 /x /y\n",
			"Dockerfile:3: COPY --from=5: invalid stage index 5: the Dockerfile has 2 stages"},
		{"variable in --from", "FROM busybox\nCOPY --from=$X /x /y\n",
			"Dockerfile:2: COPY --from=$X: variable expansion is not supported for --from; define a stage with FROM using a global ARG instead"},
		{"mount from a later stage", "FROM busybox AS a\nRUN --mount=from=b,target=/b true\nFROM busybox AS b\n",
			`Dockerfile:2: RUN --mount from=b: stage "b" must be defined before the current stage "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, tt.src)
			if _, err := StageDeps(f); err == nil || err.Error() != tt.want {
				t.Errorf("StageDeps error\n got %v\nwant %s", err, tt.want)
			}
			if _, err := Needed(f, ""); err == nil || err.Error() != tt.want {
				t.Errorf("Needed error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestNeeded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, target string
		want              []int
		wantErr           string
	}{
		{name: "last stage by default", src: multiStage, want: []int{0, 1, 4}},
		{name: "named target", src: multiStage, target: "test", want: []int{0, 1, 2}},
		{name: "target in any case", src: multiStage, target: "TOOLS", want: []int{0}},
		{name: "no stage deps", src: multiStage, target: "unused", want: []int{3}},
		{name: "last of duplicate names", src: "FROM busybox AS a\nFROM alpine AS a\nFROM a\n", target: "a", want: []int{1}},
		{name: "unknown target", src: multiStage, target: "nope",
			wantErr: `Dockerfile: target stage "nope" could not be found; stages are: tools, build, test, unused`},
		{name: "unknown target, no names", src: "FROM busybox\n", target: "x",
			wantErr: `Dockerfile: target stage "x" could not be found; the Dockerfile has no named stages (name one with FROM image AS name)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Needed(mustParse(t, tt.src), tt.target)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Needed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStageName(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "FROM busybox\nFROM busybox AS App\n")
	if a, b := StageName(f, 0), StageName(f, 1); a != "stage-0" || b != "app" {
		t.Errorf("StageName = %q, %q; want stage-0, app", a, b)
	}
}
