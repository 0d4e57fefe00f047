//go:build !cgo

package tokenkey

import "errors"

// Open resolves a PKCS#11 URI; this build cannot.
func Open(uri string) (*Key, error) {
	return nil, &Error{Reason: ReasonUnsupportedBuild, URI: Redact(uri),
		Err: errors.New("this tlseal was built with CGO_ENABLED=0; PKCS#11 keys need a build with cgo (CGO_ENABLED=1 and a C compiler)")}
}
