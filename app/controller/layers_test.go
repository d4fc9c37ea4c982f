package controller

import (
	"os/exec"
	"strings"
	"testing"
)

// TestControllerImportsNoDao: controllers reach storage only through the
// services, which declare what they need in model types.
func TestControllerImportsNoDao(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || !containsSuffix(deps, "/app/service") {
		t.Fatalf("go list -deps listed %d packages without app/service: not the controller's deps", len(deps))
	}
	for _, p := range deps {
		if strings.HasSuffix(p, "/app/dao") || strings.Contains(p, "/app/dao/") {
			t.Errorf("app/controller depends on %s", p)
		}
	}
}

func containsSuffix(xs []string, suffix string) bool {
	for _, x := range xs {
		if strings.HasSuffix(x, suffix) {
			return true
		}
	}
	return false
}
