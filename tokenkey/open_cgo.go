//go:build cgo

package tokenkey

import (
	"fmt"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	pkcs11uri "github.com/stefanberger/go-pkcs11uri"
)

// contexts are the open tokens, one per module, token label and PIN: a
// module is initialised once per process, and a key and its certificate,
// or a signer and a checkpoint signer in the same token, share a login.
var contexts struct {
	sync.Mutex
	m map[string]*crypto11.Context
}

// Open resolves a PKCS#11 URI to the key it names.
func Open(uri string) (*Key, error) {
	shown := Redact(uri)
	fail := func(r Reason, format string, args ...any) error {
		return &Error{Reason: r, URI: shown, Err: fmt.Errorf(format, args...)}
	}
	u := pkcs11uri.New()
	if err := u.Parse(uri); err != nil {
		return nil, &Error{Reason: ReasonInvalidURI, URI: shown, Err: err}
	}
	token, _ := u.GetPathAttribute("token", false)
	if token == "" {
		return nil, fail(ReasonInvalidURI, "name the token by its label (token=...): slot numbers change")
	}
	object, _ := u.GetPathAttribute("object", false)
	id, _ := u.GetPathAttribute("id", false)
	if object == "" && id == "" {
		return nil, fail(ReasonInvalidURI, "name the key (object=LABEL or id=...)")
	}
	u.SetAllowAnyModule(true)
	module, err := u.GetModule()
	if err != nil {
		return nil, &Error{Reason: ReasonModule, URI: shown, Err: fmt.Errorf("%w (module-path=FILE, or module-name with module-path=DIR)", err)}
	}
	if !u.HasPIN() {
		return nil, fail(ReasonPIN, "no PIN: add pin-source=file:/path/to/pin (or pin-value, which is unsafe)")
	}
	pin, err := u.GetPIN()
	if err != nil {
		return nil, &Error{Reason: ReasonPIN, URI: shown, Err: err}
	}
	if _, fromFile := u.GetQueryAttribute("pin-source", false); fromFile {
		pin = strings.TrimSuffix(strings.TrimSuffix(pin, "\n"), "\r")
	}
	ctx, err := context(module, token, pin)
	if err != nil {
		return nil, &Error{Reason: reasonOf(err), URI: shown, Err: err}
	}
	var idb, label []byte
	if id != "" {
		idb = []byte(id)
	}
	if object != "" {
		label = []byte(object)
	}
	s, err := ctx.FindKeyPair(idb, label)
	if err != nil && strings.Contains(err.Error(), "not found") {
		s, err = nil, nil // crypto11 reports a half-present pair so
	}
	if err != nil {
		return nil, &Error{Reason: ReasonToken, URI: shown, Err: err}
	}
	if s == nil {
		return nil, fail(ReasonNotFound, "no key pair with %s", describe(object, id))
	}
	k := &Key{Signer: s}
	if c, err := ctx.FindCertificate(idb, label, nil); err == nil && c != nil {
		k.Cert = c
	}
	return k, nil
}

func describe(object, id string) string {
	switch {
	case object != "" && id != "":
		return fmt.Sprintf("label %q and id %x", object, id)
	case object != "":
		return fmt.Sprintf("label %q", object)
	}
	return fmt.Sprintf("id %x", id)
}

func context(module, token, pin string) (*crypto11.Context, error) {
	contexts.Lock()
	defer contexts.Unlock()
	key := module + "\x00" + token + "\x00" + pin
	if c, ok := contexts.m[key]; ok {
		return c, nil
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: token, Pin: pin})
	if err != nil {
		return nil, err
	}
	if contexts.m == nil {
		contexts.m = map[string]*crypto11.Context{}
	}
	contexts.m[key] = c
	return c, nil
}

// reasonOf classifies a crypto11.Configure error.
func reasonOf(err error) Reason {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "could not find PKCS#11 token"), strings.Contains(msg, "PIN"), strings.Contains(msg, "C_Login"):
		return ReasonToken
	}
	return ReasonModule
}
