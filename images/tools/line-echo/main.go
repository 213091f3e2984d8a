// line-echo is the stand-in executor: it reads one line from stdin, answers it on stdout and
// exits, as a tool executor attached over stdin/stdout would.
package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(os.Stderr, "line-echo: no input:", err)
		os.Exit(1)
	}
	host, _ := os.Hostname()
	fmt.Printf("executor %s uid %d got: %s", host, os.Getuid(), line)
}
