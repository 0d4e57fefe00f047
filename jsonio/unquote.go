package jsonio

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Unquote decodes a JSON string literal (with its quotes) as encoding/json
// does: escapes resolved, unpaired surrogates and invalid UTF-8 replaced by
// U+FFFD. It is strict about syntax; it is fast when there is nothing to
// unescape.
func Unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	body := raw[1 : len(raw)-1]
	simple := true
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return string(body), nil
	}
	// A strings.Builder: its String does not copy the result again.
	var out strings.Builder
	out.Grow(len(body))
	for i := 0; i < len(body); {
		c := body[i]
		// Copy a run of plain ASCII at once (a PEM has an escaped newline
		// every 65 bytes).
		j := i
		for j < len(body) && body[j] != '\\' && body[j] != '"' && body[j] >= 0x20 && body[j] < utf8.RuneSelf {
			j++
		}
		if j > i {
			out.Write(body[i:j])
			i = j
			continue
		}
		switch {
		case c == '"' || c < 0x20:
			return "", errors.New("invalid character in JSON string")
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(body[i:])
			out.WriteRune(r) // RuneError for invalid bytes
			i += n
		default:
			if i+1 >= len(body) {
				return "", errors.New("unterminated escape")
			}
			e := body[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out.WriteByte(e)
			case 'b':
				out.WriteByte('\b')
			case 'f':
				out.WriteByte('\f')
			case 'n':
				out.WriteByte('\n')
			case 'r':
				out.WriteByte('\r')
			case 't':
				out.WriteByte('\t')
			case 'u':
				r, ok := hex4(body, i)
				if !ok {
					return "", errors.New("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(body, i+2); ok && i+1 < len(body) && body[i] == '\\' && body[i+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							out.WriteRune(d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out.WriteRune(r)
			default:
				return "", errors.New("invalid escape")
			}
		}
	}
	return out.String(), nil
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	return rune(n), err == nil
}
