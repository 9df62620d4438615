package instructions

import (
	"testing"
	"time"

	"github.com/kiln-build/kiln/storage"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "NONE",
		base: storage.Config{Healthcheck: &storage.Healthcheck{Test: []string{"CMD", "true"}, Retries: 2}},
		src:  "HEALTHCHECK NONE\n",
		want: storage.Config{Healthcheck: &storage.Healthcheck{Test: []string{"NONE"}}},
	}, {
		name: "shell form with every option",
		src: "HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=5 \\\n" +
			"  CMD curl -f http://localhost/ || exit 1\n",
		want: storage.Config{Healthcheck: &storage.Healthcheck{
			Test:          []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
			Interval:      30 * time.Second,
			Timeout:       3 * time.Second,
			StartPeriod:   time.Minute,
			StartInterval: 500 * time.Millisecond,
			Retries:       5,
		}},
	}, {
		name: "exec form replaces the base's entirely",
		base: storage.Config{Healthcheck: &storage.Healthcheck{Test: []string{"NONE"}, Interval: time.Second, Retries: 3}},
		src:  "HEALTHCHECK CMD [\"/bin/check\", \"--quick\"]\n",
		want: storage.Config{Healthcheck: &storage.Healthcheck{Test: []string{"CMD", "/bin/check", "--quick"}}},
	}, {
		name: "variables are left to the shell",
		src:  "HEALTHCHECK CMD wget -q http://localhost:$PORT/\n",
		want: storage.Config{Healthcheck: &storage.Healthcheck{Test: []string{"CMD-SHELL", "wget -q http://localhost:$PORT/"}}},
	}})
}
