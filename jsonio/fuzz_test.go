package jsonio_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tlseal/tlseal/jsonio"
)

func FuzzScan(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"a":[1,{"b":null}],"c":"\u00e9"} `, `[1]`, `{"a":1,}`, "\xef\xbb\xbf{}", `{"a":-0.5e+3}`, `{"seal":{}}`} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		doc, err := jsonio.Scan(data)
		// Differential check against encoding/json: a document the scanner
		// accepts is valid JSON with an object at the top, and the other way
		// round (encoding/json knows no BOM; the scanner allows one).
		body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		isObject := json.Valid(body) && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
		if (err == nil) != isObject {
			t.Fatalf("scanner err=%v, encoding/json valid object=%v for %q", err, isObject, data)
		}
		if err != nil {
			return
		}
		if data[doc.Open] != '{' || data[doc.Close] != '}' {
			t.Fatalf("open/close offsets wrong: %d %d", doc.Open, doc.Close)
		}
		if doc.Members > 0 {
			var v any
			if err := json.Unmarshal(data[doc.Last.ValueStart:doc.Last.ValueEnd], &v); err != nil {
				t.Fatalf("last value span %q is not a value: %v", data[doc.Last.ValueStart:doc.Last.ValueEnd], err)
			}
		}
		// Writing in two pieces gives the same structure.
		if len(data) > 0 {
			split = ((split % len(data)) + len(data)) % len(data)
			s := jsonio.NewScanner()
			s.Write(data[:split])
			s.Write(data[split:])
			doc2, err := s.Finish()
			if err != nil || doc2.Close != doc.Close || doc2.Members != doc.Members || doc2.Last != doc.Last {
				t.Fatalf("split at %d changes the result: %v", split, err)
			}
		}
	})
}

// FuzzUnquote: Unquote agrees with encoding/json on every string literal.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\nb\u00e9\ud83d\udcfb\/"`, `"\ud800x"`, "\"\xff\"", `"\u0000"`, `"\ud83d\ud83d"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		wantErr := json.Unmarshal(raw, &want)
		isString := len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"'
		got, err := jsonio.Unquote(raw)
		if !isString || wantErr != nil {
			if err == nil && isString {
				t.Fatalf("Unquote(%q) = %q, encoding/json: %v", raw, got, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("Unquote(%q) = %q, %v; encoding/json %q", raw, got, err, want)
		}
	})
}
