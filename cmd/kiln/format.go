package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode"

	units "github.com/docker/go-units"
)

// Output follows podman's report package: tables through a tabwriter with
// its widths, --format json as an indented JSON document, --format TEMPLATE
// as a Go template per row, and "table TEMPLATE" as a template with a header.

// isJSON reports whether a --format value asks for JSON.
func isJSON(format string) bool {
	f := strings.TrimSpace(format)
	return f == "json" || f == "{{json .}}"
}

// printJSON writes v as podman does: indented by four spaces.
func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// newTable returns a tabwriter with podman's settings; columns are
// separated by tabs and Flush must be called.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 12, 2, 2, ' ', 0) }

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(buf.String()), nil
	},
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"split": strings.Split,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
}

var (
	fieldRef     = regexp.MustCompile(`\{\{-?\s*\.(\w+)\s*-?\}\}`)
	otherActions = regexp.MustCompile(`\{\{.*?\}\}`)
)

// table describes the header of a "table" --format: the column title of
// each {{.Field}} (default: the field name in capitals), or none at all.
type table struct {
	headers   map[string]string
	noHeading bool
}

// render executes a --format template for each row. A "table " prefix
// aligns the columns and prints a header naming each {{.Field}}, as podman
// does. Escaped \t and \n in the template are tabs and newlines.
func render[T any](w io.Writer, format string, rows []T, t table) error {
	body, isTable := strings.CutPrefix(format, "table")
	if isTable {
		body = strings.TrimSpace(body)
	}
	body = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(body)
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(body)
	if err != nil {
		return fmt.Errorf("parsing --format template: %w", err)
	}
	out := w
	var tw *tabwriter.Writer
	if isTable {
		tw = newTable(w)
		out = tw
	}
	if isTable && !t.noHeading {
		header := fieldRef.ReplaceAllStringFunc(body, func(m string) string {
			name := fieldRef.FindStringSubmatch(m)[1]
			if h, ok := t.headers[name]; ok {
				return h
			}
			return headerOf(name)
		})
		header = otherActions.ReplaceAllString(header, "")
		if _, err := io.WriteString(out, header); err != nil {
			return err
		}
	}
	for _, row := range rows {
		if err := tmpl.Execute(out, any(row)); err != nil {
			return fmt.Errorf("executing --format template: %w", err)
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// headerOf turns a field name into a column header: "CreatedAt" → "CREATED AT".
func headerOf(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rune(name[i-1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// humanSize is podman's size column: three significant digits and a space
// before the decimal unit, "7.35 MB".
func humanSize(n int64) string {
	s := units.HumanSizeWithPrecision(float64(n), 3)
	i := strings.LastIndexFunc(s, unicode.IsDigit)
	return s[:i+1] + " " + s[i+1:]
}

// humanSince is podman's CREATED column: "2 weeks ago".
func humanSince(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// shortID is the 12-character id docker and podman print.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// truncateText cuts s to n characters with "..." as podman's history does.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
