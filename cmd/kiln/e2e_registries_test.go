package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ERegistriesConf checks that pulls honour registries.conf (short-name search and mirrors)
// and policy.json, as podman's do.
func TestE2ERegistriesConf(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	r := startRegistry(t)
	mustKiln(t, "tag", baseName, r.ref("e2e/conf:v1"))
	mustKiln(t, r.args("push", r.ref("e2e/conf:v1"))...)
	id := e2e.store.imageID(t, baseName)
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	body := fmt.Sprintf(`unqualified-search-registries = [%q]
short-name-mode = "permissive"

[[registry]]
prefix = "mirrored.invalid"
location = "mirrored.invalid"
[[registry.mirror]]
location = %q
`, r.host, r.host)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// Credentials for the mirror come from an auth file, as they would in real use: --creds
	// names the registry asked for, not its mirrors.
	auth := filepath.Join(dir, "auth.json")
	token := base64.StdEncoding.EncodeToString([]byte(r.creds()))
	if err := os.WriteFile(auth, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.host, token)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"CONTAINERS_REGISTRIES_CONF=" + conf, "REGISTRY_AUTH_FILE=" + auth}
	// The short name resolves through the search registry; the mirrored name through its mirror.
	for name, stored := range map[string]string{"e2e/conf:v1": r.ref("e2e/conf:v1"), "mirrored.invalid/e2e/conf:v1": "mirrored.invalid/e2e/conf:v1"} {
		s := newStore(t)
		if res := s.kilnEnv(t, env, "pull", "--cert-dir="+r.certDir, name); res.code != 0 {
			t.Fatalf("pull %s through registries.conf: exit %d\n%s", name, res.code, res.stderr)
		}
		if got := s.imageID(t, stored); got != id {
			t.Errorf("pull %s stored %s as image %s, want %s", name, stored, got, id)
		}
		// The short name finds the pulled image locally too.
		if res := s.kilnEnv(t, env, "inspect", "--format", "{{.Id}}", name); res.code != 0 || strings.TrimSpace(res.stdout) != id {
			t.Errorf("inspect %s: exit %d, id %q, want %s\n%s", name, res.code, res.stdout, id, res.stderr)
		}
	}
	reject := filepath.Join(dir, "reject.json")
	os.WriteFile(reject, []byte(`{"default":[{"type":"reject"}]}`), 0o644)
	s := newStore(t)
	res := s.kilnEnv(t, env, r.args("pull", "--signature-policy", reject, r.ref("e2e/conf:v1"))...)
	if res.code == 0 || !strings.Contains(res.stderr, "rejected") {
		t.Errorf("pull under a rejecting policy: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	accept := filepath.Join(dir, "accept.json")
	os.WriteFile(accept, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	if res := s.kilnEnv(t, env, r.args("pull", "--signature-policy", accept, r.ref("e2e/conf:v1"))...); res.code != 0 {
		t.Errorf("pull under an accepting policy: exit %d\n%s", res.code, res.stderr)
	}
}
