package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Errors returned by this package. They are often wrapped with details
// (the peer address, the offending value), so check them with errors.Is.
var (
	// ErrMalformed: a frame or payload that does not follow the format
	// (bad magic, flags, type or length, a response where a request belongs,
	// a truncated or overflowing payload field). The connection that carried
	// a malformed frame is closed.
	ErrMalformed = errors.New("wire: malformed frame")
	// ErrVersion: a frame of a protocol version this package does not speak.
	ErrVersion = errors.New("wire: unsupported protocol version")
	// ErrFrameTooLarge: a payload over the configured MaxPayload, received
	// (the connection is closed) or about to be sent (nothing is sent).
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrChecksum: a frame whose crc32c does not match.
	ErrChecksum = errors.New("wire: checksum mismatch")
	// ErrUnknownType: a request of a type the server does not serve.
	ErrUnknownType = errors.New("wire: unknown message type")

	// ErrConnClosed: the connection carrying a call failed or was closed
	// before the response arrived. It wraps the cause (io.EOF, a reset, a
	// protocol error). The request may or may not have been executed.
	ErrConnClosed = errors.New("wire: connection closed")
	// ErrPeerSuspect: the peer is suspected down after a failed dial or a
	// call that timed out on a silent connection; calls fail at once
	// instead of waiting, until a background probe reaches the peer. A
	// call that fails with it was never sent (callers may retry it
	// elsewhere); a call that was sent fails with ErrConnClosed or its
	// context's error instead. It is cleared when a probe succeeds.
	ErrPeerSuspect = errors.New("wire: peer suspected down")
	// ErrClosed: the Pool or Client was closed (or the Client removed).
	ErrClosed = errors.New("wire: closed")
	// ErrServerClosed is returned by Serve and ServeConn after Shutdown or
	// Close.
	ErrServerClosed = errors.New("wire: server closed")
	// ErrRemote: the peer's handler returned an error; the error is a
	// *RemoteError carrying its code and message.
	ErrRemote = errors.New("wire: remote error")
	// ErrInvalidOptions: options that cannot be used.
	ErrInvalidOptions = errors.New("wire: invalid options")
)

// MaxErrorMessage bounds the message of an error response; longer handler
// error strings are cut.
const MaxErrorMessage = 256

// RemoteError is an error returned by a peer's handler, as the caller sees
// it. A handler may itself return a *RemoteError (see NewRemoteError) to
// choose the Code, which lets the application map its sentinel errors
// across the wire; any other error travels with Code 0.
type RemoteError struct {
	Code uint16
	Msg  string
}

// NewRemoteError returns an error a handler can return to send code and msg.
func NewRemoteError(code uint16, msg string) *RemoteError {
	return &RemoteError{Code: code, Msg: msg}
}

func (e *RemoteError) Error() string {
	return "wire: remote error " + strconv.Itoa(int(e.Code)) + ": " + e.Msg
}

// Unwrap makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Unwrap() error { return ErrRemote }

// appendErrorPayload encodes err as an error response payload: a
// little-endian uint16 code, then the message, cut to MaxErrorMessage.
func appendErrorPayload(dst []byte, err error) []byte {
	var code uint16
	msg := err.Error()
	if re, ok := errors.AsType[*RemoteError](err); ok {
		code, msg = re.Code, re.Msg
	}
	if len(msg) > MaxErrorMessage {
		msg = msg[:MaxErrorMessage]
	}
	dst = binary.LittleEndian.AppendUint16(dst, code)
	return append(dst, msg...)
}

// parseErrorPayload decodes an error response payload.
func parseErrorPayload(p []byte) error {
	if len(p) < 2 {
		return &RemoteError{Msg: "(malformed error response)"}
	}
	return &RemoteError{Code: binary.LittleEndian.Uint16(p), Msg: string(p[2:])}
}
