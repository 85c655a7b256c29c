package journalreceiver

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// fixtureLine returns line n (from 1) of a file of testdata/journal, a journal written
// by the Python library (three rotations, a checkpoint every three events).
func fixtureLine(t *testing.T, name string, n int) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "journal", name))
	require.NoError(t, err)
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(nil, 1<<20)
	for i := 1; scanner.Scan(); i++ {
		if i == n {
			return append([]byte(nil), scanner.Bytes()...)
		}
	}
	require.NoError(t, scanner.Err())
	t.Fatalf("%s has no line %d", name, n)
	return nil
}

// logsAsRaw flattens plog into plain values, for whole-structure comparisons.
func logsAsRaw(ld plog.Logs) []map[string]any {
	var out []map[string]any
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			var records []map[string]any
			for _, lr := range sl.LogRecords().All() {
				records = append(records, map[string]any{
					"time":            lr.Timestamp(),
					"event_name":      lr.EventName(),
					"body":            lr.Body().AsRaw(),
					"severity_number": lr.SeverityNumber(),
					"severity_text":   lr.SeverityText(),
					"trace_id":        lr.TraceID().String(),
					"span_id":         lr.SpanID().String(),
					"attributes":      lr.Attributes().AsRaw(),
				})
			}
			out = append(out, map[string]any{
				"resource": rl.Resource().Attributes().AsRaw(),
				"scope":    sl.Scope().Name(),
				"records":  records,
			})
		}
	}
	return out
}

func decodeAll(t *testing.T, lines ...[]byte) plog.Logs {
	t.Helper()
	var records []record
	for _, line := range lines {
		rec, err := decodeLine(line)
		require.NoError(t, err)
		records = append(records, rec)
	}
	observed := pcommon.NewTimestampFromTime(time.Now())
	ld := buildLogs(records, observed)
	forEachRecord(ld, func(lr plog.LogRecord) { assert.Equal(t, observed, lr.ObservedTimestamp()) })
	return ld
}

func ts(s string) pcommon.Timestamp {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return pcommon.NewTimestampFromTime(t)
}

