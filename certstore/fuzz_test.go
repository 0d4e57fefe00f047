package certstore

import (
	"crypto/elliptic"
	"encoding/json"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the store file parser. It must never
// panic; whatever it accepts must be a consistent store. Seeds are real
// store files, so mutations reach every region.
func FuzzParse(f *testing.F) {
	path := newTestStore(f)
	empty, _ := os.ReadFile(path)
	cert, key := newCert(f, "fuzz", elliptic.P256(), false, nil, nil)
	mustAdd(f, path, Element{ID: "a", Tags: []string{TagEngineDefault}, Cert: cert, Key: key})
	one, _ := os.ReadFile(path)
	for _, seed := range [][]byte{empty, one, nil, []byte(Magic), one[:headerSize], append(one, 0)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHeader("fuzz", data)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if h.iterations > 10*MinIterations {
			return // valid but too slow to derive keys for in a fuzz loop
		}
		s, err := openBytes("fuzz", data, testPassword)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, e := range s.Elements() {
			if e.Cert == nil || !ValidID(e.ID) || (e.Key != nil && !keyMatches(e.Key, e.Cert)) {
				t.Fatalf("accepted an invalid element %+v", e)
			}
		}
	})
}

// FuzzDecodeContent feeds arbitrary documents to the parser of the
// decrypted content, which FuzzParse rarely reaches through the MAC.
func FuzzDecodeContent(f *testing.F) {
	cert, key := newCert(f, "fuzz", elliptic.P256(), false, nil, nil)
	s := &Store{id: "x"}
	s.Add(Element{ID: "a", Tags: []string{"t"}, Cert: cert, Key: key})
	s.Add(Element{ID: "b", Cert: cert})
	doc, _ := s.marshal()
	f.Add(doc)
	f.Add([]byte(`{"id":"x","elements":[]}`))
	f.Add([]byte(`{"id":"x","elements":[{"id":"a","tags":null,"certificate":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		s, err := decodeContent("fuzz", content)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// What is accepted survives a round trip.
		b, err := s.marshal()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := decodeContent("fuzz", b)
		if err != nil || s2.Len() != s.Len() {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := json.Marshal(s.Descriptor()); err != nil {
			t.Fatal(err)
		}
	})
}
