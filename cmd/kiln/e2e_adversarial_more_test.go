package main

// More cases of TestE2EAdversarial: broken archives for kiln load, sandbox and /proc tricks, RUN
// mounts that try to climb out.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// loadCase is a kiln load of a docker-archive the function crafts; the image, if loaded, is
// adv:latest.
func loadCase(name string, want outcome, names []string, craft func(t *testing.T, e *advEnv) string) advCase {
	return advCase{name: "load/" + name, want: want, names: names, cmd: func(t *testing.T, e *advEnv) []string {
		e.tag = "adv:latest"
		return []string{"load", "-i", craft(t, e)}
	}}
}

// layers makes archive layers of crafted tars.
func (e *advEnv) layers(t *testing.T, tars ...[]entry) []archiveLayer {
	var out []archiveLayer
	for _, entries := range tars {
		data := tarOf(t, e.expandAll(entries)...)
		out = append(out, archiveLayer{file: layerFile(data), data: data})
	}
	return out
}

func advLoadCases() []advCase {
	arch := func(t *testing.T, e *advEnv) string { return filepath.Join(e.work, "image.tar") }
	manifest := func(cfg string, layers ...string) []byte {
		b, _ := json.Marshal([]map[string]any{{"Config": cfg, "RepoTags": []string{"adv:latest"}, "Layers": layers}})
		return b
	}
	return []advCase{
		loadCase("cross-layer-symlink-write", mustSucceed, []string{"evil"}, func(t *testing.T, e *advEnv) string {
			return dockerArchive(t, arch(t, e), "", e.layers(t, []entry{symlink("evil", "{{C}}")},
				[]entry{regEnt("evil/pwn", "x\n"), regEnt("evil/token", "x\n")}), nil)
		}),
		loadCase("cross-layer-whiteout-through-symlink", mustSucceed, []string{"evil"}, func(t *testing.T, e *advEnv) string {
			return dockerArchive(t, arch(t, e), "", e.layers(t, []entry{symlink("evil", "{{C}}")},
				[]entry{regEnt("evil/.wh.token", "")}, []entry{regEnt("evil/sub/.wh..wh..opq", "")}), nil)
		}),
		loadCase("cross-layer-hardlink", mustFail, []string{"evil", "h"}, func(t *testing.T, e *advEnv) string {
			return dockerArchive(t, arch(t, e), "", e.layers(t, []entry{symlink("evil", "{{C}}")},
				[]entry{hardlink("h", "evil/token")}), nil)
		}),
		loadCase("config-dotdot", mustFail, []string{"../", "config", "manifest"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			return dockerArchive(t, arch(t, e), "", l, manifest("../../"+strings.TrimPrefix(e.canary, "/")+"/token", l[0].file))
		}),
		loadCase("layer-dotdot", mustFail, []string{"../", "layer", "manifest"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			return dockerArchive(t, arch(t, e), "cfg.json", l, manifest("cfg.json", up+e.canary+"/token"))
		}),
		loadCase("layer-absolute", mustFail, []string{"token", "layer", "manifest"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			return dockerArchive(t, arch(t, e), "cfg.json", l, manifest("cfg.json", e.canary+"/token"))
		}),
		loadCase("diffid-traversal", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			l[0].diffID = "sha256:../../../../x"
			return dockerArchive(t, arch(t, e), "", l, nil)
		}),
		loadCase("diffid-wrong-length", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			l[0].diffID = "sha256:abcd"
			return dockerArchive(t, arch(t, e), "", l, nil)
		}),
		loadCase("diffid-wrong-algorithm", mustFail, []string{"digest", "algorithm", "md5"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			l[0].diffID = "md5:0123456789abcdef0123456789abcdef"
			return dockerArchive(t, arch(t, e), "", l, nil)
		}),
		loadCase("diffid-mismatch", mustFail, []string{"digest", "diff"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			l[0].diffID = "sha256:" + sha256Hex([]byte("something else"))
			return dockerArchive(t, arch(t, e), "", l, nil)
		}),
		loadCase("manifest-not-json", mustFail, []string{"manifest"}, func(t *testing.T, e *advEnv) string {
			return dockerArchive(t, arch(t, e), "", e.layers(t, []entry{regEnt("a", "a\n")}), []byte("{{ not json"))
		}),
		loadCase("manifest-missing-layer", mustFail, []string{"nothere.tar", "missing"}, func(t *testing.T, e *advEnv) string {
			l := e.layers(t, []entry{regEnt("a", "a\n")})
			return dockerArchive(t, arch(t, e), "cfg.json", l, manifest("cfg.json", "nothere.tar"))
		}),
		loadCase("oci-index-digest-traversal", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			return ociArchive(t, e, "sha256:../../../../"+strings.TrimPrefix(e.canary, "/")+"/token")
		}),
		loadCase("oci-index-digest-wrong-length", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			return ociArchive(t, e, "sha256:0123")
		}),
		loadCase("oci-blob-mismatch", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			return ociArchive(t, e, "sha256:"+sha256Hex([]byte("not the manifest")))
		}),
		loadCase("oci-manifest-mismatch", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			return ociMismatch(t, e, false)
		}),
		loadCase("oci-layer-mismatch", mustFail, []string{"digest", "sha256"}, func(t *testing.T, e *advEnv) string {
			return ociMismatch(t, e, true)
		}),
	}
}

