package dockerfile

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that any input gives stages or a located *Error, never a
// panic, and that planning a parsed file does not panic either.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		multiStage,
		"",
		"# escape=`\nFROM a\nRUN b `\n c\n",
		"ARG B=x\nFROM ${B:-y} AS s\nCOPY --from=s a b\nRUN --mount=from=s,target=/t true\n",
		"FROM a\nRUN <<EOF\nx\nEOF\nCOPY <<-'E' /d\n\ty\n\tE\n",
		"FROM a\nONBUILD RUN x\nHEALTHCHECK --interval=1s CMD [\"a\"]\n",
		"FROM a\nCOPY --from=9 x y\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse(strings.NewReader(src), "Dockerfile")
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.File != "Dockerfile" {
				t.Fatalf("error %q is not a *Error naming the file", err)
			}
			return
		}
		if len(file.Stages) == 0 {
			t.Fatal("no error and no stages")
		}
		_, _ = ExpandFrom(file, ArgValues{Predefined: map[string]string{"TARGETARCH": "amd64"}})
		_, _ = Needed(file, "")
	})
}
