package journalreceiver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
)

const waitFor = 5 * time.Second

// memStorage is an in-memory storage.Client whose data outlives Close, as a file would.
type memStorage struct {
	mu   sync.Mutex
	data map[string][]byte
	sets int
}

func newMemStorage() *memStorage { return &memStorage{data: map[string][]byte{}} }

func (m *memStorage) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data[key]), nil
}

func (m *memStorage) Set(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(value)
	m.sets++
	return nil
}

func (m *memStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

func (m *memStorage) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = m.Get(ctx, op.Key)
		case storage.Set:
			err = m.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = m.Delete(ctx, op.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (*memStorage) Close(context.Context) error { return nil }

// stored returns the checkpoint in storage, if any.
func (m *memStorage) stored(t *testing.T) (checkpoint, bool) {
	value, err := m.Get(context.Background(), checkpointKey)
	require.NoError(t, err)
	if value == nil {
		return checkpoint{}, false
	}
	var ck checkpoint
	require.NoError(t, json.Unmarshal(value, &ck))
	return ck, true
}

// storageExtension hands out one memStorage.
type storageExtension struct {
	component.StartFunc
	component.ShutdownFunc
	client *memStorage
}

func (e *storageExtension) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return e.client, nil
}

type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

var storageID = component.MustNewIDWithName("file_storage", "journal")

func hostWith(client *memStorage) component.Host {
	return testHost{storageID: &storageExtension{client: client}}
}

// journalWriter writes a journal as the Python library does: canonical lines, chained
// by hash, rotated by hard-linking the file as "<name>.<first seq>" and atomically
// replacing it with a new file that starts with an "audit.rotated" record.
type journalWriter struct {
	t     *testing.T
	path  string
	seq   int64
	prev  string
	first int64 // first seq of the current file
}

func newJournalWriter(t *testing.T) *journalWriter {
	return &journalWriter{t: t, path: filepath.Join(t.TempDir(), "audit.jsonl"), prev: fmt.Sprintf("%064d", 0)}
}

func canonicalJSON(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// line returns the next record's line (with its newline) and advances the chain.
func (w *journalWriter) line(body map[string]any) []byte {
	w.seq++
	rec := map[string]any{"seq": w.seq, "prev": w.prev}
	for k, v := range body {
		rec[k] = v
	}
	sum := sha256.Sum256(canonicalJSON(w.t, rec))
	rec["hash"] = hex.EncodeToString(sum[:])
	w.prev = rec["hash"].(string)
	if w.first == 0 {
		w.first = w.seq
	}
	return append(canonicalJSON(w.t, rec), '\n')
}

func (w *journalWriter) appendRaw(data []byte) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	require.NoError(w.t, err)
	_, err = f.Write(data)
	require.NoError(w.t, err)
	require.NoError(w.t, f.Close())
}

// event appends n audit events.
func (w *journalWriter) event(n int) {
	for range n {
		w.appendRaw(w.line(map[string]any{"event": testEvent(w.seq + 1)}))
	}
}

func (w *journalWriter) checkpoint() {
	w.appendRaw(w.line(map[string]any{
		"type": "audit.checkpoint", "head": w.prev, "key_id": "56475aa75463474c", "signature": "00ff",
	}))
}

// rotate seals the file with a checkpoint and continues the chain in a new file.
func (w *journalWriter) rotate() {
	w.checkpoint()
	archive := fmt.Sprintf("%s.%012d", w.path, w.first)
	require.NoError(w.t, os.Link(w.path, archive))
	fresh := filepath.Join(filepath.Dir(w.path), "."+filepath.Base(w.path)+".next")
	w.first = 0
	line := w.line(map[string]any{"type": "audit.rotated", "previous_file": filepath.Base(archive)})
	require.NoError(w.t, os.WriteFile(fresh, line, 0o600))
	require.NoError(w.t, os.Rename(fresh, w.path))
}

func testEvent(n int64) map[string]any {
	return map[string]any{
		"time":         time.Date(2026, 11, 29, 19, 2, 3, int(n)*1000, time.UTC).Format("2006-01-02T15:04:05.000000-07:00"),
		"seq":          n,
		"event_id":     fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		"event":        "secret.resolved",
		"provider":     "db_password",
		"outcome":      "found",
		"service.name": "payments",
		"host.name":    "web-1",
		"user":         map[string]any{"id": "alice", "os_user": "svc"},
		"attempts":     []any{},
		"trace_id":     nil,
	}
}

func testConfig(path string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Path = path
	cfg.PollInterval = 10 * time.Millisecond
	return cfg
}

func startReceiver(t *testing.T, cfg *Config, next consumer.Logs, host component.Host, logger *zap.Logger) *journalReceiver {
	t.Helper()
	set := receivertest.NewNopSettings(componentType)
	if logger != nil {
		set.Logger = logger
	}
	rcv, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), host))
	t.Cleanup(func() { _ = rcv.Shutdown(context.Background()) })
	return rcv.(*journalReceiver)
}

func stop(t *testing.T, r *journalReceiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx))
}

// shippedSeqs returns the journal.seq of every record the sink received, batch after
// batch; within a batch, records are grouped by resource, so they are sorted here.
func shippedSeqs(sink *consumertest.LogsSink) []int64 {
	var seqs []int64
	for _, ld := range sink.AllLogs() {
		var batch []int64
		forEachRecord(ld, func(lr plog.LogRecord) {
			v, _ := lr.Attributes().Get(attrSeq)
			batch = append(batch, v.Int())
		})
		seqs = append(seqs, sorted(batch)...)
	}
	return seqs
}

func forEachRecord(ld plog.Logs, fn func(plog.LogRecord)) {
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				fn(lr)
			}
		}
	}
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func sorted(seqs []int64) []int64 {
	out := append([]int64(nil), seqs...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// eventuallySeqs waits until the sink holds exactly want (in order).
func eventuallySeqs(t *testing.T, sink *consumertest.LogsSink, want []int64) {
	t.Helper()
	require.Eventually(t, func() bool { return len(shippedSeqs(sink)) >= len(want) }, waitFor, 5*time.Millisecond,
		"got %v", shippedSeqs(sink))
	time.Sleep(50 * time.Millisecond) // a few more polls: nothing else may arrive
	require.Equal(t, want, shippedSeqs(sink))
}

// failingSink refuses the first `failures` batches, then passes them to sink.
type failingSink struct {
	*consumertest.LogsSink
	mu       sync.Mutex
	failures int
	attempts int
}

func (f *failingSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	f.mu.Lock()
	f.attempts++
	fail := f.attempts <= f.failures
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("downstream unavailable")
	}
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

func (f *failingSink) attemptCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}
