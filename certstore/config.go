package certstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tlseal/tlseal/tokenkey"
)

// Config is the part of a tlseal JSON configuration file (--config) that
// concerns certificates. Other members (watch settings, ...) are ignored
// here.
type Config struct {
	CertStoreFileName    string         `json:"certStoreFileName"`
	CertStorePasswordHex string         `json:"certStorePasswordHex"`
	Security             SecurityConfig `json:"security"`
	CACertificates       []string       `json:"caCertificates"`
}

// SecurityConfig names the signing certificate and key: each is
// "@certstore://ID", a PEM file path, or empty.
type SecurityConfig struct {
	Certificate string `json:"certificate"`
	Key         string `json:"key"`
}

// LoadConfig reads a JSON configuration file. Relative file paths in it
// (the store, certificate, key and CA files) are taken relative to the
// configuration file's directory; "@certstore://" references are kept as
// they are. The password, if present, is checked to be valid hex.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if c.CertStorePasswordHex != "" {
		pw, err := PasswordFromHex(c.CertStorePasswordHex)
		if err != nil {
			return nil, fmt.Errorf("config %s: certStorePasswordHex: %w", path, err)
		}
		clear(pw)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		if _, ok := ParseRef(p); ok || tokenkey.IsRef(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.CertStoreFileName = rel(c.CertStoreFileName)
	c.Security.Certificate = rel(c.Security.Certificate)
	c.Security.Key = rel(c.Security.Key)
	for i, p := range c.CACertificates {
		c.CACertificates[i] = rel(p)
	}
	return &c, nil
}

// PasswordFromHex decodes a hex password (upper or lower case; spaces and
// colons between bytes are ignored). The result must not be empty. Unlike
// encoding/hex, its errors never quote the offending character, so that no
// part of a password reaches a log.
func PasswordFromHex(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', ':', '\t', '\n', '\r':
		default:
			clean = append(clean, c)
		}
	}
	defer clear(clean)
	if len(clean) == 0 {
		return nil, &Error{Reason: ReasonInvalidArgument, Detail: "empty password"}
	}
	if len(clean)%2 != 0 {
		return nil, &Error{Reason: ReasonInvalidArgument, Detail: "password hex has an odd number of digits"}
	}
	pw := make([]byte, len(clean)/2)
	for i := range pw {
		hi, ok1 := unhex(clean[2*i])
		lo, ok2 := unhex(clean[2*i+1])
		if !ok1 || !ok2 {
			clear(pw)
			return nil, &Error{Reason: ReasonInvalidArgument, Detail: "password is not hex"}
		}
		pw[i] = hi<<4 | lo
	}
	return pw, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
