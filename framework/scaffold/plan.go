package scaffold

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Project is a Wings project on disk: the directory holding go.mod and
// its module path.
type Project struct {
	Dir    string
	Module string
}

// FindProject walks up from dir to the nearest go.mod and reads its module
// path. It refuses a directory tree without app/ (not a Wings project).
func FindProject(dir string) (Project, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Project{}, err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			mod := ModulePath(b)
			if mod == "" {
				return Project{}, fmt.Errorf("%s: no module line", filepath.Join(d, "go.mod"))
			}
			if st, err := os.Stat(filepath.Join(d, "app")); err != nil || !st.IsDir() {
				return Project{}, fmt.Errorf("%s is not a Wings project: no app/ beside go.mod", d)
			}
			return Project{Dir: d, Module: mod}, nil
		}
		if filepath.Dir(d) == d {
			return Project{}, fmt.Errorf("no go.mod in %s or above it", dir)
		}
	}
}

// ModulePath returns the module path declared in a go.mod file.
func ModulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Change is one file the generator writes: Old is nil for a new file.
type Change struct {
	Path     string // relative to the project, slash-separated
	Old, New []byte
	// Note says why nothing changed, or what was added.
	Note string
}

// Plan is every change of one command, computed before anything is
// written, so a refusal leaves the tree untouched.
type Plan struct {
	Project Project
	Changes []Change
}

// Create adds a new file to the plan. An existing file with other content
// is refused unless force; one with the same content is left alone.
func (p *Plan) Create(rel string, content []byte, force bool) error {
	old, err := os.ReadFile(filepath.Join(p.Project.Dir, filepath.FromSlash(rel)))
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.Changes = append(p.Changes, Change{Path: rel, New: content, Note: "created"})
		return nil
	case err != nil:
		return err
	case bytes.Equal(old, content):
		p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: content, Note: "unchanged: already generated"})
		return nil
	case !force:
		return fmt.Errorf("%s already exists (and differs from what would be generated); not overwriting it without --force", rel)
	}
	p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: content, Note: "overwritten (--force)"})
	return p.checkDecls(rel, content)
}

// Edit adds an edit of an existing file: fn returns the new content and
// whether it changed.
func (p *Plan) Edit(rel string, fn func(old []byte) ([]byte, bool, error), note, sameNote string) error {
	old, err := p.current(rel)
	if err != nil {
		return err
	}
	out, changed, err := fn(old)
	if err != nil {
		return err
	}
	if !changed {
		p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: old, Note: "unchanged: " + sameNote})
		return nil
	}
	p.Changes = append(p.Changes, Change{Path: rel, Old: old, New: out, Note: note})
	return nil
}

// current is the file's content, after earlier changes in the plan.
func (p *Plan) current(rel string) ([]byte, error) {
	for i := len(p.Changes) - 1; i >= 0; i-- {
		if p.Changes[i].Path == rel {
			return p.Changes[i].New, nil
		}
	}
	return os.ReadFile(filepath.Join(p.Project.Dir, filepath.FromSlash(rel)))
}

// CheckDecls refuses new files that declare a name their package already
// declares in another file (model.Album when model/video.go has it).
func (p *Plan) CheckDecls() error {
	for _, c := range p.Changes {
		if c.Old == nil && strings.HasSuffix(c.Path, ".go") {
			if err := p.checkDecls(c.Path, c.New); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Plan) checkDecls(rel string, content []byte) error {
	mine := topDecls(content)
	dir := filepath.Join(p.Project.Dir, filepath.FromSlash(filepath.Dir(rel)))
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		name := en.Name()
		if en.IsDir() || !strings.HasSuffix(name, ".go") || name == filepath.Base(rel) ||
			strings.HasSuffix(name, "_test.go") != strings.HasSuffix(rel, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		for _, d := range topDecls(b) {
			for _, m := range mine {
				if d == m {
					return fmt.Errorf("%s would declare %s, which %s/%s already declares: pick another name",
						rel, m, filepath.ToSlash(filepath.Dir(rel)), name)
				}
			}
		}
	}
	return nil
}

// topDecls lists a file's top-level names (methods as Type.Method).
func topDecls(src []byte) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	var names []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && len(d.Recv.List) == 1 {
				names = append(names, strings.TrimPrefix(typeString(d.Recv.List[0].Type), "*")+"."+d.Name.Name)
			} else if d.Name.Name != "init" {
				names = append(names, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names = append(names, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
	}
	return names
}

// Changed reports whether the plan writes anything.
func (p *Plan) Changed() bool {
	for _, c := range p.Changes {
		if !bytes.Equal(c.Old, c.New) || c.Old == nil {
			return true
		}
	}
	return false
}

// Apply writes the changed files.
func (p *Plan) Apply() error {
	for _, c := range p.Changes {
		if c.Old != nil && bytes.Equal(c.Old, c.New) {
			continue
		}
		path := filepath.Join(p.Project.Dir, filepath.FromSlash(c.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, c.New, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Report writes one line per file: what happened to it. With diff, the
// unified diff of every change follows (what --dry-run prints).
func (p *Plan) Report(w io.Writer, dryRun bool) {
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing is written; gen would do this:")
	}
	paths := make([]string, 0, len(p.Changes))
	byPath := map[string]Change{}
	for _, c := range p.Changes {
		if _, ok := byPath[c.Path]; !ok {
			paths = append(paths, c.Path)
			byPath[c.Path] = c
		} else { // a file changed twice: keep the first Old and the last New
			first := byPath[c.Path]
			first.New = c.New
			if !bytes.Equal(first.Old, c.New) {
				first.Note = c.Note
			}
			byPath[c.Path] = first
		}
	}
	for _, path := range paths {
		c := byPath[path]
		fmt.Fprintf(w, "%-36s %s\n", path, c.Note)
	}
	if !p.Changed() {
		fmt.Fprintln(w, "nothing to do: everything is already there")
	}
	if !dryRun {
		return
	}
	for _, path := range paths {
		c := byPath[path]
		if c.Old != nil && bytes.Equal(c.Old, c.New) {
			continue
		}
		fmt.Fprint(w, "\n"+UnifiedDiff(path, c.Old, c.New))
	}
}