func TestDecodeEventRecordShape(t *testing.T) {
	resolved := fixtureLine(t, "audit.jsonl.000000000001", 1)
	denied := fixtureLine(t, "audit.jsonl.000000000001", 2)
	rotatedNoHost := fixtureLine(t, "audit.jsonl.000000000011", 2)

	got := logsAsRaw(decodeAll(t, resolved, denied, rotatedNoHost))

	want := []map[string]any{
		{
			"resource": map[string]any{"service.name": "payments", "host.name": "web-1"},
			"scope":    "abstractcore_secrets.journal",
			"records": []map[string]any{
				{
					"time":            ts("2026-11-29T19:02:03.123456Z"),
					"event_name":      "secret.resolved",
					"body":            "secret.resolved",
					"severity_number": plog.SeverityNumberInfo,
					"severity_text":   "INFO",
					"trace_id":        "4bf92f3577b34da6a3ce929d0e0e4736",
					"span_id":         "00f067aa0ba902b7",
					"attributes": map[string]any{
						"attempts": `[{"duration_ms":0.012,"error_type":null,"outcome":"not_found","source":"env","tries":1},` +
							`{"duration_ms":41.5,"error_type":null,"outcome":"found","source":"vault","tries":2}]`,
						"cache_hit":         false,
						"duration_ms":       42.0,
						"event_id":          "6f1c2b1e-8a4d-4f7e-9a53-2c1d0e9b7a10",
						"fingerprint":       "hmac-sha256:0f3a9c2d",
						"host.name":         "web-1",
						"locator":           "secret/data/app#db_password",
						"outcome":           "found",
						"process.pid":       int64(4242),
						"provider":          "db_password",
						"seq":               int64(1),
						"service.name":      "payments",
						"source":            "vault",
						"source_request_id": "req-éè-1",
						"span_id":           "00f067aa0ba902b7",
						"stale":             false,
						"time":              "2026-11-29T19:02:03.123456+00:00",
						"trace_id":          "4bf92f3577b34da6a3ce929d0e0e4736",
						"user.id":           "alice@example.com",
						"user.os_user":      "svc-app",
						"version":           "7",
						"journal.seq":       int64(1),
						"journal.hash":      "d278cfeee603f86eba1d86a7d9d254c9025b71a410a5c05e5cc416c8a4c231f8",
						"journal.prev":      "0000000000000000000000000000000000000000000000000000000000000000",
					},
				},
				{
					"time":            ts("2026-11-29T19:02:04.000001Z"),
					"event_name":      "secret.denied",
					"body":            "secret.denied",
					"severity_number": plog.SeverityNumberWarn,
					"severity_text":   "WARN",
					"trace_id":        "",
					"span_id":         "",
					"attributes": map[string]any{
						"attempts":       "[]",
						"cache_hit":      false,
						"duration_ms":    0.5,
						"error.message":  `denied by policy "prod-only"`,
						"error.type":     "PolicyDenied",
						"event_id":       "a0c3e5b2-1d1e-4a8b-9b7c-3e2f1a0d9c21",
						"host.name":      "web-1",
						"outcome":        "denied",
						"process.pid":    int64(4242),
						"provider":       "api_key",
						"seq":            int64(2),
						"service.name":   "payments",
						"stale":          false,
						"time":           "2026-11-29T19:02:04.000001+00:00",
						"user.os_user":   "svc-app",
						"user.pseudo_id": "9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5",
						"journal.seq":    int64(2),
						"journal.hash":   "447e990c17bf22eebddd50397ef193494bfeeeb94d2e418e93701e35f70dd55d",
						"journal.prev":   "d278cfeee603f86eba1d86a7d9d254c9025b71a410a5c05e5cc416c8a4c231f8",
					},
				},
			},
		},
		{
			"resource": map[string]any{"service.name": "billing"},
			"scope":    "abstractcore_secrets.journal",
			"records": []map[string]any{
				{
					"time":            ts("2026-11-29T19:02:04.000001Z"),
					"event_name":      "secret.rotated",
					"body":            "secret.rotated",
					"severity_number": plog.SeverityNumberInfo,
					"severity_text":   "INFO",
					"trace_id":        "",
					"span_id":         "",
					"attributes": map[string]any{
						"attempts":             "[]",
						"cache_hit":            false,
						"duration_ms":          0.5,
						"error.message":        `denied by policy "prod-only"`,
						"error.type":           "PolicyDenied",
						"event_id":             "00000000-0000-4000-8000-000000000007",
						"outcome":              "found",
						"previous_fingerprint": "hmac-sha256:aa",
						"process.pid":          int64(4242),
						"provider":             "api_key",
						"seq":                  int64(7),
						"service.name":         "billing",
						"stale":                false,
						"time":                 "2026-11-29T19:02:04.000001+00:00",
						"user.os_user":         "svc-app",
						"user.pseudo_id":       "9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5",
						"journal.seq":          int64(12),
						"journal.hash":         "e887f806f766857b17527066913a3c04ba2774e83fd7e16656eec11eb91978ab",
						"journal.prev":         "6eaa5a8f4b9193f86477bd586e0fb9859d5f85bda59581b3b0ffa7f5f1f963af",
					},
				},
			},
		},
	}
	assert.Equal(t, want, got)
}

func TestDecodeCheckpointAndRotationRecords(t *testing.T) {
	checkpointLine := fixtureLine(t, "audit.jsonl.000000000001", 4)
	rotationLine := fixtureLine(t, "audit.jsonl.000000000005", 1)

	got := logsAsRaw(decodeAll(t, checkpointLine, rotationLine))

	want := []map[string]any{{
		"resource": map[string]any{"service.name": "abstractcore-secrets-journal"},
		"scope":    "abstractcore_secrets.journal",
		"records": []map[string]any{
			{
				"time":            pcommon.Timestamp(0),
				"event_name":      "audit.checkpoint",
				"body":            "audit.checkpoint",
				"severity_number": plog.SeverityNumberInfo,
				"severity_text":   "INFO",
				"trace_id":        "",
				"span_id":         "",
				"attributes": map[string]any{
					"journal.seq":    int64(4),
					"journal.hash":   "365d4947143f084812f414792725d837144efafbe66450ad9bf27e45ee142295",
					"journal.prev":   "dd055aeff52f383bd2b8a45c73a81e11c2d6a0a0ef68279ed61421dcfd990229",
					"journal.head":   "dd055aeff52f383bd2b8a45c73a81e11c2d6a0a0ef68279ed61421dcfd990229",
					"journal.key_id": "56475aa75463474c",
					"journal.signature": "1a25c8b528be91bf2342bb74021741671bd9aa03416e7e2c876cc709214e0516" +
						"354e93dc0fd7a9b5fabc1010f5e24fbd5a7eb510364d4704657339648a4c6f0c",
				},
			},
			{
				"time":            pcommon.Timestamp(0),
				"event_name":      "audit.rotated",
				"body":            "audit.rotated",
				"severity_number": plog.SeverityNumberInfo,
				"severity_text":   "INFO",
				"trace_id":        "",
				"span_id":         "",
				"attributes": map[string]any{
					"journal.seq":           int64(5),
					"journal.hash":          "17a3505e57d31ebbdcc9eb18682eace7a7da8ca527191c804392becd04907ce3",
					"journal.prev":          "365d4947143f084812f414792725d837144efafbe66450ad9bf27e45ee142295",
					"journal.previous_file": "audit.jsonl.000000000001",
				},
			},
		},
	}}
	assert.Equal(t, want, got)
}

