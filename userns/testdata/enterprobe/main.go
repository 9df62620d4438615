// Command enterprobe calls userns.Enter and reports, one key=value a line,
// what the process sees afterwards. The userns tests build it and run it as
// other users. An optional argument makes it do one more thing:
//
//	chown        create a file in a new temporary directory and chown it to 1000:1000
//	exit N       exit with status N
//	kill         kill itself with SIGKILL
//	wait-signal  print "ready=1", wait for SIGTERM, print "got=terminated" and exit 3
package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kiln-build/kiln/userns"
)

func main() {
	code, reexeced, err := userns.Enter()
	if err != nil {
		fmt.Fprintln(os.Stderr, "enterprobe:", err)
		os.Exit(125)
	}
	if reexeced {
		os.Exit(code)
	}
	fmt.Printf("uid=%d\ngid=%d\npid=%d\nppid=%d\n", os.Geteuid(), os.Getegid(), os.Getpid(), os.Getppid())
	fmt.Printf("mode=%s\n", userns.CurrentMode())
	for _, k := range []string{"_CONTAINERS_USERNS_CONFIGURED", "_CONTAINERS_ROOTLESS_UID", "_CONTAINERS_ROOTLESS_GID", "_KILN_USERNS_SYNC_FD", "_KILN_USERNS_CHILD"} {
		fmt.Printf("env %s=%s\n", k, os.Getenv(k))
	}
	printLines("uid_map", "/proc/self/uid_map")
	printLines("gid_map", "/proc/self/gid_map")
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "CapEff:") {
			fmt.Printf("capeff=%s\n", strings.TrimSpace(strings.TrimPrefix(l, "CapEff:")))
		}
	}
	fmt.Printf("propagating_mounts=%d\n", propagating())
	if len(os.Args) > 1 {
		act(os.Args[1:])
	}
}

func printLines(key, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Printf("%s_error=%v\n", key, err)
		return
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fmt.Printf("%s=%s\n", key, strings.Join(strings.Fields(l), " "))
	}
}

// propagating counts the mounts that receive or send propagation: those
// tagged shared: or master: in mountinfo.
func propagating() int {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, " shared:") || strings.Contains(l, " master:") {
			n++
		}
	}
	return n
}

func act(args []string) {
	switch args[0] {
	case "chown":
		dir, err := os.MkdirTemp("", "enterprobe-")
		if err != nil {
			fmt.Printf("chown_error=%v\n", err)
			return
		}
		defer os.RemoveAll(dir)
		p := filepath.Join(dir, "f")
		err = os.WriteFile(p, nil, 0o644)
		if err == nil {
			err = os.Chown(p, 1000, 1000)
		}
		if err != nil {
			fmt.Printf("chown_error=%v\n", err)
			return
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			fmt.Printf("chown_error=%v\n", err)
			return
		}
		fmt.Printf("chown=%d:%d\n", st.Uid, st.Gid)
	case "exit":
		n, _ := strconv.Atoi(args[1])
		os.Exit(n)
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "wait-signal":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready=1")
		fmt.Printf("got=%s\n", <-c)
		os.Exit(3)
	}
}
