// Command measure runs a command and prints one line to standard error:
// "wall_s user_s sys_s maxrss_kib exit", the rusage of the command and every
// descendant it waited for, the way GNU time counts them.
//
//	measure -o run.txt -- kiln build --no-cache -t x ctx
//
// Peak RSS is that of the largest single process in the tree, not a sum.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "append the result line to this file instead of standard error")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure [-o FILE] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "measure: running %s: %v\n", flag.Arg(0), err)
		os.Exit(127)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	line := fmt.Sprintf("%.3f %.3f %.3f %d %d\n", wall.Seconds(),
		seconds(ru.Utime), seconds(ru.Stime), ru.Maxrss, code)
	if err := write(*out, line); err != nil {
		fmt.Fprintf(os.Stderr, "measure: writing %s: %v\n", *out, err)
		os.Exit(125)
	}
	if code != 0 {
		os.Exit(code)
	}
}

func seconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

func write(path, line string) error {
	if path == "" {
		_, err := os.Stderr.WriteString(line)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(line)
	return errors.Join(werr, f.Close())
}
