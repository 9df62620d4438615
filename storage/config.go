package storage

import (
	"time"

	digest "github.com/opencontainers/go-digest"
)

// Config is an image's runtime configuration. Field names and JSON keys are
// docker's, so one document serves docker schema2 and OCI consumers alike
// (OCI readers ignore the docker-only Healthcheck, OnBuild and Shell).
type Config struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

// Healthcheck is docker's HEALTHCHECK configuration. Durations are
// nanoseconds in JSON, as docker writes them.
type Healthcheck struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// History is one entry of an image's history.
type History struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// RootFS lists the uncompressed digests of an image's layers, bottom first.
type RootFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diff_ids"`
}

// Image is an image's config document: platform, runtime config, layers and
// history. It marshals to the JSON that docker and OCI both call the image
// config.
type Image struct {
	Created      *time.Time `json:"created,omitempty"`
	Author       string     `json:"author,omitempty"`
	Architecture string     `json:"architecture"`
	OS           string     `json:"os"`
	Variant      string     `json:"variant,omitempty"`
	OSVersion    string     `json:"os.version,omitempty"`
	Config       Config     `json:"config"`
	RootFS       RootFS     `json:"rootfs"`
	History      []History  `json:"history,omitempty"`
}

// Clone returns a deep copy of img, so that a build step can change its copy
// without touching the parent's.
func (img *Image) Clone() *Image {
	c := *img
	c.Config = img.Config.Clone()
	c.RootFS.DiffIDs = append([]digest.Digest(nil), img.RootFS.DiffIDs...)
	c.History = append([]History(nil), img.History...)
	return &c
}

// Clone returns a deep copy of c.
func (c Config) Clone() Config {
	out := c
	out.ExposedPorts = cloneSet(c.ExposedPorts)
	out.Volumes = cloneSet(c.Volumes)
	out.Env = cloneSlice(c.Env)
	out.Entrypoint = cloneSlice(c.Entrypoint)
	out.Cmd = cloneSlice(c.Cmd)
	out.OnBuild = cloneSlice(c.OnBuild)
	out.Shell = cloneSlice(c.Shell)
	if c.Labels != nil {
		out.Labels = make(map[string]string, len(c.Labels))
		for k, v := range c.Labels {
			out.Labels[k] = v
		}
	}
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = cloneSlice(h.Test)
		out.Healthcheck = &h
	}
	return out
}

func cloneSlice(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

func cloneSet(m map[string]struct{}) map[string]struct{} {
	if m == nil {
		return nil
	}
	out := make(map[string]struct{}, len(m))
	for k := range m {
		out[k] = struct{}{}
	}
	return out
}
