package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newLoginCmd) }

type loginFlags struct {
	sys           sysFlags
	user, pass    string
	passwordStdin bool
}

func newLoginCmd(g *globals) *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login [flags] REGISTRY",
		Short: "Log in to a registry",
		Long: "Check credentials against a registry and store them in the auth file " +
			"($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json). " +
			"kiln prompts for a missing user name or password only on a terminal.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runLogin(cmd, &f, args[0]) },
	}
	fl := cmd.Flags()
	f.sys.add(fl)
	fl.StringVarP(&f.user, "username", "u", "", "user name")
	fl.StringVarP(&f.pass, "password", "p", "", "password (visible to other users: prefer --password-stdin)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func runLogin(cmd *cobra.Command, f *loginFlags, registry string) error {
	key, err := storage.RegistryKey(registry)
	if err != nil {
		return err
	}
	opts, err := f.sys.options()
	if err != nil {
		return err
	}
	opts.Creds = ""
	creds := storage.Credentials{Username: f.user, Password: f.pass}
	if f.sys.creds != "" {
		creds.Username, creds.Password, _ = strings.Cut(f.sys.creds, ":")
	}
	if f.passwordStdin {
		if creds.Password, err = readPassword(cmd.InOrStdin()); err != nil {
			return err
		}
	}
	w := out(cmd)
	if creds.Username == "" && creds.Password == "" {
		if ok, err := existingLogin(cmd, opts, key); ok || err != nil {
			return err
		}
	}
	if err := promptMissing(cmd, &creds); err != nil {
		return err
	}
	if _, err := storage.Login(cmd.Context(), opts, key, creds); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, "Login Succeeded!")
	return err
}

// existingLogin reports whether the stored credentials for key still work,
// as podman login without credentials checks first.
func existingLogin(cmd *cobra.Command, opts storage.SystemOptions, key string) (bool, error) {
	stored, err := storage.StoredCredentials(opts, key)
	if err != nil || stored.Username == "" {
		return false, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Authenticating with existing credentials for %s\n", key)
	if err := storage.CheckLogin(cmd.Context(), opts, key, stored); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "Existing credentials are invalid, please enter valid username and password\n")
		return false, nil
	}
	_, err = fmt.Fprintf(out(cmd), "Existing credentials are valid. Already logged in to %s\n", key)
	return true, err
}

// readPassword reads --password-stdin's password: the first line, without
// its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading password from standard input: %w", err)
	}
	pass := strings.TrimRight(line, "\r\n")
	if pass == "" {
		return "", fmt.Errorf("reading password from standard input: it is empty")
	}
	return pass, nil
}

// promptMissing asks for a missing user name or password on a terminal and
// refuses otherwise: kiln never waits for input nobody will type.
func promptMissing(cmd *cobra.Command, c *storage.Credentials) error {
	if c.Username != "" && c.Password != "" {
		return nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		if c.Username == "" {
			return fmt.Errorf("no user name: use -u USER (standard input is not a terminal to ask on)")
		}
		return fmt.Errorf("no password: use -p, --password-stdin or a terminal")
	}
	if c.Username == "" {
		fmt.Fprint(cmd.ErrOrStderr(), "Username: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading user name: %w", err)
		}
		c.Username = strings.TrimSpace(line)
	}
	if c.Password == "" {
		fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
		pass, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return fmt.Errorf("reading password: %w", err)
		}
		c.Password = string(pass)
	}
	return nil
}
