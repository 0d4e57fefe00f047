package tokenkey

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ExecScheme starts a reference to an external signer program:
// "exec:/path/to/signer". The program is run once per request with one
// argument, and must answer within ExecTimeout:
//
//	signer public-key          stdout: the public key, PEM "PUBLIC KEY" (PKIX)
//	signer sign SHA256|SHA384|SHA512
//	                           stdin: the digest (raw bytes, 32, 48 or 64)
//	                           stdout: the ECDSA signature, DER
//
// Exit status 0 means success; anything else is a failure, and the
// program's standard error is shown. tlseal checks every signature against
// the public key before it uses it, and the public key against the
// certificate before anything is sealed: a signer that answers for another
// key is refused, never sealed with.
const ExecScheme = "exec:"

// ExecTimeout bounds each request to an external signer.
const ExecTimeout = 30 * time.Second

// IsExec reports whether ref names an external signer.
func IsExec(ref string) bool { return strings.HasPrefix(ref, ExecScheme) }

// IsRef reports whether ref names a key this package resolves: a PKCS#11
// URI or an external signer.
func IsRef(ref string) bool { return IsURI(ref) || IsExec(ref) }

// Resolve resolves a PKCS#11 URI (Open) or an external signer (OpenExec,
// which has no certificate to offer).
func Resolve(ref string) (*Key, error) {
	if !IsExec(ref) {
		return Open(ref)
	}
	s, err := OpenExec(ref)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: s}, nil
}

// execSigner is a crypto.Signer backed by an external program.
type execSigner struct {
	path    string
	pub     *ecdsa.PublicKey
	timeout time.Duration
}

// OpenExec starts using the external signer ref names: it asks for the
// public key once.
func OpenExec(ref string) (crypto.Signer, error) {
	return openExec(ref, ExecTimeout)
}

func openExec(ref string, timeout time.Duration) (crypto.Signer, error) {
	path := strings.TrimPrefix(ref, ExecScheme)
	if !filepath.IsAbs(path) {
		return nil, &Error{Reason: ReasonInvalidURI, URI: ref, Err: errors.New("the signer program must be an absolute path (exec:/path/to/signer)")}
	}
	s := &execSigner{path: path, timeout: timeout}
	out, err := s.run(nil, "public-key")
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(out)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, s.fail("public-key: the answer is not a PEM \"PUBLIC KEY\" block")
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, s.fail("public-key: %v", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, s.fail("public-key: a %T key; seals need ECDSA P-256, P-384 or P-521", pub)
	}
	s.pub = k
	return s, nil
}

func (s *execSigner) Public() crypto.PublicKey { return s.pub }

// Sign asks the program to sign digest and checks the signature.
func (s *execSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var name string
	switch opts.HashFunc() {
	case crypto.SHA256:
		name = "SHA256"
	case crypto.SHA384:
		name = "SHA384"
	case crypto.SHA512:
		name = "SHA512"
	default:
		return nil, s.fail("hash %v is not one a seal uses", opts.HashFunc())
	}
	sig, err := s.run(digest, "sign", name)
	if err != nil {
		return nil, err
	}
	if !ecdsa.VerifyASN1(s.pub, digest, sig) {
		return nil, s.fail("sign: the signature does not verify with the signer's public key")
	}
	return sig, nil
}

func (s *execSigner) fail(format string, args ...any) error {
	return &Error{Reason: ReasonSigner, URI: ExecScheme + s.path, Err: fmt.Errorf(format, args...)}
}

// run runs the program with args and stdin, within the timeout.
func (s *execSigner) run(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // a child left holding the pipes does not hang us
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, s.fail("%s: no answer within %v", args[0], s.timeout)
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if msg != "" {
			return nil, s.fail("%s: %v: %s", args[0], err, msg)
		}
		return nil, s.fail("%s: %v", args[0], err)
	}
	return stdout.Bytes(), nil
}
