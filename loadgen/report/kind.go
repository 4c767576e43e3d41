package report

// Kind is what a latency or counter refers to: the four user-level
// operations and the two wire requests a cart is made of.
type Kind uint8

// The kinds. The first four match workload.Op.
const (
	Get Kind = iota
	Set
	Delete
	Cart // a whole read-modify-write: getv, merge, putv
	Getv
	Putv
	NumKinds
)

// UserKinds are the operations a workload issues; throughput counts these.
var UserKinds = []Kind{Get, Set, Delete, Cart}

var kindNames = [NumKinds]string{"get", "set", "delete", "cart", "getv", "putv"}

func (k Kind) String() string { return kindNames[k] }

// KindNames lists every kind's name, in order.
func KindNames() []string { return kindNames[:] }

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// ErrKind classifies a failed operation.
type ErrKind uint8

// The failure classes. A miss is not a failure.
const (
	ErrServer   ErrKind = iota // SERVER_ERROR reply
	ErrClient                  // CLIENT_ERROR reply
	ErrCommand                 // ERROR reply: command not understood
	ErrTimeout                 // no reply within the timeout
	ErrConn                    // connection refused, reset or closed
	ErrProtocol                // unparseable reply
	NumErrKinds
)

var errNames = [NumErrKinds]string{"server_error", "client_error", "error", "timeout", "connection", "protocol"}

func (e ErrKind) String() string { return errNames[e] }
