package testutil

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestCableCut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	var cable Cable
	conn, err := cable.Dial(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	defer server.Close()
	cable.Cut()
	if !cable.IsCut() {
		t.Fatal("IsCut false after Cut")
	}
	if _, err := conn.Write([]byte("x")); err == nil {
		t.Fatal("write on a cut connection succeeded")
	}
	if _, err := cable.Dial(context.Background(), l.Addr().String()); !errors.Is(err, ErrCableCut) {
		t.Fatalf("Dial after Cut: %v, want ErrCableCut", err)
	}
}
