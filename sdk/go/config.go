// Parsing an instance's JSON configuration into the plugin's own type.

package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxConfigBytes is the largest configuration ParseConfig accepts (1 MiB).
const MaxConfigBytes = 1 << 20

// maxConfigDepth is how deeply objects and arrays may nest in a
// configuration.
const maxConfigDepth = 64

// ParseConfig parses the configuration passed to Open into v (a pointer to
// a struct with json tags). An empty string counts as `{}`. Everything
// else is an InvalidConfig error saying how to fix it: a configuration over
// [MaxConfigBytes], text that is not JSON (naming the line and column), a
// value that is not one JSON object, a key given twice, an unknown key
// (naming the known ones), a value of the wrong type (naming the field).
func ParseConfig(config string, v any) error {
	if len(config) > MaxConfigBytes {
		return Errorf(InvalidConfig,
			"the config is %d bytes, over the limit of 1 MiB (%d bytes): make it smaller",
			len(config), MaxConfigBytes)
	}
	if strings.TrimSpace(config) == "" {
		config = "{}"
	}
	if err := checkConfigSyntax(config); err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Kind: InvalidConfig, Message: describeDecodeError(err, v)}
	}
	return nil
}

// frame is one open object or array while checking the syntax.
type frame struct {
	object  bool
	wantKey bool
	keys    map[string]bool
}

// checkConfigSyntax checks that config is one JSON object with no key
// repeated within an object and at most maxConfigDepth levels deep.
func checkConfigSyntax(config string) error {
	if !utf8.ValidString(config) {
		bad := 0
		for bad < len(config) {
			r, size := utf8.DecodeRuneInString(config[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		return notJSON(config, bad, "the text is not UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(config))
	var stack []*frame
	// valueDone marks the enclosing object as waiting for its next key.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for first := true; ; first = false {
		start := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(config, start, err)
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return Errorf(InvalidConfig,
					"the config must be a JSON object ({\"setting\": value, …}), not %s", jsonKind(tok))
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) == maxConfigDepth {
					return notJSON(config, start, fmt.Sprintf("nested deeper than %d levels", maxConfigDepth))
				}
				if n := len(stack); n > 0 && stack[n-1].object {
					stack[n-1].wantKey = false
				}
				stack = append(stack, &frame{object: t == '{', wantKey: t == '{', keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			top := stack[len(stack)-1]
			if top.object && top.wantKey {
				if top.keys[t] {
					line, col := position(config, start+len(config[start:])-len(strings.TrimLeft(config[start:], " \t\r\n,")))
					return Errorf(InvalidConfig,
						"key %q appears twice in one object at line %d column %d: give each setting once",
						shorten(t), line, col)
				}
				top.keys[t] = true
				top.wantKey = false
			} else {
				valueDone()
			}
		default:
			valueDone()
		}
		if len(stack) == 0 {
			break
		}
	}
	// One object, then only white space.
	end := int(dec.InputOffset())
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		rest := end + len(config[end:]) - len(strings.TrimLeft(config[end:], " \t\r\n"))
		return notJSON(config, rest, "text after the object")
	}
	return nil
}

// syntaxError describes an error of json.Decoder.Token on config, where the
// token began at byte start.
func syntaxError(config string, start int, err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		// Offset is just past the offending byte.
		return notJSON(config, max(int(syntax.Offset)-1, 0), syntax.Error())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return notJSON(config, len(config), "it ends early (an object or array is not closed)")
	default:
		return notJSON(config, start, err.Error())
	}
}

// notJSON is the InvalidConfig error for text that is not JSON, at byte
// offset at of config.
func notJSON(config string, at int, what string) error {
	line, col := position(config, at)
	return Errorf(InvalidConfig, "config is not valid JSON: %s at line %d column %d", shorten(what), line, col)
}

// position is the 1-based line and column (in characters) of byte offset
// at in s.
func position(s string, at int) (line, col int) {
	at = min(max(at, 0), len(s))
	before := s[:at]
	line = 1 + strings.Count(before, "\n")
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCountInString(before[lineStart:])
}

// jsonKind names what a first token starts.
func jsonKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		_ = t
		return "a number"
	}
}

// describeDecodeError explains an error of decoding valid JSON into v.
func describeDecodeError(err error, v any) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := "the configuration"
		if typ.Field != "" {
			field = "field `" + typ.Field + "`"
		}
		return fmt.Sprintf("%s must be %s, not JSON %s", field, typ.Type, typ.Value)
	}
	// encoding/json says `json: unknown field "x"`.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		msg = shorten(msg)
		if known := knownKeys(v); known != "" {
			msg += "; the settings are " + known
		}
	}
	return msg
}

// knownKeys lists the JSON keys of the struct v points to.
func knownKeys(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys = append(keys, name)
	}
	return strings.Join(keys, ", ")
}
