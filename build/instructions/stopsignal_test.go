package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestStopSignal(t *testing.T) {
	t.Parallel()
	tests := []configTest{{
		name: "expands variables",
		src:  "ENV SIG=SIGQUIT\nSTOPSIGNAL $SIG\n",
		want: storage.Config{Env: []string{"SIG=SIGQUIT"}, StopSignal: "SIGQUIT"},
	}}
	for _, sig := range []string{"SIGTERM", "term", "sigKill", "9", "64", "SIGRTMIN", "RTMIN+3", "SIGRTMAX-14", "CLD", "SIGWINCH"} {
		tests = append(tests, configTest{name: sig, src: "STOPSIGNAL " + sig + "\n", want: storage.Config{StopSignal: sig}})
	}
	for _, sig := range []string{"SIGFOO", "0", "RTMIN+16", "RTMIN+01", "RTMAX-15", "SIG"} {
		tests = append(tests, configTest{name: sig, src: "STOPSIGNAL " + sig + "\n",
			wantErr: `invalid stop signal "` + sig + `": want a signal name such as SIGTERM or a number`})
	}
	runConfigTests(t, tests)
}
