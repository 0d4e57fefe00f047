// Package watch is the tlseal watcher daemon: it watches source directories
// for timeline files (JSON event files, RIFF/WAV recordings), waits until
// each is complete, seals it and appends it to an evidence archive, exactly
// once per version of the file, across restarts and crashes.
//
// # Data flow
//
//	fsnotify events, catch-up scan, rescans
//	    → scheduler: per-path quiet period, size and mtime stable
//	    → workers: structural completeness (JSON closed, RIFF size final),
//	      idempotency check against the archive
//	    → archive.Writer.IngestWithNotes (seal in one read pass, durable
//	      append; a file sealed as it was carries the watch.incomplete note)
//	    → checkpoints on the archive's cadence and at shutdown
//
// # Completion
//
// A file is complete when no event arrived for it during the quiet period,
// its size and mtime are stable (its mtime is at least a quiet period old,
// or unchanged between two looks a quiet period apart), and it is
// structurally complete: a JSON object parses to its closing brace with only
// whitespace after it; a RIFF header's size field equals the file length − 8
// and is not the 0xFFFFFFFF placeholder. A file that stays unchanged but
// incomplete for MaxWait is sealed as it is, with a warning finding
// (CodeIncomplete) recorded as a note in its archive entry's log record,
// committed with the entry (archive.Writer.IngestWithNotes).
//
// # Idempotency
//
// The archive is the source of truth: a source file version is archived when
// the latest archive entry of its source name has the file's size and
// SHA-256. At start the watcher reads the archive's log (from where its
// state cache left off) to know the latest version of every source name. The
// state cache (StateDir/state.json) only saves work: it remembers the stat
// (device, inode, size, mtime, ctime) each archived version had, so that
// unchanged files are recognised without reading them. A lost or stale cache
// costs one hash of the files whose size equals their archived size; it can
// never cause a second seal or a missed one.
package watch
