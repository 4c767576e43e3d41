package client

import "errors"

var errWouldBlock = errors.New("client: would block")
