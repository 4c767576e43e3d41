package wire

import "sync/atomic"

// PoolStats counts a Pool's events since it was created.
type PoolStats struct {
	Dials         uint64 // connection attempts
	DialFailures  uint64 // attempts that failed
	ConnFailures  uint64 // connections lost to an I/O or protocol error
	Timeouts      uint64 // calls whose deadline passed before the response
	LateResponses uint64 // responses that arrived after their call gave up
	SuspectMarks  uint64 // transitions of a peer from healthy to suspect
	FastFails     uint64 // calls refused at once because the peer was suspect
}

type poolCounters struct {
	dials, dialFailures, connFailures, timeouts, lateResponses, suspectMarks, fastFails atomic.Uint64
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	s := &p.stats
	return PoolStats{
		Dials:         s.dials.Load(),
		DialFailures:  s.dialFailures.Load(),
		ConnFailures:  s.connFailures.Load(),
		Timeouts:      s.timeouts.Load(),
		LateResponses: s.lateResponses.Load(),
		SuspectMarks:  s.suspectMarks.Load(),
		FastFails:     s.fastFails.Load(),
	}
}

// ServerStats counts a Server's events since it was created.
type ServerStats struct {
	Conns          uint64 // connections accepted
	Requests       uint64 // requests passed to the handler
	HandlerErrors  uint64 // requests answered with an error response
	ProtocolErrors uint64 // connections closed for a malformed, oversized, wrong-version, unknown-type or corrupt frame
}

type serverCounters struct {
	conns, requests, handlerErrors, protocolErrors atomic.Uint64
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() ServerStats {
	c := &s.stats
	return ServerStats{
		Conns:          c.conns.Load(),
		Requests:       c.requests.Load(),
		HandlerErrors:  c.handlerErrors.Load(),
		ProtocolErrors: c.protocolErrors.Load(),
	}
}
