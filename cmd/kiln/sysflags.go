package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/storage"
)

// sysFlags are the registry flags shared by pull, push, login, search and
// build: --tls-verify, --cert-dir, --creds and --authfile.
type sysFlags struct {
	fs        *pflag.FlagSet
	tlsVerify bool
	certDir   string
	creds     string
	authFile  string
	policy    string
}

// add registers the flags on fl.
func (s *sysFlags) add(fl *pflag.FlagSet) {
	s.fs = fl
	fl.BoolVar(&s.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates (default from registries.conf)")
	fl.StringVar(&s.certDir, "cert-dir", "", "directory of certificates (*.crt, *.cert, *.key) for the registry")
	fl.StringVar(&s.creds, "creds", "", "registry credentials USER[:PASSWORD]")
	fl.StringVar(&s.policy, "signature-policy", "", "signature policy file (default policy.json as podman finds it)")
	fl.StringVar(&s.authFile, "authfile", "", "auth file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
}

// options turns the flags into storage's settings. --tls-verify counts only
// when given, so that registries.conf's insecure registries still apply.
func (s *sysFlags) options() (storage.SystemOptions, error) {
	var o storage.SystemOptions
	if s.fs != nil && s.fs.Changed("tls-verify") {
		v := s.tlsVerify
		o.TLSVerify = &v
	}
	o.CertDir, o.Creds, o.AuthFile, o.PolicyPath = s.certDir, s.creds, s.authFile, s.policy
	return o, nil
}

// platformFlags are pull's --platform, --os, --arch and --variant.
type platformFlags struct {
	platform, os, arch, variant string
}

func (p *platformFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&p.platform, "platform", "", "pull the image for OS/ARCH[/VARIANT] of a manifest list")
	fl.StringVar(&p.os, "os", "", "pull the image for this OS instead of the host's")
	fl.StringVar(&p.arch, "arch", "", "pull the image for this architecture instead of the host's")
	fl.StringVar(&p.variant, "variant", "", "pull the image for this architecture variant")
}

// apply sets the platform choice in o; --platform wins over the others.
func (p *platformFlags) apply(o *storage.SystemOptions) error {
	o.OS, o.Architecture, o.Variant = p.os, p.arch, p.variant
	if p.platform == "" {
		return nil
	}
	parts := strings.Split(p.platform, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("--platform %q: want OS/ARCH[/VARIANT]", p.platform)
	}
	o.OS, o.Architecture = parts[0], parts[1]
	if len(parts) == 3 {
		o.Variant = parts[2]
	}
	return nil
}
