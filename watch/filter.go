package watch

import (
	"path"
	"strings"
)

// filter decides which paths inside a source are considered, by name only
// (the content decides the rest: JSON object or RIFF).
type filter struct {
	include, exclude []string
}

func newFilter(c *Config) *filter {
	f := &filter{include: c.Include}
	if !c.NoDefaultExcludes {
		f.exclude = append(f.exclude, DefaultExcludes...)
	}
	f.exclude = append(f.exclude, c.Exclude...)
	f.exclude = append(f.exclude, alwaysExcluded)
	return f
}

// match reports whether the glob matches rel (a '/'-separated path relative
// to the source): globs with '/' match the whole path, others the base name.
func match(glob, rel string) bool {
	target := rel
	if !strings.Contains(glob, "/") {
		target = path.Base(rel)
	}
	ok, _ := path.Match(glob, target) // checked in Config.normalize
	return ok
}

// excludedDir reports whether the directory rel ("" for the root) and
// everything below it is excluded.
func (f *filter) excludedDir(rel string) bool {
	if rel == "" {
		return false
	}
	for _, g := range f.exclude {
		if match(g, rel) {
			return true
		}
	}
	return false
}

// excludedFile reports whether the file rel is excluded: by an exclude glob
// on itself or on a directory above it, or by not matching an include glob.
func (f *filter) excludedFile(rel string) bool {
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if f.excludedDir(dir) {
			return true
		}
	}
	for _, g := range f.exclude {
		if match(g, rel) {
			return true
		}
	}
	if len(f.include) == 0 {
		return false
	}
	for _, g := range f.include {
		if match(g, rel) {
			return false
		}
	}
	return true
}
