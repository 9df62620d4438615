package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/docker/config"
)

// ErrNotLoggedIn is returned by Logout for a registry with no stored
// credentials.
var ErrNotLoggedIn = errors.New("not logged in")

// RegistryKey turns what a user typed for a registry ("https://host:5000/",
// "docker://host/ns") into the key auth files use ("host:5000", "host/ns").
func RegistryKey(arg string) (string, error) {
	key := arg
	for _, p := range []string{"https://", "http://", "docker://"} {
		key = strings.TrimPrefix(key, p)
	}
	key = strings.TrimSuffix(key, "/")
	key = strings.TrimSuffix(key, "/v2")
	if key == "" || strings.ContainsAny(key, " \t\n@") {
		return "", fmt.Errorf("invalid registry %q: %w", arg, fs.ErrInvalid)
	}
	return key, nil
}

// host is the registry host of an auth key ("host:5000/ns" → "host:5000").
func host(key string) string {
	h, _, _ := strings.Cut(key, "/")
	return h
}

// Credentials are a user name and password (or identity token).
type Credentials struct {
	Username string
	Password string
}

// StoredCredentials returns the credentials the auth files (or credential
// helpers) hold for key, or empty ones.
func StoredCredentials(opts SystemOptions, key string) (Credentials, error) {
	sys, err := opts.SystemContext()
	if err != nil {
		return Credentials{}, err
	}
	sys.DockerAuthConfig = nil
	c, err := config.GetCredentials(sys, key)
	if err != nil {
		return Credentials{}, fmt.Errorf("reading stored credentials for %s: %w", key, err)
	}
	pass := c.Password
	if pass == "" {
		pass = c.IdentityToken
	}
	return Credentials{Username: c.Username, Password: pass}, nil
}

// CheckLogin asks the registry behind key whether creds are good.
func CheckLogin(ctx context.Context, opts SystemOptions, key string, creds Credentials) error {
	sys, err := opts.SystemContext()
	if err != nil {
		return err
	}
	sys.DockerAuthConfig = nil
	if err := docker.CheckAuth(ctx, sys, creds.Username, creds.Password, host(key)); err != nil {
		var unauth docker.ErrUnauthorizedForCredentials
		if errors.As(err, &unauth) {
			return fmt.Errorf("logging in to %s as %q: unauthorized: wrong user name or password: %w", host(key), creds.Username, ErrAuth)
		}
		return fmt.Errorf("logging in to %s: %w", host(key), registryError(err))
	}
	return nil
}

// Login checks creds against the registry behind key and stores them in the
// auth file (opts.AuthFile, $REGISTRY_AUTH_FILE or containers/image's
// default, $XDG_RUNTIME_DIR/containers/auth.json). It returns the file or
// credential helper written to.
func Login(ctx context.Context, opts SystemOptions, key string, creds Credentials) (string, error) {
	if err := CheckLogin(ctx, opts, key, creds); err != nil {
		return "", err
	}
	sys, err := opts.SystemContext()
	if err != nil {
		return "", err
	}
	where, err := config.SetCredentials(sys, key, creds.Username, creds.Password)
	if err != nil {
		return "", fmt.Errorf("storing credentials for %s: %w", key, err)
	}
	return where, nil
}

// Logout removes the stored credentials for key.
func Logout(opts SystemOptions, key string) error {
	sys, err := opts.SystemContext()
	if err != nil {
		return err
	}
	err = config.RemoveAuthentication(sys, key)
	if errors.Is(err, config.ErrNotLoggedIn) {
		return fmt.Errorf("removing credentials for %s: %w", key, ErrNotLoggedIn)
	}
	if err != nil {
		return fmt.Errorf("removing credentials for %s: %w", key, err)
	}
	return nil
}

// LogoutAll removes the stored credentials for every registry.
func LogoutAll(opts SystemOptions) error {
	sys, err := opts.SystemContext()
	if err != nil {
		return err
	}
	if err := config.RemoveAllAuthentication(sys); err != nil {
		return fmt.Errorf("removing all credentials: %w", err)
	}
	return nil
}
