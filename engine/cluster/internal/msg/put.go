package msg

import (
	"errors"

	"github.com/dynamo-kv/dynamo/engine/kv"
	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// A forwarded write (Put) and its answer.

const (
	putDelete = 1 << iota
	putSupersedeAll
	putTouch
	putArith
	putDecr
	putSetExpires
	putBits = putSetExpires<<1 - 1
)

// AppendPut encodes a forwarded write. deadline (unix nanoseconds of the
// forwarder's clock, 0 for none) is when the forwarder stops waiting for
// it: the owner must not apply it after that (see Node.forward).
func AppendPut(dst, key []byte, r *kv.PutRequest, deadline int64) []byte {
	dst = wire.AppendBytes(dst, key)
	dst = wire.AppendBytes(dst, r.Value)
	dst = wire.AppendUint32(dst, r.Flags)
	dst = wire.AppendUint64(dst, uint64(r.Expires))
	bits := uint8(0)
	if r.Delete {
		bits |= putDelete
	}
	if r.SupersedeAll {
		bits |= putSupersedeAll
	}
	if r.Touch {
		bits |= putTouch
	}
	var delta uint64
	if a := r.Arith; a != nil {
		bits |= putArith
		delta = a.Delta
		if a.Decr {
			bits |= putDecr
		}
		if a.SetExpires {
			bits |= putSetExpires
		}
	}
	dst = wire.AppendUint8(dst, bits)
	dst = wire.AppendUvarint(dst, delta)
	dst = wire.AppendBytes(dst, r.Context)
	dst = wire.AppendUint8(dst, uint8(r.Cond))
	dst = wire.AppendUint64(dst, r.CAS)
	dst = wire.AppendUint8(dst, uint8(r.Durability))
	dst = wire.AppendUvarint(dst, uint64(r.W))
	// Last, and only when set: a node that predates it takes the rest.
	if deadline != 0 {
		dst = wire.AppendUint64(dst, uint64(deadline))
	}
	return dst
}

func DecodePut(p []byte, r *kv.PutRequest) (key []byte, deadline int64, err error) {
	d := wire.NewDecoder(p)
	key = d.Bytes()
	r.Value = d.Bytes()
	r.Flags = d.Uint32()
	r.Expires = int64(d.Uint64())
	bits := d.Uint8()
	r.Delete = bits&putDelete != 0
	r.SupersedeAll = bits&putSupersedeAll != 0
	r.Touch = bits&putTouch != 0
	delta := d.Uvarint()
	if bits&putArith != 0 {
		r.Arith = &kv.Arith{Delta: delta, Decr: bits&putDecr != 0, SetExpires: bits&putSetExpires != 0}
	}
	r.Context = d.Bytes()
	r.Cond = kv.Condition(d.Uint8())
	r.CAS = d.Uint64()
	r.Durability = kv.Durability(d.Uint8())
	r.W = int(d.Uvarint())
	if d.Remaining() > 0 {
		deadline = int64(d.Uint64())
	}
	if err := d.Finish(); err != nil {
		return nil, 0, err
	}
	if bits > putBits || r.Cond > kv.CondCAS || r.Durability > kv.Sync || r.W > 255 || deadline < 0 {
		return nil, 0, errors.New("cluster: malformed put")
	}
	return key, deadline, nil
}

func AppendPutResp(dst []byte, res *kv.PutResult) []byte {
	dst = wire.AppendBytes(wire.AppendUint64(dst, res.CAS), res.Context)
	live := uint8(0)
	if res.Live {
		live = 1
	}
	dst = wire.AppendUint8(dst, live)
	dst = wire.AppendUint64(dst, res.Number)
	return wire.AppendUint64(dst, uint64(res.PrevExpires))
}

func DecodePutResp(p []byte) (kv.PutResult, error) {
	d := wire.NewDecoder(p)
	res := kv.PutResult{CAS: d.Uint64()}
	res.Context = append([]byte(nil), d.Bytes()...)
	res.Live = d.Uint8() == 1
	res.Number = d.Uint64()
	res.PrevExpires = int64(d.Uint64())
	return res, d.Finish()
}
