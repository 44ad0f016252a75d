package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// ErrTarget is returned by Open for an address it cannot dial: empty, or a
// list with an empty element.
var ErrTarget = errors.New("transport: invalid target")

// dnsScheme marks a target whose name the Conn resolves itself, to put its
// two links on different servers.
const dnsScheme = "dns:///"

// endpoint is one address a link can be dialled to.
type endpoint struct {
	// target is what grpc.NewClient is given.
	target string
	// authority, when not empty, is the name the server is known by (the
	// :authority header, and the name TLS checks), for an address the Conn
	// resolved itself.
	authority string
}

// parseTargets splits a comma-separated list of gRPC targets. Spaces
// around each are ignored; an empty list or element is an error, never a
// silent default.
func parseTargets(address string) ([]string, error) {
	if strings.TrimSpace(address) == "" {
		return nil, fmt.Errorf("%w: the address is empty", ErrTarget)
	}
	parts := strings.Split(address, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, fmt.Errorf("%w: element %d of %q is empty", ErrTarget, i+1, address)
		}
	}
	return parts, nil
}

// lookupFunc resolves a host name to addresses (net.Resolver.LookupHost).
type lookupFunc func(ctx context.Context, host string) ([]string, error)

// resolve turns targets into the endpoints links are dialled to. A
// dns:///name:port target becomes one endpoint per address the name has
// (sorted, so that links rotate through them in a stable order), each
// dialled directly and keeping name:port as its authority. Any other
// target, or a name that does not resolve now, is left to gRPC as it is:
// gRPC then resolves it and retries on its own.
func resolve(ctx context.Context, targets []string, lookup lookupFunc) []endpoint {
	var eps []endpoint
	seen := map[endpoint]bool{}
	for _, t := range targets {
		for _, e := range resolveOne(ctx, t, lookup) {
			if !seen[e] { // a server listed twice is still one server
				seen[e] = true
				eps = append(eps, e)
			}
		}
	}
	return eps
}

func resolveOne(ctx context.Context, target string, lookup lookupFunc) []endpoint {
	whole := []endpoint{{target: target}}
	name, ok := strings.CutPrefix(target, dnsScheme)
	if !ok {
		return whole
	}
	host, port, err := net.SplitHostPort(name)
	if err != nil || net.ParseIP(host) != nil {
		return whole
	}
	addrs, err := lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return whole
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	eps := make([]endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = endpoint{target: "passthrough:///" + net.JoinHostPort(a, port), authority: name}
	}
	return eps
}

// needsLookup reports whether any target is resolved by the Conn.
func needsLookup(targets []string) bool {
	return slices.ContainsFunc(targets, func(t string) bool { return strings.HasPrefix(t, dnsScheme) })
}