func TestDecodeValueRules(t *testing.T) {
	line := []byte(`{"event":{"big":123456789012345678901,"event":"secret.error","exp":1e3,"flag":true,` +
		`"int":-7,"nested":{"deep":{"b":[1,2],"a":null},"list":["x"],"n":null,"ok":1.5},"neg_exp":2E-2,` +
		`"none":null,"outcome":"error","service.name":null,"span_id":"0000000000000000",` +
		`"time":"2026-11-29T19:02:03.1234567","trace_id":"not-hex"},"hash":"h","prev":"p","seq":3}`)

	got := logsAsRaw(decodeAll(t, line))

	require.Len(t, got, 1)
	assert.Equal(t, map[string]any{"service.name": "unknown_service"}, got[0]["resource"])
	rec := got[0]["records"].([]map[string]any)[0]
	assert.Equal(t, map[string]any{
		"big":          1.2345678901234568e20,
		"exp":          1000.0,
		"flag":         true,
		"int":          int64(-7),
		"nested.deep":  `{"b":[1,2],"a":null}`,
		"nested.list":  `["x"]`,
		"nested.ok":    1.5,
		"neg_exp":      0.02,
		"outcome":      "error",
		"span_id":      "0000000000000000",
		"time":         "2026-11-29T19:02:03.1234567",
		"trace_id":     "not-hex",
		"journal.seq":  int64(3),
		"journal.hash": "h",
		"journal.prev": "p",
	}, rec["attributes"])
	assert.Equal(t, plog.SeverityNumberWarn, rec["severity_number"])
	assert.Equal(t, "", rec["trace_id"])
	assert.Equal(t, "", rec["span_id"])
	// No offset: UTC, and truncated to the microsecond as the Python library does.
	assert.Equal(t, ts("2026-11-29T19:02:03.123456Z"), rec["time"])
}

func TestDecodeSeverityFollowsTheLibrarysRule(t *testing.T) {
	for _, c := range []struct {
		fields string
		want   plog.SeverityNumber
	}{
		{`"outcome":"found","stale":false,"degraded":false`, plog.SeverityNumberInfo},
		{`"outcome":"found","stale":true,"degraded":false`, plog.SeverityNumberWarn},
		{`"outcome":"found","stale":false,"degraded":true`, plog.SeverityNumberWarn},
		{`"outcome":"found"`, plog.SeverityNumberInfo},
		{`"outcome":"not_found","degraded":"true"`, plog.SeverityNumberInfo},
		{`"outcome":"denied"`, plog.SeverityNumberWarn},
	} {
		line := []byte(`{"event":{"event":"secret.resolved",` + c.fields + `},"hash":"h","prev":"p","seq":1}`)
		rec := logsAsRaw(decodeAll(t, line))[0]["records"].([]map[string]any)[0]
		assert.Equal(t, c.want, rec["severity_number"], c.fields)
	}
}

func TestDecodeRejectsNonRecords(t *testing.T) {
	for _, line := range []string{
		`not json`,
		`{"event":{"event":"x"},"seq":1`,
		`[1,2]`,
		`null`,
		`{"event":{"event":"x"}}`,
		`{"event":{"event":"x"},"seq":1.5}`,
		`{"event":"x","seq":1}`,
		`{"hash":"h","seq":1}`,
	} {
		_, err := decodeLine([]byte(line))
		assert.Error(t, err, line)
	}
}

