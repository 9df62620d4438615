package main

import (
	"fmt"
	"strings"
	"testing"
)

// More layers than one overlay mount's options can name with full paths (a page, about 35 of
// them here): steps on top still run, through the store's work layer where kiln's own mount
// cannot take them, and see every layer below.
func TestE2EBuildManyLayers(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	const n = 60
	var df strings.Builder
	df.WriteString("FROM busybox\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&df, "RUN echo %d > /f%d\n", i, i)
	}
	df.WriteString("RUN cat /f0 /f59 > /both && ls / | grep -c '^f[0-9]' > /count\n")
	dir := buildDir(t, map[string]string{"Dockerfile": df.String()})
	s := newStore(t)
	s.mustKiln(t, "import", "--change", `CMD ["sh"]`, baseImage(t), baseName)
	s.mustKiln(t, "build", "-t", "many", dir)
	if got := exportFile(t, s, "many", "both"); got != "0\n59\n" {
		t.Errorf("/both = %q, want the first and the last layer's files", got)
	}
	if got := exportFile(t, s, "many", "count"); got != fmt.Sprintf("%d\n", n) {
		t.Errorf("/count = %q, want %d files from %d layers", got, n, n)
	}
	wantCleanStore(t, s)
}
