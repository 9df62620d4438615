package dockerfile

import (
	"reflect"
	"testing"
)

func TestExpandFrom(t *testing.T) {
	t.Parallel()
	const src = "ARG REG=docker.io\nARG BASE=$REG/library/busybox\nARG TAG\n" +
		"FROM ${BASE}:${TAG:-latest} AS build\n" +
		"FROM --platform=$BUILDPLATFORM golang:${GO_VERSION:-1.22}-$TARGETARCH\n" +
		"FROM build\n"
	tests := []struct {
		name      string
		vals      ArgValues
		bases     []string
		platforms []string
		env       []string
	}{{
		name:      "defaults",
		vals:      ArgValues{Predefined: map[string]string{"TARGETARCH": "amd64", "BUILDPLATFORM": "linux/amd64"}},
		bases:     []string{"docker.io/library/busybox:latest", "golang:1.22-amd64", "build"},
		platforms: []string{"", "linux/amd64", ""},
		env:       []string{"BUILDPLATFORM=linux/amd64", "TARGETARCH=amd64", "REG=docker.io", "BASE=docker.io/library/busybox"},
	}, {
		name: "build args override defaults and predefined values, only where declared",
		vals: ArgValues{
			Build:      map[string]string{"TAG": "1.36", "REG": "quay.io", "TARGETARCH": "arm64", "GO_VERSION": "1.21"},
			Predefined: map[string]string{"TARGETARCH": "amd64", "BUILDPLATFORM": "linux/amd64"},
		},
		bases:     []string{"quay.io/library/busybox:1.36", "golang:1.22-arm64", "build"},
		platforms: []string{"", "linux/amd64", ""},
		env:       []string{"BUILDPLATFORM=linux/amd64", "TARGETARCH=arm64", "REG=quay.io", "BASE=quay.io/library/busybox", "TAG=1.36"},
	}, {
		name: "a build arg replaces a default verbatim",
		vals: ArgValues{
			Build:      map[string]string{"BASE": "$REG/alpine"},
			Predefined: map[string]string{"TARGETARCH": "amd64", "BUILDPLATFORM": "linux/amd64"},
		},
		bases:     []string{"$REG/alpine:latest", "golang:1.22-amd64", "build"},
		platforms: []string{"", "linux/amd64", ""},
		env:       []string{"BUILDPLATFORM=linux/amd64", "TARGETARCH=amd64", "REG=docker.io", "BASE=$REG/alpine"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := mustParse(t, src)
			env, err := ExpandFrom(f, tt.vals)
			if err != nil {
				t.Fatal(err)
			}
			var bases, platforms []string
			for _, st := range f.Stages {
				bases = append(bases, st.BaseName)
				platforms = append(platforms, st.Platform)
			}
			if !reflect.DeepEqual(bases, tt.bases) || !reflect.DeepEqual(platforms, tt.platforms) {
				t.Errorf("bases %q platforms %q\nwant %q %q", bases, platforms, tt.bases, tt.platforms)
			}
			if !reflect.DeepEqual(env, tt.env) {
				t.Errorf("env = %q\nwant %q", env, tt.env)
			}
		})
	}
}

func TestExpandFromThenStageDeps(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "ARG FROM_STAGE=build\nFROM busybox AS build\nFROM $FROM_STAGE\n")
	if _, err := ExpandFrom(f, ArgValues{}); err != nil {
		t.Fatal(err)
	}
	deps, err := StageDeps(f)
	if err != nil {
		t.Fatal(err)
	}
	if deps[1].Base != 0 {
		t.Errorf("stage 1 base = %d, want 0", deps[1].Base)
	}
}

func TestExpandFromEscape(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "# escape=`\nARG V=1\nFROM busybox:`$V-$V\n")
	if _, err := ExpandFrom(f, ArgValues{}); err != nil {
		t.Fatal(err)
	}
	if got := f.Stages[0].BaseName; got != "busybox:$V-1" {
		t.Errorf("base = %q, want busybox:$V-1", got)
	}
}

func TestExpandFromErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"empty base", "FROM busybox\nFROM $MISSING\n",
			"Dockerfile:2: FROM $MISSING: the base name is empty after expanding the ARGs; declare the ARG before the first FROM, give it a default or pass --build-arg"},
		{"required variable", "ARG TAG\nFROM busybox:${TAG:?required}\n",
			"Dockerfile:2: FROM busybox:${TAG:?required}: TAG: required"},
		{"bad default", "ARG A=${\nFROM busybox\n", `Dockerfile:1: ARG A: syntax error: missing '}'`},
		{"empty platform", "FROM --platform=$NOPE busybox\n",
			"Dockerfile:1: FROM --platform=$NOPE: the platform is empty after expanding the ARGs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ExpandFrom(mustParse(t, tt.src), ArgValues{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}
