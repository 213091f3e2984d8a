// netcheck is the project's connectivity probe for the real node's tests.
//
//	netcheck serve PORT[,PORT...]  answer every TCP connection with "ok <hostname>\n"
//	netcheck connect HOST:PORT [TIMEOUT]
//	                               print "open <answer>" and exit 0 if a connection is
//	                               made and answered, else "closed <error>" and exit 1
//	netcheck dial HOST:PORT [TIMEOUT]
//	                               only the TCP handshake (for servers that wait for the
//	                               client, such as TLS): "open" and exit 0, or "closed <error>"
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netcheck serve PORT | netcheck connect|dial HOST:PORT [TIMEOUT]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2])
	case "connect", "dial":
		timeout := 3 * time.Second
		if len(os.Args) > 3 {
			if d, err := time.ParseDuration(os.Args[3]); err == nil {
				timeout = d
			}
		}
		if os.Args[1] == "dial" {
			os.Exit(dial(os.Args[2], timeout))
		}
		os.Exit(connect(os.Args[2], timeout))
	default:
		fmt.Fprintln(os.Stderr, "netcheck: unknown command", os.Args[1])
		os.Exit(2)
	}
}

func serve(ports string) {
	list := strings.Split(ports, ",")
	for _, p := range list[1:] {
		go listen(p)
	}
	listen(list[0])
}

func listen(port string) {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcheck:", err)
		os.Exit(1)
	}
	host, _ := os.Hostname()
	fmt.Printf("listening on :%s\n", port)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "ok %s\n", host)
		}(c)
	}
}

func connect(addr string, timeout time.Duration) int {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		fmt.Println("closed", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Println("closed", err)
		return 1
	}
	fmt.Print("open ", line)
	return 0
}

func dial(addr string, timeout time.Duration) int {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		fmt.Println("closed", err)
		return 1
	}
	_ = c.Close()
	fmt.Println("open")
	return 0
}
