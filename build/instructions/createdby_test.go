package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestCreatedBy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		base      storage.Config
		buildArgs []string
		want      string
	}{
		{"ENV", "ENV A=b C=\"d e\"", storage.Config{}, nil, "ENV A=b C=d e"},
		{"LABEL", "LABEL a=1 b=2", storage.Config{}, nil, "LABEL a=1 b=2"},
		// The parser sorts EXPOSE's words as strings.
		{"EXPOSE normalized", "EXPOSE 80 53/UDP 7-8", storage.Config{}, nil, "EXPOSE [53/udp 7/tcp 8/tcp 80/tcp]"},
		{"VOLUME", `VOLUME ["/a", "/b"]`, storage.Config{}, nil, "VOLUME [/a /b]"},
		{"USER", "USER app:app", storage.Config{}, nil, "USER app:app"},
		{"WORKDIR resolved", "WORKDIR src", storage.Config{WorkingDir: "/app"}, nil, "WORKDIR /app/src"},
		{"CMD exec", `CMD ["sh"]`, storage.Config{}, nil, `CMD ["sh"]`},
		{"CMD shell", `CMD echo "hi"`, storage.Config{}, nil, `CMD ["/bin/sh" "-c" "echo \"hi\""]`},
		{"CMD image shell", "CMD x", storage.Config{Shell: []string{"bash", "-c"}}, nil, `CMD ["bash" "-c" "x"]`},
		{"ENTRYPOINT", `ENTRYPOINT ["/app", "-v"]`, storage.Config{}, nil, `ENTRYPOINT ["/app" "-v"]`},
		{"SHELL", `SHELL ["/bin/bash", "-c"]`, storage.Config{}, nil, "SHELL [/bin/bash -c]"},
		{"STOPSIGNAL", "STOPSIGNAL SIGINT", storage.Config{}, nil, "STOPSIGNAL SIGINT"},
		{"HEALTHCHECK", "HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://x/", storage.Config{}, nil,
			"HEALTHCHECK {Test:[CMD-SHELL curl -f http://x/] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}"},
		{"HEALTHCHECK NONE", "HEALTHCHECK NONE", storage.Config{}, nil,
			"HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}"},
		{"MAINTAINER", "MAINTAINER me <me@x>", storage.Config{}, nil, "MAINTAINER me <me@x>"},
		{"ONBUILD has no history", "ONBUILD RUN x", storage.Config{}, nil, ""},
		{"RUN", "RUN echo hi", storage.Config{}, nil, "RUN /bin/sh -c echo hi # buildkit"},
		{"RUN exec", `RUN ["echo", "hi"]`, storage.Config{}, nil, "RUN echo hi # buildkit"},
		{"RUN image shell", "RUN echo hi", storage.Config{Shell: []string{"/bin/bash", "-c"}}, nil, "RUN /bin/bash -c echo hi # buildkit"},
		{"RUN with build args", "RUN make", storage.Config{}, []string{"A=1", "B=", "A=2"}, "RUN |2 A=2 B= /bin/sh -c make # buildkit"},
		{"RUN heredoc", "RUN <<EOF\necho a\nEOF", storage.Config{}, nil, "RUN /bin/sh -c echo a\n # buildkit"},
		{"COPY", "COPY --from=build --link --chown=app:app --chmod=0644 a b /dst/", storage.Config{}, nil,
			"COPY --chown=app:app --chmod=0644 a b /dst/ # buildkit"},
		{"COPY --parents and a heredoc", "COPY --parents x <<EOF /d\nhi\nEOF", storage.Config{}, nil,
			"COPY --parents x <<EOF /d # buildkit"},
		{"ADD", "ADD --checksum=sha256:00 https://example.com/a.tgz /opt/", storage.Config{}, nil,
			"ADD https://example.com/a.tgz /opt/ # buildkit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmds, escape := parse(t, tt.src+"\n")
			st := &State{Image: &storage.Image{Config: tt.base.Clone()}}
			if err := Expand(cmds[0], escape, nil); err != nil {
				t.Fatal(err)
			}
			shell := st.Image.Config.Shell
			if _, err := Apply(st, cmds[0]); err != nil {
				t.Fatal(err)
			}
			if got := CreatedBy(cmds[0], shell, tt.buildArgs...); got != tt.want {
				t.Errorf("CreatedBy\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
