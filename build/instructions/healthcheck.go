package instructions

import (
	"fmt"
	"slices"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyHealthcheck replaces Healthcheck. HEALTHCHECK NONE gives Test
// ["NONE"]; "CMD a b" gives ["CMD-SHELL", "a b"]; `CMD ["a", "b"]` gives
// ["CMD", "a", "b"]. Options left out are zero, meaning docker's defaults;
// nothing is inherited from the base image's healthcheck.
func applyHealthcheck(cfg *storage.Config, c *bk.HealthCheckCommand) {
	h := c.Health
	cfg.Healthcheck = &storage.Healthcheck{
		Test:          slices.Clone(h.Test),
		Interval:      h.Interval,
		Timeout:       h.Timeout,
		StartPeriod:   h.StartPeriod,
		StartInterval: h.StartInterval,
		Retries:       h.Retries,
	}
}

// healthcheckCreatedBy is BuildKit's history text, Go's %+v of the config:
// "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:30s
// Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}".
func healthcheckCreatedBy(c *bk.HealthCheckCommand) string {
	return fmt.Sprintf("HEALTHCHECK %+v", *c.Health)
}
