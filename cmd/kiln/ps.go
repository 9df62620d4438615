package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newPsCmd) }

// psRow is one container of kiln ps.
type psRow struct {
	ID        string    `json:"Id"`
	Names     []string  `json:"Names"`
	Image     string    `json:"Image"`
	Command   []string  `json:"Command"`
	Created   time.Time `json:"Created"`
	State     string    `json:"State"`
	Status    string    `json:"Status"`
	ExitCode  int       `json:"ExitCode"`
	Ports     []string  `json:"Ports"`
	Pid       int       `json:"Pid"`
	StartedAt time.Time `json:"StartedAt,omitzero"`
}

func newPsCmd(g *globals) *cobra.Command {
	var (
		all, quiet, noTrunc bool
		format              string
	)
	cmd := &cobra.Command{
		Use:   "ps [flags]",
		Short: "List the containers started by kiln run",
		Long: "List the containers started by kiln run: running ones, or all with -a. A container whose " +
			"supervisor is gone shows as exited. Working containers are listed by kiln containers.",
		Args: cobra.NoArgs,
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			rows, err := psRows(st, all)
			if err != nil {
				return err
			}
			return printPs(cmd, rows, format, quiet, noTrunc)
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "show exited containers too")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only container ids")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate ids and commands")
	fl.StringVar(&format, "format", "", "json, or a Go template such as '{{.ID}} {{.Status}}'")
	return cmd
}

func psRows(st *storage.Store, all bool) ([]psRow, error) {
	cs, err := st.Containers()
	if err != nil {
		return nil, err
	}
	var rows []psRow
	for _, c := range cs {
		if c.Kind != storage.KindRun {
			continue
		}
		s, err := runState(st, c)
		if err != nil {
			return nil, err
		}
		if !all && s.Status != container.StatusRunning {
			continue
		}
		rows = append(rows, psRow{ID: c.ID, Names: []string{c.Name}, Image: s.Image, Command: s.Command,
			Created: c.Created, State: s.Status, Status: statusText(s), ExitCode: s.ExitCode, Ports: s.Ports,
			Pid: s.Pid, StartedAt: s.StartedAt})
	}
	return rows, nil
}

// runState is a run container's current state; one without a run
// directory (left from before a reboot) counts as created.
func runState(st *storage.Store, c *storage.Container) (*container.State, error) {
	s, err := container.ReadState(st.ContainerRunDir(c.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return &container.State{ID: c.ID, Name: c.Name, Image: c.FromImage, Status: container.StatusCreated}, nil
	}
	if err != nil {
		return nil, err
	}
	return s.Current(), nil
}

// statusText is docker's STATUS column.
func statusText(s *container.State) string {
	switch s.Status {
	case container.StatusRunning:
		return "Up " + strings.TrimSuffix(humanSince(s.StartedAt), " ago")
	case container.StatusExited:
		code := fmt.Sprint(s.ExitCode)
		if s.ExitCode < 0 {
			code = "unknown"
		}
		if s.FinishedAt.IsZero() {
			return "Exited (" + code + ")"
		}
		return "Exited (" + code + ") " + humanSince(s.FinishedAt)
	}
	return "Created"
}

func printPs(cmd *cobra.Command, rows []psRow, format string, quiet, noTrunc bool) error {
	w := out(cmd)
	switch {
	case isJSON(format):
		if rows == nil {
			rows = []psRow{}
		}
		return printJSON(w, rows)
	case format != "":
		return render(w, format, rows, table{})
	}
	if quiet {
		for _, r := range rows {
			id := r.ID
			if !noTrunc {
				id = shortID(id)
			}
			fmt.Fprintln(w, id)
		}
		return nil
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, r := range rows {
		id, command := r.ID, strings.Join(r.Command, " ")
		if !noTrunc {
			id, command = shortID(id), truncateText(command, 20)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, r.Image, command, humanSince(r.Created), r.Status,
			strings.Join(r.Ports, ", "), strings.Join(r.Names, ","))
	}
	return tw.Flush()
}
