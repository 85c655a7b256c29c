package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"go.uber.org/zap"
)

// maxWarnedFiles bounds the files whose invalid lines' positions are remembered.
const maxWarnedFiles = 16

// tailer reads the journal's records in seq order: the rotated archives still needed,
// then the journal file itself, following it across rotations.
type tailer struct {
	path, dir, base string
	logger          *zap.Logger
	onInvalid       func() int64 // counts an invalid line, returns the total

	last     int64  // records with seq <= last are shipped or queued: skipped
	lastHash string // the checkpointed record's hash, to notice a replaced journal
	seen     int64  // the highest seq read
	// startAtEnd: no checkpoint and start_at end: the first open skips what exists.
	startAtEnd bool
	looked     bool // the journal was looked for at least once
	hadLive    bool // the journal was opened at least once

	archives []string     // archives to read before the journal, in order
	archive  *journalFile // the archive being read
	live     *journalFile // the journal (once rotated away: sealed, read to its end)

	warned          []warnedFile
	waitingLogged   bool
	mismatchLogged  bool
	readErrorLogged bool
}

type warnedFile struct {
	info    os.FileInfo
	offsets map[int64]struct{}
}

func newTailer(path string, logger *zap.Logger, ck checkpoint, hasCheckpoint, startAtEnd bool, onInvalid func() int64) *tailer {
	t := &tailer{
		path:      path,
		dir:       filepath.Dir(path),
		base:      filepath.Base(path),
		logger:    logger,
		onInvalid: onInvalid,
	}
	if hasCheckpoint {
		t.last, t.lastHash = ck.Seq, ck.Hash
	} else {
		t.startAtEnd = startAtEnd
	}
	return t
}

// read returns up to maxRecords new records, fewer when the journal has no more yet.
func (t *tailer) read(maxRecords int) []record {
	var out []record
	changed := 0
	for len(out) < maxRecords {
		jf := t.source()
		if jf == nil {
			break
		}
		line, at, err := jf.nextLine()
		if errors.Is(err, errTooLong) {
			t.invalidLine(jf, at, err.Error())
			continue
		}
		if errors.Is(err, errChanged) && changed < 3 {
			changed++
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				if !t.readErrorLogged {
					t.logger.Warn("journal receiver: cannot read the journal; retrying",
						zap.String("file", jf.name), zap.Int64("offset", jf.offset), zap.Error(err))
					t.readErrorLogged = true
				}
				break
			}
			if !t.atEOF(jf) {
				break
			}
			continue
		}
		t.readErrorLogged = false
		if rec, ok := t.accept(jf, line, at); ok {
			out = append(out, rec)
		}
	}
	return out
}

// source returns the file to read next, or nil when the journal does not exist (yet).
func (t *tailer) source() *journalFile {
	for {
		if t.archive != nil {
			return t.archive
		}
		if t.live == nil && !t.openLive() {
			return nil
		}
		if len(t.archives) == 0 {
			return t.live
		}
		path := t.archives[0]
		t.archives = t.archives[1:]
		jf, err := openJournalFile(path)
		if err != nil {
			t.logger.Warn("journal receiver: cannot open a rotated archive; its records are skipped",
				zap.String("file", filepath.Base(path)), zap.Error(err))
			continue
		}
		jf.sealed = true
		t.archive = jf
	}
}

// openLive opens the file now at path and plans the archives to read before it.
func (t *tailer) openLive() bool {
	first := !t.looked
	t.looked = true
	jf, err := openJournalFile(t.path)
	if err != nil {
		if !t.waitingLogged {
			if errors.Is(err, fs.ErrNotExist) {
				t.logger.Info("journal receiver: waiting for the journal to appear", zap.String("file", t.base))
			} else {
				t.logger.Warn("journal receiver: cannot open the journal; retrying", zap.String("file", t.base), zap.Error(err))
			}
			t.waitingLogged = true
		}
		return false
	}
	t.waitingLogged = false
	t.live = jf
	if t.startAtEnd {
		// Only what is appended from now on; archives hold older records.
		t.startAtEnd = false
		t.hadLive = true
		if first {
			end, err := lastLineEnd(jf.f, jf.info.Size())
			if err != nil {
				t.logger.Warn("journal receiver: cannot find the journal's end; reading it from the start",
					zap.String("file", jf.name), zap.Error(err))
			}
			jf.offset = end
		}
		return true
	}
	liveFirst := firstSeq(jf.f)
	if t.hadLive && liveFirst != unknownSeq && liveFirst <= t.seen {
		t.logger.Warn("journal receiver: the journal was replaced by a new chain; shipping it from its start",
			zap.String("file", jf.name), zap.Int64("previous_seq", t.seen), zap.Int64("first_seq", liveFirst))
		t.last, t.seen = liveFirst-1, liveFirst-1
	}
	t.hadLive = true
	t.archives = t.planArchives(liveFirst)
	return true
}

