// Command configdoc writes docs/configuration-reference.md from the example
// app's configuration: the framework's sections and the app's own
// (app.Config). Run it from the repository root:
//
//	go run ./cmd/configdoc     # or: make docs
//
// Its test fails while the checked-in reference differs from what it would
// write.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wings-bff/wings/framework/config/configdoc"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	b, err := generate(*root)
	if err == nil {
		err = os.WriteFile(filepath.Join(*root, configdoc.Output), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}
