//go:build !plan9

package client

import "syscall"

var errWouldBlock error = syscall.EAGAIN
