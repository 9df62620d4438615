package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newImagesCmd) }

type imagesFlags struct {
	all, digests, noTrunc, quiet, noHeading bool
	filters                                 []string
	format                                  string
}

func newImagesCmd(g *globals) *cobra.Command {
	var f imagesFlags
	cmd := &cobra.Command{
		Use:     "images [flags] [IMAGE]",
		Aliases: []string{"list", "ls"},
		Short:   "List images in the store",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.filters = append(f.filters, "reference="+args[0])
			}
			return runImages(cmd, g, &f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.all, "all", "a", false, "show intermediate images too")
	fl.BoolVar(&f.digests, "digests", false, "show digests")
	fl.BoolVar(&f.noTrunc, "no-trunc", false, "do not truncate ids")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only image ids")
	fl.BoolVarP(&f.noHeading, "noheading", "n", false, "do not print the column headings")
	fl.StringArrayVarP(&f.filters, "filter", "f", nil,
		"filter: dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE], until=TIME, id=ID")
	fl.StringVar(&f.format, "format", "", "json, or a Go template such as '{{.ID}} {{.Repository}}'")
	return cmd
}

func runImages(cmd *cobra.Command, g *globals, f *imagesFlags) error {
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	imgs, err := st.Images(cmd.Context(), storage.ListOptions{All: f.all, Filters: f.filters})
	if err != nil {
		return err
	}
	w := out(cmd)
	switch {
	case isJSON(f.format):
		return printJSON(w, imagesJSON(imgs))
	case f.quiet:
		return printImageIDs(w, imgs, f.noTrunc)
	}
	rows := imageRows(imgs, f.noTrunc)
	format := f.format
	if format == "" {
		format = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		if f.digests {
			format = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
	}
	return render(w, format, rows, table{headers: imageHeaders, noHeading: f.noHeading})
}

var imageHeaders = map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"}

func printImageIDs(w io.Writer, imgs []*storage.ImageSummary, noTrunc bool) error {
	for _, img := range imgs {
		id := shortID(img.ID)
		if noTrunc {
			id = "sha256:" + img.ID
		}
		if _, err := fmt.Fprintln(w, id); err != nil {
			return err
		}
	}
	return nil
}

// imageRow is one line of kiln images: one per name, as podman shows them.
// Its fields are what --format templates can use.
type imageRow struct {
	ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size string
	Names                                                      []string
	Labels                                                     map[string]string
	Containers                                                 int
	Dangling, ReadOnly                                         bool
	// Platform is "os/arch[/variant]", or "manifest list".
	Platform string
}

func imageRows(imgs []*storage.ImageSummary, noTrunc bool) []imageRow {
	var rows []imageRow
	for _, img := range imgs {
		base := imageRow{ID: shortID(img.ID), Repository: "<none>", Tag: "<none>", Digest: img.Digest.String(),
			CreatedSince: humanSince(img.Created), CreatedAt: img.Created.String(), Size: humanSize(img.Size),
			Names: img.Names, Labels: img.Labels, Containers: img.Containers, Dangling: img.Dangling(), ReadOnly: img.ReadOnly,
			Platform: img.Platform}
		if noTrunc {
			base.ID = "sha256:" + img.ID
		}
		if len(img.Names) == 0 {
			rows = append(rows, base)
		}
		for _, name := range img.Names {
			row := base
			row.Repository, row.Tag = storage.SplitName(name)
			rows = append(rows, row)
		}
	}
	return rows
}

// imageJSON is one entry of kiln images --format json, with podman's keys.
type imageJSON struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	VirtualSize int64             `json:"VirtualSize"`
	Labels      map[string]string `json:"Labels"`
	Containers  int               `json:"Containers"`
	ReadOnly    bool              `json:"ReadOnly,omitempty"`
	Dangling    bool              `json:"Dangling,omitempty"`
	Names       []string          `json:"Names,omitempty"`
	Digest      string            `json:"Digest,omitempty"`
	Created     int64             `json:"Created"`
	CreatedAt   string            `json:"CreatedAt"`
	Platform    string            `json:"Platform,omitempty"`
}

func imagesJSON(imgs []*storage.ImageSummary) []imageJSON {
	out := []imageJSON{}
	for _, img := range imgs {
		j := imageJSON{ID: img.ID, ParentID: img.Parent, RepoTags: img.Names,
			Size: img.Size, VirtualSize: img.Size, Labels: img.Labels, Containers: img.Containers,
			ReadOnly: img.ReadOnly, Dangling: img.Dangling(), Names: img.Names, Digest: img.Digest.String(),
			Created: img.Created.Unix(), CreatedAt: img.Created.UTC().Format("2006-01-02T15:04:05Z"),
			RepoDigests: img.RepoDigests(), Platform: img.Platform}
		out = append(out, j)
	}
	return out
}
