package testutil

import (
	"encoding/binary"
	"sync"
)

// HTTP/2 frame types and the error code the proxy watches for (RFC 9113).
const (
	h2FramePing        = 0x6
	h2FrameGoAway      = 0x7
	h2FlagAck          = 0x1
	h2EnhanceYourCalm  = 0xb
	h2FrameHeaderBytes = 9
)

// h2ClientPreface opens every HTTP/2 connection from the client.
const h2ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// GoAway is an HTTP/2 GOAWAY frame a server sent through a [Proxy].
type GoAway struct {
	// Code is the HTTP/2 error code; 0xb is ENHANCE_YOUR_CALM.
	Code uint32
	// Debug is the frame's debug data, "too_many_pings" when a gRPC
	// server's keepalive enforcement closes the connection.
	Debug string
}

// TooManyPings reports whether g is gRPC's answer to a client that pings
// more often than the server's keepalive policy allows.
func (g GoAway) TooManyPings() bool {
	return g.Code == h2EnhanceYourCalm && g.Debug == "too_many_pings"
}

// Frames is what a [Proxy] saw of the HTTP/2 frames it relayed, on
// connections that were not silent or reset.
type Frames struct {
	// ClientPings counts PING frames from clients, acknowledgements
	// excluded: keepalive pings, and gRPC's bandwidth-estimation pings.
	ClientPings int
	// GoAways lists every GOAWAY servers sent, in order.
	GoAways []GoAway
}

// frameLog collects a proxy's Frames.
type frameLog struct {
	mu     sync.Mutex
	frames Frames
}

func (l *frameLog) snapshot() Frames {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.frames
	f.GoAways = append([]GoAway(nil), f.GoAways...)
	return f
}

// frameScanner splits one direction of an HTTP/2 connection into frames
// and reports the ones the log counts. It never changes the bytes.
type frameScanner struct {
	log        *frameLog
	fromClient bool
	preface    int // preface bytes still to skip (client side only)
	buf        []byte
	broken     bool // not HTTP/2 after all: stop looking
}

func newFrameScanner(log *frameLog, fromClient bool) *frameScanner {
	s := &frameScanner{log: log, fromClient: fromClient}
	if fromClient {
		s.preface = len(h2ClientPreface)
	}
	return s
}

// feed takes the next bytes of the direction.
func (s *frameScanner) feed(b []byte) {
	if s.broken {
		return
	}
	if s.preface > 0 {
		n := min(s.preface, len(b))
		if string(b[:n]) != h2ClientPreface[len(h2ClientPreface)-s.preface:][:n] {
			s.broken = true
			return
		}
		s.preface -= n
		b = b[n:]
	}
	s.buf = append(s.buf, b...)
	for len(s.buf) >= h2FrameHeaderBytes {
		length := int(s.buf[0])<<16 | int(s.buf[1])<<8 | int(s.buf[2])
		if len(s.buf) < h2FrameHeaderBytes+length {
			return
		}
		s.frame(s.buf[3], s.buf[4], s.buf[h2FrameHeaderBytes:h2FrameHeaderBytes+length])
		s.buf = s.buf[h2FrameHeaderBytes+length:]
	}
	if len(s.buf) == 0 {
		s.buf = nil // let a large frame's buffer go
	}
}

func (s *frameScanner) frame(typ, flags byte, payload []byte) {
	switch {
	case typ == h2FramePing && s.fromClient && flags&h2FlagAck == 0:
		s.log.mu.Lock()
		s.log.frames.ClientPings++
		s.log.mu.Unlock()
	case typ == h2FrameGoAway && !s.fromClient && len(payload) >= 8:
		g := GoAway{Code: binary.BigEndian.Uint32(payload[4:8]), Debug: string(payload[8:])}
		s.log.mu.Lock()
		s.log.frames.GoAways = append(s.log.frames.GoAways, g)
		s.log.mu.Unlock()
	}
}