func TestCheckpointsTakeTheWritersResource(t *testing.T) {
	event := record{res: resourceKey{service: "billing", host: "h1", hasHost: true}}
	checkpoint := record{typ: "audit.checkpoint", res: resourceKey{service: journalServiceName}}
	early := record{typ: "audit.checkpoint", res: resourceKey{service: journalServiceName}}

	records := []record{early, event, checkpoint}
	last := attributeToWriter(records, resourceKey{})
	if records[0].res.service != journalServiceName {
		t.Errorf("a checkpoint before any event: got %q", records[0].res.service)
	}
	if records[2].res != event.res {
		t.Errorf("a checkpoint after an event: got %+v, want %+v", records[2].res, event.res)
	}
	if last != event.res {
		t.Errorf("last writer: got %+v", last)
	}

	next := []record{checkpoint}
	attributeToWriter(next, last)
	if next[0].res != event.res {
		t.Errorf("a checkpoint in the next batch: got %+v", next[0].res)
	}
}

func TestDecodeSummaryAndCountFields(t *testing.T) {
	// A secret.accessed summary and an event of its own, as the Python library writes them:
	// count an integer, first_time and last_time strings or null.
	summary := []byte(`{"event":{"attempts":[],"cache_hit":true,"count":500,"degraded":false,` +
		`"duration_ms":null,"error.message":null,"error.type":null,"event":"secret.accessed",` +
		`"event_id":"e1","fingerprint":"hmac-sha256:aa","first_time":"2026-11-28T10:00:00.000001+00:00",` +
		`"host.name":"web-1","last_time":"2026-11-28T10:00:59.912345+00:00","locator":"vault:openai",` +
		`"outcome":"found","process.pid":42,"provider":"openai","seq":2,"service.name":"svc",` +
		`"source":"vault","source_request_id":null,"span_id":null,"stale":false,` +
		`"time":"2026-11-28T10:01:00.000210+00:00","trace_id":null,` +
		`"user":{"id":"alice","os_user":"svc"},"version":null},"hash":"h2","prev":"h1","seq":2}`)
	single := []byte(`{"event":{"count":1,"event":"secret.resolved","first_time":null,` +
		`"last_time":null,"outcome":"found","service.name":"svc","host.name":"web-1",` +
		`"time":"2026-11-28T10:00:00.000001+00:00"},"hash":"h1","prev":"p","seq":1}`)

	got := logsAsRaw(decodeAll(t, single, summary))

	require.Len(t, got, 1)
	records := got[0]["records"].([]map[string]any)
	assert.Equal(t, map[string]any{
		"count":        int64(1),
		"outcome":      "found",
		"service.name": "svc",
		"host.name":    "web-1",
		"time":         "2026-11-28T10:00:00.000001+00:00",
		"journal.seq":  int64(1),
		"journal.hash": "h1",
		"journal.prev": "p",
	}, records[0]["attributes"])
	assert.Equal(t, map[string]any{
		"time":            ts("2026-11-28T10:01:00.000210Z"),
		"event_name":      "secret.accessed",
		"body":            "secret.accessed",
		"severity_number": plog.SeverityNumberInfo,
		"severity_text":   "INFO",
		"trace_id":        "",
		"span_id":         "",
		"attributes": map[string]any{
			"attempts":     "[]",
			"cache_hit":    true,
			"count":        int64(500),
			"degraded":     false,
			"event_id":     "e1",
			"fingerprint":  "hmac-sha256:aa",
			"first_time":   "2026-11-28T10:00:00.000001+00:00",
			"host.name":    "web-1",
			"last_time":    "2026-11-28T10:00:59.912345+00:00",
			"locator":      "vault:openai",
			"outcome":      "found",
			"process.pid":  int64(42),
			"provider":     "openai",
			"seq":          int64(2),
			"service.name": "svc",
			"source":       "vault",
			"stale":        false,
			"time":         "2026-11-28T10:01:00.000210+00:00",
			"user.id":      "alice",
			"user.os_user": "svc",
			"journal.seq":  int64(2),
			"journal.hash": "h2",
			"journal.prev": "h1",
		},
	}, records[1])
}