// atEOF handles the end of jf's complete lines; true when reading should go on now.
func (t *tailer) atEOF(jf *journalFile) bool {
	if jf.sealed {
		// Its incomplete last line, if any, will never be completed.
		if size, err := jf.size(); err == nil && size > jf.offset {
			t.invalidLine(jf, jf.offset, "incomplete last line of a sealed file")
		}
		_ = jf.f.Close()
		if jf == t.archive {
			t.archive = nil
		} else {
			t.live = nil
		}
		return true
	}
	info, err := os.Stat(t.path)
	if err != nil {
		return false // gone for now (or unreadable): keep the handle, look again later
	}
	if !os.SameFile(info, jf.info) {
		// Rotated: the writer sealed this file before replacing it. Read what was
		// appended since the last look, then move to the new file.
		jf.sealed = true
		return true
	}
	if size, err := jf.size(); err == nil && size < jf.offset {
		t.logger.Warn("journal receiver: the journal shrank below the read position; reading it again from its start",
			zap.String("file", jf.name), zap.Int64("offset", jf.offset), zap.Int64("size", size))
		jf.offset = 0
		return true
	}
	return false
}

// accept decodes a line; it returns the record if it is to be shipped.
func (t *tailer) accept(jf *journalFile, line []byte, at int64) (record, bool) {
	if len(bytes.TrimSpace(line)) == 0 {
		return record{}, false
	}
	rec, err := decodeLine(line)
	if err != nil {
		t.invalidLine(jf, at, err.Error())
		return record{}, false
	}
	t.seen = max(t.seen, rec.seq)
	if rec.seq <= t.last {
		if rec.seq == t.last && t.lastHash != "" && rec.hash != t.lastHash && !t.mismatchLogged {
			t.logger.Warn("journal receiver: the journal's record at the checkpoint's seq has another hash; "+
				"was the journal replaced? Records up to that seq are treated as shipped",
				zap.String("file", jf.name), zap.Int64("offset", at), zap.Int64("seq", rec.seq))
			t.mismatchLogged = true
		}
		return record{}, false
	}
	if t.last > 0 && rec.seq != t.last+1 {
		t.logger.Warn("journal receiver: journal records are missing (a rotated archive removed?)",
			zap.String("file", jf.name), zap.Int64("offset", at),
			zap.Int64("expected_seq", t.last+1), zap.Int64("seq", rec.seq))
	}
	t.last, t.lastHash = rec.seq, ""
	return rec, true
}

// invalidLine counts and logs (position only, never content) a line that is not a
// record, once per file position.
func (t *tailer) invalidLine(jf *journalFile, at int64, reason string) {
	var w *warnedFile
	for i := range t.warned {
		if os.SameFile(t.warned[i].info, jf.info) {
			w = &t.warned[i]
			break
		}
	}
	if w == nil {
		if len(t.warned) >= maxWarnedFiles {
			t.warned = slices.Delete(t.warned, 0, 1)
		}
		t.warned = append(t.warned, warnedFile{info: jf.info, offsets: map[int64]struct{}{}})
		w = &t.warned[len(t.warned)-1]
	}
	if _, done := w.offsets[at]; done {
		return
	}
	w.offsets[at] = struct{}{}
	total := t.onInvalid()
	t.logger.Warn("journal receiver: skipped a line that is not a journal record",
		zap.String("file", jf.name), zap.Int64("offset", at), zap.String("reason", reason),
		zap.Int64("invalid_lines", total))
}

func (t *tailer) close() {
	for _, jf := range []*journalFile{t.archive, t.live} {
		if jf != nil {
			_ = jf.f.Close()
		}
	}
	t.archive, t.live = nil, nil
}
