package instructions

import (
	"fmt"
	"strconv"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyStopSignal sets StopSignal as written, after checking it as BuildKit
// does: a non-zero number, or a Linux signal name with or without "SIG", in
// any case ("SIGTERM", "term", "RTMIN+3").
func applyStopSignal(cfg *storage.Config, c *bk.StopSignalCommand) error {
	if !validSignal(c.Signal) {
		return fmt.Errorf("invalid stop signal %q: want a signal name such as SIGTERM or a number", c.Signal)
	}
	cfg.StopSignal = c.Signal
	return nil
}

// signalNames are the Linux signal names moby accepts, without "SIG".
var signalNames = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true,
	"FPE": true, "HUP": true, "ILL": true, "INT": true, "IO": true, "IOT": true,
	"KILL": true, "PIPE": true, "POLL": true, "PROF": true, "PWR": true, "QUIT": true,
	"SEGV": true, "STKFLT": true, "STOP": true, "SYS": true, "TERM": true, "TRAP": true,
	"TSTP": true, "TTIN": true, "TTOU": true, "URG": true, "USR1": true, "USR2": true,
	"VTALRM": true, "WINCH": true, "XCPU": true, "XFSZ": true, "RTMIN": true, "RTMAX": true,
}

func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n != 0
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if signalNames[name] {
		return true
	}
	// Real-time signals: RTMIN+1 … RTMIN+15 and RTMAX-14 … RTMAX-1.
	for _, p := range []struct{ prefix, max string }{{"RTMIN+", "15"}, {"RTMAX-", "14"}} {
		if rest, ok := strings.CutPrefix(name, p.prefix); ok {
			n, err := strconv.Atoi(rest)
			limit, _ := strconv.Atoi(p.max)
			return err == nil && strconv.Itoa(n) == rest && n >= 1 && n <= limit
		}
	}
	return false
}

// stopSignalCreatedBy is BuildKit's history text: "STOPSIGNAL SIGQUIT".
func stopSignalCreatedBy(c *bk.StopSignalCommand) string {
	return "STOPSIGNAL " + c.Signal
}
