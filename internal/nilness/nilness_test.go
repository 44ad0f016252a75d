package nilness

import (
	"net"
	"testing"
)

func TestIsNil(t *testing.T) {
	var (
		lis   *net.TCPListener
		iface net.Listener = lis
		f     func()
		m     map[int]int
		ch    chan int
		s     []int
	)
	for name, v := range map[string]any{"nil": nil, "typed nil pointer": lis, "interface holding nil": iface,
		"nil func": f, "nil map": m, "nil chan": ch, "nil slice": s} {
		if !IsNil(v) {
			t.Errorf("IsNil(%s) = false", name)
		}
	}
	for name, v := range map[string]any{"zero int": 0, "empty string": "", "pointer": new(int), "struct": struct{}{}, "empty map": map[int]int{}} {
		if IsNil(v) {
			t.Errorf("IsNil(%s) = true", name)
		}
	}
}
