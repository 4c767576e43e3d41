package wire_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/dynamo-kv/dynamo/protocol/wire"
)

// Message types are the application's; only append to such a list.
const (
	msgGet      wire.MsgType = 1
	msgGetReply wire.MsgType = 2
)

// A replica-read service: the request is a length-prefixed key, the reply a
// version number and a value.
func Example() {
	handler := wire.HandlerFunc(func(ctx context.Context, t wire.MsgType, payload, dst []byte) (wire.MsgType, []byte, error) {
		d := wire.NewDecoder(payload)
		key := d.Bytes()
		if err := d.Finish(); err != nil {
			return 0, nil, err
		}
		dst = wire.AppendUvarint(dst, 7)
		dst = wire.AppendBytes(dst, append([]byte("value of "), key...))
		return msgGetReply, dst, nil
	})
	srv, err := wire.NewServer(handler, wire.ServerOptions{Types: wire.NewTypeSet(msgGet)})
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	pool, err := wire.NewPool(wire.Options{
		OnHealthChange: func(addr string, healthy bool) { /* feed the failure detector */ },
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req := wire.AppendBytes(nil, []byte("k1"))
	typ, resp, err := pool.Call(ctx, l.Addr().String(), msgGet, req, nil)
	if err != nil {
		panic(err)
	}
	d := wire.NewDecoder(resp)
	version, value := d.Uvarint(), d.Text()
	fmt.Println(typ == msgGetReply, version, value, d.Finish(), pool.Healthy(l.Addr().String()))
	// Output: true 7 value of k1 <nil> true
}
