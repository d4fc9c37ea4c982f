package jsonscan

// Valid reports whether b is one valid JSON value (RFC 8259, as
// encoding/json.Valid judges it: invalid UTF-8 inside strings is
// accepted, as encoding/json accepts and replaces it). It is a plain loop
// with an explicit stack instead of encoding/json's state-machine
// callbacks: every upstream answer is validated once before it is
// decoded, so this runs on every call (the fuzz test compares it with
// encoding/json.Valid; BenchmarkValid compares their speed).
func Valid(b []byte) bool {
	var stack []byte // '{' or '[' per open container
	var buf [32]byte
	stack = buf[:0]
	i := SkipWS(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{':
			i = SkipWS(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			stack = append(stack, '{')
			var ok bool
			if i, ok = member(b, i); !ok {
				return false
			}
			continue
		case '[':
			i = SkipWS(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			stack = append(stack, '[')
			continue
		case '"':
			var ok bool
			if i, ok = validString(b, i); !ok {
				return false
			}
		case 't':
			if !hasLiteral(b, i, "true") {
				return false
			}
			i += 4
		case 'f':
			if !hasLiteral(b, i, "false") {
				return false
			}
			i += 5
		case 'n':
			if !hasLiteral(b, i, "null") {
				return false
			}
			i += 4
		default:
			var ok bool
			if i, ok = validNumber(b, i); !ok {
				return false
			}
		}
		// After a value: close containers or move to the next element.
		for {
			i = SkipWS(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				i = SkipWS(b, i+1)
				if top == '{' {
					var ok bool
					if i, ok = member(b, i); !ok {
						return false
					}
				}
				break
			}
			if top == '{' && b[i] == '}' || top == '[' && b[i] == ']' {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			return false
		}
	}
}

// member checks `"key" :` at b[i] and returns the index of the value.
func member(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, ok := validString(b, i)
	if !ok {
		return 0, false
	}
	i = SkipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return SkipWS(b, i+1), true
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// validString checks the string starting at b[i] == '"' and returns the
// index after it.
func validString(b []byte, i int) (int, bool) {
	for j := i + 1; ; j++ {
		for j < len(b) && plainByte[b[j]] {
			j++
		}
		if j >= len(b) {
			return 0, false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return 0, false
		}
		// A backslash.
		j++
		if j >= len(b) {
			return 0, false
		}
		switch b[j] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if len(b)-j < 5 {
				return 0, false
			}
			for _, h := range b[j+1 : j+5] {
				if !isHex(h) {
					return 0, false
				}
			}
			j += 4
		default:
			return 0, false
		}
	}
}

// plainByte marks the bytes a string holds as they are: all but the quote,
// the backslash and control characters (encoding/json accepts any bytes
// >= 0x80). A lookup table, set once, keeps validString's inner loop to
// one load and one test per byte.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validNumber checks the number starting at b[i] and returns the index
// after it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
