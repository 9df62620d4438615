package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
)

// SearchResult is one repository found by Search. JSON keys are podman's.
type SearchResult struct {
	Index       string `json:"Index"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
	Stars       int    `json:"Stars"`
	Official    string `json:"Official"`
	Automated   string `json:"Automated"`
	Tag         string `json:"Tag"`
}

// Search looks for repositories matching term. "host[:port]/text" searches
// that registry; plain text searches registries.conf's unqualified-search
// registries. A registry's /v1/search is tried first, then its
// /v2/_catalog filtered by the text. limit caps the results per registry.
func Search(ctx context.Context, opts SystemOptions, term string, limit int) ([]SearchResult, error) {
	sys, err := opts.SystemContext()
	if err != nil {
		return nil, err
	}
	registries, query := splitSearchTerm(term)
	if registries == nil {
		if registries, err = sysregistriesv2.UnqualifiedSearchRegistries(sys); err != nil {
			return nil, fmt.Errorf("reading registries.conf: %w", err)
		}
		if len(registries) == 0 {
			return nil, fmt.Errorf("searching %q: name a registry (HOST/%s): registries.conf lists no unqualified-search registries: %w", term, term, fs.ErrInvalid)
		}
	}
	if limit <= 0 {
		limit = 25
	}
	var out []SearchResult
	var errs []error
	for _, reg := range registries {
		res, err := docker.SearchRegistry(ctx, sys, reg, query, limit)
		if err != nil {
			errs = append(errs, fmt.Errorf("searching %s: %w", reg, registryError(err)))
			continue
		}
		for _, r := range res {
			sr := SearchResult{Index: reg, Name: reg + "/" + r.Name, Description: r.Description, Stars: r.StarCount}
			if r.IsOfficial {
				sr.Official = "[OK]"
			}
			if r.IsAutomated {
				sr.Automated = "[OK]"
			}
			out = append(out, sr)
		}
	}
	if len(errs) == len(registries) {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// splitSearchTerm separates a leading registry host from the search text.
// It returns nil registries when term names none.
func splitSearchTerm(term string) ([]string, string) {
	first, rest, ok := strings.Cut(term, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return []string{first}, rest
	}
	return nil, term
}
