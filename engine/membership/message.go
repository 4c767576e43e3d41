package membership

import (
	"errors"
	"fmt"

	"github.com/dynamo-kv/dynamo/ring"
)

// Messages between nodes travel as memberlist user messages (SendReliable,
// arriving in NotifyMsg) and as push/pull state (LocalState and
// MergeRemoteState). Each is framed:
//
//	format  1 byte, this is 1; receivers drop formats they do not know
//	kind    1 byte (below)
//	body    the rest
const msgFormat = 1

// Message kinds. ONLY APPEND: the values are part of the protocol.
const (
	// kindRing carries a ring: the body is ring.Encode's output.
	kindRing byte = 1
	// kindRingRequest asks the receiver to send its ring (kindRing) back:
	// the body is the requester's node ID.
	kindRingRequest byte = 2
)

var errMessage = errors.New("membership: bad message")

func appendFrame(dst []byte, kind byte, body []byte) []byte {
	return append(append(dst, msgFormat, kind), body...)
}

// ringFrame frames r for sending.
func ringFrame(r *ring.Ring) []byte {
	return r.AppendEncode([]byte{msgFormat, kindRing})
}

// parseFrame splits a message into its kind and body. The body aliases b.
func parseFrame(b []byte) (kind byte, body []byte, err error) {
	if len(b) < 2 {
		return 0, nil, fmt.Errorf("%w: %d bytes", errMessage, len(b))
	}
	if b[0] != msgFormat {
		return 0, nil, fmt.Errorf("%w: format %d", errMessage, b[0])
	}
	switch b[1] {
	case kindRing:
	case kindRingRequest:
		if len(b) == 2 || len(b)-2 > ring.MaxNameLen {
			return 0, nil, fmt.Errorf("%w: requester ID of %d bytes", errMessage, len(b)-2)
		}
	default:
		return 0, nil, fmt.Errorf("%w: kind %d", errMessage, b[1])
	}
	return b[1], b[2:], nil
}
