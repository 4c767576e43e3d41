package memcache

import "github.com/dynamo-kv/dynamo/engine/kv"

// Op names what a parsed command asks for.
type Op uint8

// Ops. OpNone and OpError need no storage; see Op.NeedsStorage.
const (
	OpNone  Op = iota // bytes of a rejected data block were discarded; no reply
	OpError           // reply Command.Err and do nothing else
	OpClose           // close the connection without a reply (memcached's conn_closing)
	OpQuit            // close the connection after earlier replies are written

	OpGet // get, bget
	OpGets
	OpGat
	OpGats
	OpSet
	OpAdd
	OpReplace
	OpAppend
	OpPrepend
	OpCas
	OpDelete
	OpIncr
	OpDecr
	OpTouch
	OpFlushAll
	OpVersion
	OpVerbosity
	OpStats
	OpSlabs // slabs automove/reassign: answered with the fixed line in Err

	OpMetaGet
	OpMetaSet
	OpMetaDelete
	OpMetaArithmetic
	OpMetaNoop
	OpMetaDebug

	OpGetv  // extension: all versions and the causal context
	OpPutv  // extension: write superseding exactly a context
	OpDelv  // extension: tombstone superseding exactly a context
	OpAdmin // extension: "admin <word> [args]", served by kv.Admin
)

var opNames = [...]string{
	OpNone: "none", OpError: "error", OpClose: "close", OpQuit: "quit",
	OpGet: "get", OpGets: "gets", OpGat: "gat", OpGats: "gats",
	OpSet: "set", OpAdd: "add", OpReplace: "replace", OpAppend: "append",
	OpPrepend: "prepend", OpCas: "cas", OpDelete: "delete", OpIncr: "incr",
	OpDecr: "decr", OpTouch: "touch", OpFlushAll: "flush_all",
	OpVersion: "version", OpVerbosity: "verbosity", OpStats: "stats", OpSlabs: "slabs",
	OpMetaGet: "mg", OpMetaSet: "ms", OpMetaDelete: "md",
	OpMetaArithmetic: "ma", OpMetaNoop: "mn", OpMetaDebug: "me",
	OpGetv: "getv", OpPutv: "putv", OpDelv: "delv", OpAdmin: "admin",
}

func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "op?"
}

// NeedsStorage reports whether executing a command of this kind may call
// the engine (and so must not run on an event loop).
func (op Op) NeedsStorage() bool {
	switch op {
	case OpNone, OpError, OpClose, OpQuit, OpVersion, OpVerbosity, OpSlabs, OpMetaNoop:
		return false
	}
	return true
}

// Command is one parsed request. Its byte slices point into the buffer it
// was parsed from; Rebase moves them to a copy of that buffer.
type Command struct {
	Op Op
	// Err is the error line (without CRLF) memcached answers with. For most
	// Ops it is the whole reply; a storage Op with Err set and TooLarge also
	// drops the key, as memcached does when it cannot allocate the item.
	Err      string
	TooLarge bool
	// NoReply suppresses the reply line, errors included, as memcached's
	// classic "noreply" does. Meta quiet mode is Meta.Quiet instead.
	NoReply bool

	Key  []byte   // the first key
	Keys [][]byte // every key of get/gets/gat/gats/getv (Keys[0] == Key); admin's arguments

	Flags   uint32 // client flags of a storage command
	Exptime int32  // memcached exptime of storage, touch, gat and flush_all
	CAS     uint64 // cas unique of "cas"
	Delta   uint64 // incr/decr amount
	Data    []byte // data block without its CRLF

	Context []byte // putv/delv context token: base64, or "-" for empty
	Arg     []byte // stats sub-command, if any

	Meta MetaFlags
}

// MetaFlags is the parsed flag list of a meta command.
type MetaFlags struct {
	// Tokens are the flag tokens in request order; replies echo flags in
	// this order.
	Tokens [][]byte

	Base64Key  bool   // b
	Quiet      bool   // q
	Value      bool   // v
	Invalidate bool   // I
	RemoveVal  bool   // x (md; memcached 1.6.27+)
	Mode       byte   // M<mode>, 0 if absent
	HasCAS     bool   // C<cas>
	CAS        uint64 //
	HasTTL     bool   // T<ttl>
	TTL        int32  //
	Vivify     bool   // N<ttl>
	VivifyTTL  int32  //
	HasRecache bool   // R<ttl>
	RecacheTTL int32  //
	Flags      uint32 // F<flags>
	Delta      uint64 // D<delta> (ma); 1 if absent
	Initial    uint64 // J<initial> (ma)

	// Extensions (see doc.go).
	HasContext  bool          // X<context> on ms/md
	Context     []byte        // base64 context text, "" or "-" for empty
	Durability  kv.Durability // D<b|w|s> on ms/md
	ReadQuorum  int           // r<n> on mg: replicas that must answer
	WriteQuorum int           // w<n> on ms/md/ma: replicas that must acknowledge
}

// reset clears c for reuse, keeping the capacity of its slices.
func (c *Command) reset() {
	keys, toks := c.Keys[:0], c.Meta.Tokens[:0]
	*c = Command{Keys: keys}
	c.Meta.Tokens = toks
	c.Meta.Delta = 1
}

// Rebase repoints every byte slice of c from src to dst, where dst holds a
// copy of src's first len(dst) bytes and c was parsed from src. Only slices
// taken from src by reslicing (never with a capacity limit) can be moved,
// which is how the parser builds them.
func (c *Command) Rebase(src, dst []byte) {
	move := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		off := cap(src) - cap(s)
		return dst[off : off+len(s) : off+len(s)]
	}
	c.Key = move(c.Key)
	for i := range c.Keys {
		c.Keys[i] = move(c.Keys[i])
	}
	c.Data = move(c.Data)
	c.Context = move(c.Context)
	c.Arg = move(c.Arg)
	for i := range c.Meta.Tokens {
		c.Meta.Tokens[i] = move(c.Meta.Tokens[i])
	}
	c.Meta.Context = move(c.Meta.Context)
}
