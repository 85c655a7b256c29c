package journalreceiver // import "github.com/abstractcore/abstractcore-secrets/instrumentation/collector/journalreceiver"

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

const (
	scopeName = "abstractcore_secrets.journal"

	// defaultServiceName is the resource's service.name of an event without one.
	defaultServiceName = "unknown_service"
	// journalServiceName is the resource's service.name of checkpoint and rotation records.
	journalServiceName = "abstractcore-secrets-journal"

	attrServiceName = "service.name"
	attrHostName    = "host.name"
	attrSeq         = "journal.seq"
	attrHash        = "journal.hash"
	attrPrev        = "journal.prev"
)

// field is one member of a JSON object, its value kept as the journal's raw bytes.
type field struct {
	key string
	raw json.RawMessage
}

// record is one decoded journal line: an audit event, or a journal record such as
// "audit.checkpoint" or "audit.rotated" (typ set).
type record struct {
	seq        int64
	hash, prev string
	typ        string
	// fields: the event's members (an event record) or the record's other top-level
	// members (a journal record), sorted by key.
	fields []field
	res    resourceKey
}

type resourceKey struct {
	service string
	host    string
	hasHost bool
}

var errNotJSON = errors.New("not a JSON object")

// decodeLine decodes one complete journal line (without its newline).
func decodeLine(line []byte) (record, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(line, &top); err != nil {
		// Not err itself: its message may quote the line.
		return record{}, errNotJSON
	}
	if top == nil {
		return record{}, errors.New("not a JSON object")
	}
	raw, ok := top["seq"]
	if !ok {
		return record{}, errors.New("no seq")
	}
	seq, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return record{}, errors.New("seq is not an integer")
	}
	rec := record{seq: seq, hash: jsonString(top["hash"]), prev: jsonString(top["prev"])}
	if event, ok := top["event"]; ok {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(event, &members); err != nil || members == nil {
			return record{}, errors.New("event is not a JSON object")
		}
		rec.fields = sortedFields(members)
		rec.res = resourceKey{service: jsonString(members[attrServiceName])}
		if rec.res.service == "" {
			rec.res.service = defaultServiceName
		}
		if host, ok := members[attrHostName]; ok && isString(host) {
			rec.res.host, rec.res.hasHost = jsonString(host), true
		}
		return rec, nil
	}
	rec.typ = jsonString(top["type"])
	if rec.typ == "" {
		return record{}, errors.New("neither an event nor a typed journal record")
	}
	for key := range top {
		switch key {
		case "seq", "hash", "prev", "type":
			delete(top, key)
		}
	}
	rec.fields = sortedFields(top)
	rec.res = resourceKey{service: journalServiceName}
	return rec, nil
}

// attributeToWriter gives journal records (checkpoints, rotations) the resource of the
// service whose events they seal: that of the last event before them, in this batch or in
// an earlier one (last); before any event they keep journalServiceName. Dashboards filter
// checkpoints by the writing service's job. It returns the last writer seen.
func attributeToWriter(records []record, last resourceKey) resourceKey {
	for i := range records {
		switch {
		case records[i].typ == "":
			last = records[i].res
		case last.service != "":
			records[i].res = last
		}
	}
	return last
}

// buildLogs returns records as plog, one ResourceLogs per (service.name, host.name).
func buildLogs(records []record, observed pcommon.Timestamp) plog.Logs {
	ld := plog.NewLogs()
	byResource := map[resourceKey]plog.LogRecordSlice{}
	for i := range records {
		rec := &records[i]
		logs, ok := byResource[rec.res]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(attrServiceName, rec.res.service)
			if rec.res.hasHost {
				rl.Resource().Attributes().PutStr(attrHostName, rec.res.host)
			}
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(scopeName)
			logs = sl.LogRecords()
			byResource[rec.res] = logs
		}
		lr := logs.AppendEmpty()
		lr.SetObservedTimestamp(observed)
		if rec.typ == "" {
			fillEvent(lr, rec)
		} else {
			fillJournalRecord(lr, rec)
		}
	}
	return ld
}

