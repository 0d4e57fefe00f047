package watch

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tlseal/tlseal/internal/testpki"
)

// FuzzLoadFileConfig: the "watch" member of a configuration file never
// crashes the loader or the checks New applies to it; a refusal is a
// typed config error; relative paths are anchored at the file's directory;
// what is accepted written back loads to the same settings.
func FuzzLoadFileConfig(f *testing.F) {
	f.Add([]byte(`{"watch":{"sources":["rec",{"dir":"/abs","prefix":"site-a"}],"archive":"arch","quietPeriod":"2s","maxWait":"1m","workers":3,"include":["*.json"],"logLevel":"debug"}}`))
	f.Add([]byte(`{"watch":{"sources":[{"dir":"rec","prefix":"../x"}],"archive":"a"}}`))
	f.Add([]byte(`{"watch":{"quietPeriod":1000000,"maxWait":"1ms"}}`))
	f.Add([]byte(`{"watch":{"exclude":["[x"]}}`))
	f.Add([]byte(`{"watch":{"typo":1}}`))
	f.Add([]byte(`{"watch":null,"certStoreFileName":"s"}`))
	f.Add([]byte(`{}`))
	signer := testpki.Signer(f, testpki.Leaf(f, testpki.CA(f, testpki.Options{}), testpki.Options{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "tlseal.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fc, err := LoadFileConfig(p)
		if err != nil {
			if ReasonOf(err) != ReasonConfig {
				t.Fatalf("not a config error: %v", err)
			}
			return
		}
		if fc == nil {
			return
		}
		for _, s := range append([]string{fc.Archive, fc.StateDir}, sourceDirs(fc)...) {
			if s != "" && !filepath.IsAbs(s) {
				t.Fatalf("path %q not anchored at the file's directory", s)
			}
		}
		b, err := json.Marshal(map[string]*FileConfig{"watch": fc})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		back, err := LoadFileConfig(p)
		if err != nil {
			t.Fatalf("written back, it does not load: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(fc, back) {
			t.Fatalf("round trip:\n%+v\n%+v", fc, back)
		}
		var c Config
		fc.Apply(&c)
		c.Signer, c.Logger = signer, slog.New(slog.NewTextHandler(io.Discard, nil))
		if err := c.normalize(); err != nil && ReasonOf(err) != ReasonConfig {
			t.Fatalf("normalize: not a config error: %v", err)
		}
	})
}

func sourceDirs(fc *FileConfig) []string {
	var d []string
	for _, s := range fc.Sources {
		d = append(d, s.Dir)
	}
	return d
}
