package certstore

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestOpenSSLIndependentDecrypt opens a store with openssl alone, following
// docs/certstore.md: key derivation (PBKDF2, HKDF-Expand), password check
// value, MAC, decryption and content digest.
func TestOpenSSLIndependentDecrypt(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	ossl := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			if strings.Contains(stderr.String(), "kdf") && strings.Contains(stderr.String(), "Invalid command") {
				t.Skip("openssl without the kdf command")
			}
			t.Fatalf("openssl %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}
	hexOut := func(b []byte) string {
		return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(string(b)), ":", ""))
	}

	path := newTestStore(t)
	cert, key := newCert(t, "independent", elliptic.P256(), false, nil, nil)
	mustAdd(t, path, Element{ID: "a", Tags: []string{TagEngineDefault}, Cert: cert, Key: key})
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	iter := binary.BigEndian.Uint32(f[12:16])
	n := int(binary.BigEndian.Uint32(f[64:68]))
	if len(f) != 148+n || string(f[:8]) != "TLSEALCS" || binary.BigEndian.Uint16(f[8:10]) != 1 {
		t.Fatal("layout differs from the documentation")
	}
	if sum := sha256.Sum256(f[:68]); !bytes.Equal(sum[:], f[68:100]) {
		t.Fatal("header checksum")
	}
	pw := binary.BigEndian.AppendUint32(nil, uint32(len(testPassword)))
	pw = append(pw, testPassword...)
	m := hexOut(ossl(nil, "kdf", "-keylen", "32", "-kdfopt", "digest:SHA256", "-kdfopt", "hexpass:"+hex.EncodeToString(pw),
		"-kdfopt", "hexsalt:"+hex.EncodeToString(appSalt)+hex.EncodeToString(f[16:48]),
		"-kdfopt", "iter:"+strconv.Itoa(int(iter)), "PBKDF2"))
	hk := func(info string, n int) string {
		return hexOut(ossl(nil, "kdf", "-keylen", strconv.Itoa(n), "-kdfopt", "digest:SHA256", "-kdfopt", "mode:EXPAND_ONLY",
			"-kdfopt", "hexkey:"+m, "-kdfopt", "info:"+info, "HKDF"))
	}
	if got := hk("tlseal certstore v1 password check", 16); got != hex.EncodeToString(f[48:64]) {
		t.Fatalf("password check value: openssl %s, file %x", got, f[48:64])
	}
	mac := ossl(f[:116+n], "dgst", "-sha256", "-r", "-mac", "HMAC", "-macopt", "hexkey:"+hk("tlseal certstore v1 hmac-sha256 key", 32))
	if got := strings.Fields(string(mac))[0]; got != hex.EncodeToString(f[116+n:]) {
		t.Fatalf("MAC: openssl %s, file %x", got, f[116+n:])
	}
	plain := ossl(f[116:116+n], "enc", "-d", "-aes-256-cbc", "-K", hk("tlseal certstore v1 aes-256-cbc key", 32),
		"-iv", hex.EncodeToString(f[100:116]))
	content, digest := plain[:len(plain)-32], plain[len(plain)-32:]
	if sum := sha256.Sum256(content); !bytes.Equal(sum[:], digest) {
		t.Fatal("content digest")
	}
	var doc struct {
		ID       string
		Elements []struct {
			ID          string
			Tags        []string
			Certificate []byte
			PrivateKey  []byte
		}
	}
	if err := json.Unmarshal(content, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Elements) != 1 || doc.Elements[0].ID != "a" || !bytes.Equal(doc.Elements[0].Certificate, cert.Raw) ||
		len(doc.Elements[0].PrivateKey) == 0 {
		t.Errorf("content %s", content)
	}
}