// ociArchive writes an OCI archive whose index points at digest; a manifest blob is stored
// under that name when the digest is well formed, so its content does not match.
func ociArchive(t *testing.T, e *advEnv, digest string) string {
	t.Helper()
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []map[string]any{{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 2,
		"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}}})
	ents := []entry{regEnt("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), regEnt("index.json", string(index)), dirEntry("blobs/"), dirEntry("blobs/sha256/")}
	if hex := strings.TrimPrefix(digest, "sha256:"); len(hex) == 64 && !strings.Contains(hex, "/") {
		ents = append(ents, regEnt("blobs/sha256/"+hex, "{}"))
	}
	return writeFile(t, e.work, "image.tar", tarOf(t, ents...))
}

// ociMismatch writes a well-formed OCI archive of one layer in which either the manifest or the
// layer is stored under a digest its content does not have.
func ociMismatch(t *testing.T, e *advEnv, badLayer bool) string {
	t.Helper()
	layer := tarOf(t, regEnt("a", "a\n"))
	cfg, _ := json.Marshal(map[string]any{"architecture": runtime.GOARCH, "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sha256Hex(layer)}}})
	layerDigest := sha256Hex(layer)
	if badLayer {
		layerDigest = sha256Hex([]byte("another layer"))
	}
	desc := func(mt string, hex string, size int) map[string]any {
		return map[string]any{"mediaType": mt, "digest": "sha256:" + hex, "size": size}
	}
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc("application/vnd.oci.image.config.v1+json", sha256Hex(cfg), len(cfg)),
		"layers": []any{desc("application/vnd.oci.image.layer.v1.tar", layerDigest, len(layer))}})
	manDigest := sha256Hex(man)
	if !badLayer {
		manDigest = sha256Hex([]byte("another manifest"))
	}
	md := desc("application/vnd.oci.image.manifest.v1+json", manDigest, len(man))
	md["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{md}})
	return writeFile(t, e.work, "image.tar", tarOf(t, regEnt("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
		regEnt("index.json", string(index)), regEnt("blobs/sha256/"+manDigest, string(man)),
		regEnt("blobs/sha256/"+sha256Hex(cfg), string(cfg)), regEnt("blobs/sha256/"+layerDigest, string(layer))))
}

func advSandboxCases() []advCase {
	noEnv := func(t *testing.T, e *advEnv) {
		if got := exportFile(t, e.s, e.tag, "env"); strings.Contains(got, advSecretVar) {
			t.Errorf("a step saw %s in its environment", advSecretVar)
		}
	}
	return []advCase{
		{name: "proc/workdir-self-fd", dockerfile: "FROM busybox\nWORKDIR /proc/self/fd/3\nRUN pwd; ls; touch x\n",
			want: mustFail, names: []string{"/proc/self/fd/3", "proc"}},
		{name: "proc/workdir-self-fd-copy", files: map[string]string{"f": "x"},
			dockerfile: "FROM busybox\nWORKDIR /proc/self/fd/3\nCOPY f .\n", want: mustSucceed, names: []string{"/proc/self/fd/3", "proc"}},
		{name: "proc/environ-of-every-process", want: mustSucceed, check: noEnv,
			dockerfile: "FROM busybox\nRUN env > /env; for p in /proc/[0-9]*; do cat $p/environ; done > /allenv 2>/dev/null; cat /proc/1/environ /proc/self/environ >> /allenv; true\n"},
		{name: "proc/parent-environ", want: mustSucceed, check: noEnv,
			dockerfile: "FROM busybox\nRUN env > /env; cat /proc/$PPID/environ /proc/0/environ > /penv 2>/dev/null; true\n"},
		{name: "proc/write-self-exe", want: mustSucceed,
			dockerfile: "FROM busybox\nRUN echo pwned > /proc/self/exe; echo pwned > /proc/1/exe; echo pwned >> /proc/$PPID/exe; true\n"},
		{name: "proc/write-every-exe", want: mustSucceed,
			dockerfile: "FROM busybox\nRUN for p in /proc/[0-9]*; do (echo x >> $p/exe) 2>/dev/null; done; true\n"},
		{name: "proc/host-root-via-pid1", want: mustSucceed,
			dockerfile: "FROM busybox\nRUN cat /proc/1/root{{C}}/token /proc/1/cwd{{C}}/token > /x 2>/dev/null; ls -la /proc/1/root/ > /y; true\n"},
		{name: "etc/hostname-link", want: mustSucceed, names: []string{"hostname"},
			dockerfile: "FROM busybox\nRUN ln -sf {{C}}/token /etc/hostname\nRUN cat /etc/hostname > /r 2>&1; true\n"},
	}
}

func advMountCases() []advCase {
	files := map[string]string{"f": "payload\n"}
	return []advCase{
		{name: "mount/bind-dotdot", dockerfile: "FROM busybox\nRUN --mount=type=bind,source=../..,target=/m ls /m > /x\n",
			want: mustSucceed, names: []string{"../..", "source"}, check: wantFile("/x", "Dockerfile\n")},
		{name: "mount/bind-absolute-canary", dockerfile: "FROM busybox\nRUN --mount=type=bind,source={{C}},target=/m cat /m/token > /x\n",
			want: mustFail, names: []string{"token", "source"}},
		{name: "mount/bind-linked-dir", prep: link("linkdir", "{{C}}"),
			dockerfile: "FROM busybox\nRUN --mount=type=bind,source=linkdir,target=/m cat /m/token > /x\n",
			want:       mustFail, names: []string{"linkdir", "token"}},
		{name: "mount/bind-from-stage-dotdot",
			dockerfile: "FROM busybox AS a\nFROM busybox\nRUN --mount=type=bind,from=a,source=" + up + "{{C}},target=/m cat /m/token > /x\n",
			want:       mustFail, names: []string{"token", "source"}},
		{name: "mount/bind-from-stage-link",
			dockerfile: "FROM busybox AS a\nRUN ln -s {{C}} /evil\nFROM busybox\nRUN --mount=type=bind,from=a,source=/evil,target=/m cat /m/token > /x\n",
			want:       mustFail, names: []string{"evil", "token"}},
		{name: "mount/cache-id-dotdot", want: mustSucceed,
			dockerfile: "FROM busybox\nRUN --mount=type=cache,id=../../x,target=/c touch /c/pwn\n",
			check: func(t *testing.T, e *advEnv) {
				for _, p := range []string{filepath.Join(e.s.root, "../../x"), filepath.Join(e.s.root, "../x")} {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("the cache id made %s outside the store", p)
					}
				}
			}},
		{name: "mount/cache-id-canary", want: mustSucceed,
			dockerfile: "FROM busybox\nRUN --mount=type=cache,id=" + up + "{{C}},target=/c touch /c/pwn; echo x > /c/token\n"},
		// A target through a link the image planted resolves inside the root, as runc resolves it:
		// the mount lands on <root>{{C}}, and the mount points created for it are gone afterwards.
		{name: "mount/cache-target-through-link", files: files, want: mustSucceed, check: mountedAt("x\n", "{{C}}"),
			dockerfile: "FROM busybox\nRUN ln -s {{C}} /evil\nRUN --mount=type=cache,target=/evil/c touch /evil/c/x && ls /evil/c > /x\n"},
		{name: "mount/tmpfs-target-link", want: mustSucceed, check: mountedAt("x\n", "{{C}}"),
			dockerfile: "FROM busybox\nRUN ln -s {{C}} /evil\nRUN --mount=type=tmpfs,target=/evil touch /evil/x && ls /evil > /x\n"},
		{name: "mount/bind-target-link", files: files, want: mustSucceed, check: mountedAt("payload\n", "{{C}}/token", "{{C}}"),
			dockerfile: "FROM busybox\nRUN ln -s {{C}}/token /evil\nRUN --mount=type=bind,source=f,target=/evil cat /evil > /x\n"},
	}
}
