// Package nilness tells whether a value given to this module's public API
// is nil in a way a plain comparison misses: an interface holding a nil
// pointer, func, map, channel or slice, whose first use would panic.
package nilness

import "reflect"

// IsNil reports whether v is nil or an interface holding a nil pointer,
// func, map, channel, slice or unsafe pointer.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface, reflect.UnsafePointer:
		return r.IsNil()
	}
	return false
}
