package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
)

const (
	readBufferSize = 64 << 10
	// maxLineBytes bounds the memory one line may take. The library's records are a few
	// kilobytes; a longer line (a corrupted or hostile file) is skipped as invalid, read
	// through without being held.
	maxLineBytes = 1 << 20
	// unknownSeq is the first seq of a file without a complete first line.
	unknownSeq = math.MaxInt64
)

// errTooLong: the line at the offset returned was longer than maxLineBytes and was read
// through; the next call reads the line after it.
var errTooLong = errors.New("a line longer than 1 MiB")

// errChanged: a line read joined bytes from before and after a rewrite; read it again.
var errChanged = errors.New("the journal changed under the read")

// journalFile is one open journal file, read line by line from offset.
type journalFile struct {
	f      *os.File
	info   os.FileInfo // its identity (os.SameFile) when opened
	name   string      // base name, for logs
	offset int64       // end of the last complete line read
	// sealed: nothing more will be appended (an archive, or the journal once rotated).
	sealed  bool
	r       *bufio.Reader
	bufSize int
	check   []byte
}

func openJournalFile(path string) (*journalFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &journalFile{f: f, info: info, name: filepath.Base(path), bufSize: readBufferSize}, nil
}

// nextLine returns the next complete line (without its newline) and its offset, or
// io.EOF when there is none: an incomplete last line is never returned.
func (jf *journalFile) nextLine() ([]byte, int64, error) {
	if jf.r == nil {
		jf.r = bufio.NewReaderSize(io.NewSectionReader(jf.f, jf.offset, math.MaxInt64-jf.offset), jf.bufSize)
	}
	line, skipped, err := readLine(jf.r, maxLineBytes)
	if err != nil {
		// Read again from offset next time: an incomplete line may be completed, or cut
		// and rewritten by the next writer.
		jf.r = nil
		return nil, 0, err
	}
	if skipped > 0 {
		at := jf.offset
		jf.offset += skipped
		return nil, at, errTooLong
	}
	// A writer cuts a torn last line and writes anew: bytes buffered before the cut may
	// have joined bytes read after it. Bytes ended by a newline are final, so the line
	// is good if the file holds it now.
	if cap(jf.check) < len(line) {
		jf.check = make([]byte, len(line))
	}
	check := jf.check[:len(line)]
	if _, err := jf.f.ReadAt(check, jf.offset); err != nil || !bytes.Equal(check, line) {
		jf.r = nil
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		return nil, 0, errChanged
	}
	at := jf.offset
	jf.offset += int64(len(line))
	return line[:len(line)-1], at, nil
}

func (jf *journalFile) size() (int64, error) {
	info, err := jf.f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// firstSeq returns the seq of the file's first line, unknownSeq if it has none yet.
func firstSeq(f *os.File) int64 {
	reader := bufio.NewReaderSize(io.NewSectionReader(f, 0, math.MaxInt64), readBufferSize)
	line, skipped, err := readLine(reader, maxLineBytes)
	if err != nil || skipped > 0 {
		return unknownSeq
	}
	rec, err := decodeLine(line[:len(line)-1])
	if err != nil {
		return unknownSeq
	}
	return rec.seq
}

// lastLineEnd returns the offset just after the file's last newline (0 if none).
func lastLineEnd(f *os.File, size int64) (int64, error) {
	buf := make([]byte, readBufferSize)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// readLine returns the next line with its newline, or, for a line longer than limit, no
// line and how many bytes it took (newline included), having read through it in chunks.
// An incomplete last line gives io.EOF, as bufio.Reader.ReadBytes does.
func readLine(r *bufio.Reader, limit int) ([]byte, int64, error) {
	var line []byte
	var skipped int64
	for {
		chunk, err := r.ReadSlice('\n')
		switch {
		case skipped > 0 || len(line)+len(chunk) > limit:
			skipped += int64(len(line) + len(chunk))
			line = nil
		default:
			line = append(line, chunk...)
		}
		if err == nil {
			return line, skipped, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, 0, err
		}
	}
}