// fillEvent gives an audit event the shape the Python library sends over OTLP.
func fillEvent(lr plog.LogRecord, rec *record) {
	attrs := lr.Attributes()
	attrs.EnsureCapacity(len(rec.fields) + 6)
	var name, outcome string
	// Served while a source was down (an older value, or a lower source's) is a warning,
	// like a denial or a failure: the same rule as the library's audit sinks.
	standingIn := false
	for _, f := range rec.fields {
		switch f.key {
		case "event":
			name = jsonString(f.raw)
			continue
		case "outcome":
			outcome = jsonString(f.raw)
		case "stale", "degraded":
			standingIn = standingIn || string(f.raw) == "true"
		case "time":
			lr.SetTimestamp(parseTime(jsonString(f.raw)))
		case "trace_id":
			var id pcommon.TraceID
			if decodeID(jsonString(f.raw), id[:]) {
				lr.SetTraceID(id)
			}
		case "span_id":
			var id pcommon.SpanID
			if decodeID(jsonString(f.raw), id[:]) {
				lr.SetSpanID(id)
			}
		}
		putAttribute(attrs, f.key, f.raw)
	}
	lr.SetEventName(name)
	lr.Body().SetStr(name)
	if outcome == "denied" || outcome == "error" || standingIn {
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
	}
	putJournalAttributes(attrs, rec)
}

// fillJournalRecord describes a checkpoint or rotation record (no timestamp of its own).
func fillJournalRecord(lr plog.LogRecord, rec *record) {
	lr.SetEventName(rec.typ)
	lr.Body().SetStr(rec.typ)
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("INFO")
	attrs := lr.Attributes()
	putJournalAttributes(attrs, rec)
	for _, f := range rec.fields {
		putScalar(attrs, "journal."+f.key, f.raw)
	}
}

func putJournalAttributes(attrs pcommon.Map, rec *record) {
	attrs.PutInt(attrSeq, rec.seq)
	attrs.PutStr(attrHash, rec.hash)
	attrs.PutStr(attrPrev, rec.prev)
}

// putAttribute adds one event member: scalars as they are, an object flattened one
// level into "<key>.<member>", a list as its canonical JSON (the journal's bytes).
func putAttribute(attrs pcommon.Map, key string, raw json.RawMessage) {
	if len(raw) == 0 || raw[0] != '{' {
		putScalar(attrs, key, raw)
		return
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return // cannot happen: the whole line was valid JSON
	}
	for _, m := range sortedFields(members) {
		putScalar(attrs, key+"."+m.key, m.raw)
	}
}

// putScalar adds a JSON value: null is skipped, objects and lists become their raw JSON.
func putScalar(attrs pcommon.Map, key string, raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	switch raw[0] {
	case 'n':
		return
	case '"':
		attrs.PutStr(key, jsonString(raw))
	case 't', 'f':
		attrs.PutBool(key, raw[0] == 't')
	case '{', '[':
		attrs.PutStr(key, string(raw))
	default:
		if !bytes.ContainsAny(raw, ".eE") {
			if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
				attrs.PutInt(key, n)
				return
			}
		}
		// A fraction, an exponent, or an integer beyond int64.
		if x, err := strconv.ParseFloat(string(raw), 64); err == nil {
			attrs.PutDouble(key, x)
		}
	}
}

func sortedFields(members map[string]json.RawMessage) []field {
	fields := make([]field, 0, len(members))
	for key, raw := range members {
		fields = append(fields, field{key: key, raw: raw})
	}
	slices.SortFunc(fields, func(a, b field) int { return cmp.Compare(a.key, b.key) })
	return fields
}

func isString(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '"'
}

// jsonString returns raw as a string if it is a JSON string, else "".
func jsonString(raw json.RawMessage) string {
	if !isString(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// parseTime reads an RFC 3339 time (a time without offset is UTC), truncated to the
// microsecond as the Python library does; 0 when absent or unreadable.
func parseTime(s string) pcommon.Timestamp {
	if s == "" {
		return 0
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return pcommon.NewTimestampFromTime(t.Truncate(time.Microsecond))
		}
	}
	return 0
}

// decodeID fills id from hex of exactly its length; false if s is not that or all zero.
func decodeID(s string, id []byte) bool {
	if len(s) != 2*len(id) {
		return false
	}
	if _, err := hex.Decode(id, []byte(s)); err != nil {
		return false
	}
	return slices.ContainsFunc(id, func(b byte) bool { return b != 0 })
}
