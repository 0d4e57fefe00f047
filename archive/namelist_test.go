package archive

import (
	"fmt"
	"strings"
	"testing"
)

func TestReadNameList(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "[]"},
		{"# only a comment\n\n   \n", "[]"},
		{"files/a.json\na.json\n  b/c.wav  \r\n#x\nfiles/b/c.wav\n", "[a.json b/c.wav]"},
		{"files/files/x\n", "[files/x]"},
	} {
		got, err := ReadNameList(strings.NewReader(c.in))
		if err != nil || got == nil || fmt.Sprint(got) != c.want {
			t.Errorf("ReadNameList(%q) = %#v, %v; want %s", c.in, got, err, c.want)
		}
	}
}
