// Parsing an instance's JSON configuration into the plugin's own type.

package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseConfig parses the configuration passed to Open into v (a pointer to
// a struct with json tags). An empty string counts as `{}`; unknown fields,
// wrong types and trailing data are InvalidConfig errors naming the field
// or position, so the operator can fix them.
func ParseConfig(config string, v any) error {
	if strings.TrimSpace(config) == "" {
		config = "{}"
	}
	dec := json.NewDecoder(strings.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Kind: InvalidConfig, Message: describeJSONError(config, err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Kind: InvalidConfig, Message: fmt.Sprintf(
			"unexpected data after the JSON object at byte %d: the configuration must be one JSON object",
			dec.InputOffset())}
	}
	return nil
}

func describeJSONError(config string, err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line := 1 + bytes.Count([]byte(config[:min(int(syntax.Offset), len(config))]), []byte("\n"))
		return fmt.Sprintf("not valid JSON at byte %d (line %d): %v", syntax.Offset, line, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the configuration"
		} else {
			field = "field `" + field + "`"
		}
		return fmt.Sprintf("%s must be %s, not JSON %s", field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early: the configuration must be one complete JSON object"
	default:
		// encoding/json says `json: unknown field "x"`.
		return strings.TrimPrefix(err.Error(), "json: ")
	}
}
