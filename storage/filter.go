package storage

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.podman.io/image/v5/docker/reference"
)

// The --filter keys each command accepts.
var (
	imageFilterKeys = []string{"dangling", "reference", "before", "since", "label", "label!", "until", "id", "readonly"}
	pruneFilterKeys = []string{"until", "label", "label!"}
)

// imageFilter is a parsed set of podman --filter arguments. Different keys
// must all match; repeated reference or id filters match if any does, repeated
// label filters must all match, as in podman.
type imageFilter struct {
	dangling   *bool
	readonly   *bool
	references []string
	ids        []string
	labels     []string
	notLabels  []string
	before     *time.Time
	since      *time.Time
	until      *time.Time
}

// parseFilters parses "key=value" filters, allowing only keys.
func (st *Store) parseFilters(args []string, keys []string) (*imageFilter, error) {
	f := &imageFilter{}
	for _, arg := range args {
		key, val, ok := strings.Cut(arg, "=") // "label!=k=v" gives key "label!"
		if !ok || !slices.Contains(keys, key) {
			return nil, fmt.Errorf("invalid filter %q: want one of %s=VALUE: %w", arg, strings.Join(keys, "=, "), fs.ErrInvalid)
		}
		if err := st.addFilter(f, key, val); err != nil {
			return nil, fmt.Errorf("invalid filter %q: %w", arg, err)
		}
	}
	return f, nil
}

func (st *Store) addFilter(f *imageFilter, key, val string) error {
	switch key {
	case "dangling", "readonly":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("want true or false: %w", fs.ErrInvalid)
		}
		if key == "dangling" {
			f.dangling = &b
		} else {
			f.readonly = &b
		}
	case "reference":
		f.references = append(f.references, val)
	case "id":
		f.ids = append(f.ids, strings.TrimPrefix(val, "sha256:"))
	case "label":
		f.labels = append(f.labels, val)
	case "label!":
		f.notLabels = append(f.notLabels, val)
	case "before", "since":
		rec, err := st.Lookup(val)
		if err != nil {
			return err
		}
		t := rec.Created
		if key == "before" {
			f.before = &t
		} else {
			f.since = &t
		}
	case "until":
		t, err := parseUntil(val, time.Now())
		if err != nil {
			return err
		}
		f.until = &t
	}
	return nil
}

// parseUntil reads a duration ("24h", counted back from now), a Unix
// timestamp or an RFC 3339 time.
func parseUntil(val string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(val); err == nil {
		return now.Add(-d), nil
	}
	if secs, err := strconv.ParseInt(val, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, val); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want a duration such as 24h, a Unix time or an RFC 3339 time: %w", fs.ErrInvalid)
}

func (f *imageFilter) match(s *ImageSummary) bool {
	switch {
	case f.dangling != nil && s.Dangling() != *f.dangling,
		f.readonly != nil && s.ReadOnly != *f.readonly,
		f.before != nil && !s.Created.Before(*f.before),
		f.since != nil && !s.Created.After(*f.since),
		f.until != nil && !s.Created.Before(*f.until):
		return false
	case len(f.ids) > 0 && !slices.ContainsFunc(f.ids, func(id string) bool { return strings.HasPrefix(s.ID, id) }):
		return false
	case len(f.references) > 0 && !slices.ContainsFunc(f.references, func(p string) bool { return matchReference(p, s.Names) }):
		return false
	}
	for _, l := range f.labels {
		if !hasLabel(s.Labels, l) {
			return false
		}
	}
	for _, l := range f.notLabels {
		if hasLabel(s.Labels, l) {
			return false
		}
	}
	return true
}

// hasLabel matches "key" (any value) or "key=value".
func hasLabel(labels map[string]string, want string) bool {
	k, v, withValue := strings.Cut(want, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

// matchReference matches a glob against an image's names the ways a user
// may write them: in full, without localhost/ or docker.io/library/, with
// or without the tag.
func matchReference(pattern string, names []string) bool {
	for _, name := range names {
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			continue
		}
		forms := []string{named.String(), reference.FamiliarString(named)}
		if strings.HasPrefix(named.String(), "localhost/") {
			forms = append(forms, strings.TrimPrefix(named.String(), "localhost/"))
		}
		for _, form := range forms {
			repo, _, _ := strings.Cut(form, "@")
			if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
				repo = repo[:i]
			}
			if ok, _ := path.Match(pattern, form); ok {
				return true
			}
			if ok, _ := path.Match(pattern, repo); ok {
				return true
			}
		}
	}
	return false
}
