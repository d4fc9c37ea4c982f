package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// upstreamBlock is the config of a new upstream: the keys config
// validation requires, with the same defaults as the example's upstreams.
const upstreamBlock = `%[1]s:%[2]s# added by wings gen; point base_url at the %[1]s team
  base_url: http://127.0.0.1:9090
  timeout: 800ms
  max_idle_conns: 256
  retries: 1
  retry_backoff: 20ms
  coalesce: true
  breaker:
    failure_ratio: 0.5
    min_requests: 20
    interval: 10s
    open_timeout: 5s
    half_open_requests: 3
`

// AddUpstream adds upstreams.<name> to a config file (conf/config.default.yaml)
// when it is not there. The file is parsed with yaml.v3 to find the
// upstreams mapping and where it ends; the block is inserted there as text
// with the mapping's indentation, so comments and layout stay as they are,
// and the result is parsed again to check that upstreams.<name> is now a
// mapping. It reports changed false when the upstream already exists.
func AddUpstream(src []byte, name string) (out []byte, changed bool, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, false, fmt.Errorf("config: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, errors.New("config: top level is not a mapping")
	}
	root := doc.Content[0]
	lines := strings.SplitAfter(string(src), "\n")
	if !strings.HasSuffix(string(src), "\n") && len(src) > 0 {
		lines[len(lines)-1] += "\n"
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "upstreams" {
			continue
		}
		ups := root.Content[i+1]
		if ups.Kind == yaml.ScalarNode && (ups.Tag == "!!null" || ups.Value == "") {
			// "upstreams:" with nothing under it: put the block under it.
			at := root.Content[i].Line // 1-based: insert after the key's line
			block := indent(fmt.Sprintf(upstreamBlock, name, " "), "  ")
			return finish(lines, at, block, name)
		}
		if ups.Kind != yaml.MappingNode || ups.Style == yaml.FlowStyle {
			return nil, false, errors.New("config: upstreams is not a block mapping")
		}
		for j := 0; j+1 < len(ups.Content); j += 2 {
			if ups.Content[j].Value == name {
				return src, false, nil
			}
		}
		col := 3
		if len(ups.Content) > 0 {
			col = ups.Content[0].Column
		}
		// The mapping ends before the next top-level key, less the blank
		// lines and comments that lead into it.
		end := len(lines)
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
			for end > 0 {
				l := strings.TrimSpace(lines[end-1])
				if l != "" && !(strings.HasPrefix(l, "#") && !strings.HasPrefix(lines[end-1], " ")) {
					break
				}
				end--
			}
		}
		block := indent(fmt.Sprintf(upstreamBlock, name, " "), strings.Repeat(" ", col-1))
		return finish(lines, end, block, name)
	}
	// No upstreams section: append one.
	block := "\nupstreams:\n" + indent(fmt.Sprintf(upstreamBlock, name, " "), "  ")
	return finish(lines, len(lines), block, name)
}

func indent(s, by string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(by + l)
		}
	}
	return b.String()
}

// finish inserts block after line at (1-based; 0 is the start) and checks
// that upstreams.<name> parses as a mapping.
func finish(lines []string, at int, block, name string) ([]byte, bool, error) {
	var b bytes.Buffer
	for _, l := range lines[:at] {
		b.WriteString(l)
	}
	b.WriteString(block)
	for _, l := range lines[at:] {
		b.WriteString(l)
	}
	var check struct {
		Upstreams map[string]map[string]any `yaml:"upstreams"`
	}
	if err := yaml.Unmarshal(b.Bytes(), &check); err != nil {
		return nil, false, fmt.Errorf("config: the edit would break the file: %w", err)
	}
	if _, ok := check.Upstreams[name]["base_url"]; !ok {
		return nil, false, fmt.Errorf("config: the edit did not add upstreams.%s", name)
	}
	return b.Bytes(), true, nil
}
