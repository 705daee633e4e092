package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/rmaledger/rmaledger/eventstore/kurrentdb"
)

// repoRoot is where docker-compose.yml, the Dockerfile and go.mod live.
const repoRoot = "../.."

// TestComposeFile loads docker-compose.yml with compose-go, the loader the
// docker compose CLI itself uses (schema validation, interpolation,
// references between services and volumes): the equivalent of `docker
// compose config` on a machine with no Docker engine. Then it checks the
// wiring the README promises.
func TestComposeFile(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("rmaledger"))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}

	db, err := project.GetService("kurrentdb")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(db.Image, "kurrentdb:") {
		t.Errorf("kurrentdb image = %q, want the official kurrentdb image with a pinned tag", db.Image)
	}
	if v := db.Environment["KURRENTDB_INSECURE"]; v == nil || *v != "true" {
		t.Errorf("KURRENTDB_INSECURE = %v, want true (local use)", v)
	}
	if db.HealthCheck == nil || len(db.HealthCheck.Test) == 0 {
		t.Error("kurrentdb has no health check: the service would start before the database answers")
	}
	if !mountsVolume(db, "/var/lib/kurrentdb") {
		t.Error("kurrentdb data is not on a named volume: `docker compose down` would keep it, a recreate would lose it")
	}

	svc, err := project.GetService("rmaledger")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Build == nil || svc.Build.Dockerfile != "Dockerfile" {
		t.Errorf("rmaledger build = %+v, want the repository's Dockerfile", svc.Build)
	}
	url := svc.Environment["RMALEDGER_EVENTSTORE_URL"]
	if url == nil || !kurrentdb.Accepts(*url) || !strings.Contains(*url, "kurrentdb:2113") {
		t.Errorf("RMALEDGER_EVENTSTORE_URL = %v, want a kurrentdb:// URL naming the kurrentdb service", url)
	}
	if dep, ok := svc.DependsOn["kurrentdb"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("rmaledger depends_on kurrentdb = %+v, want condition service_healthy", dep)
	}
	if !mountsVolume(svc, "/var/lib/rmaledger") {
		t.Error("the service's data directory (read models, keys) is not on a named volume")
	}
	if !slices.ContainsFunc(svc.Ports, func(p types.ServicePortConfig) bool { return p.Target == 8080 }) {
		t.Error("the API port 8080 is not published")
	}
}

func mountsVolume(s types.ServiceConfig, target string) bool {
	return slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Target == target
	})
}

// TestDockerfile parses the Dockerfile with BuildKit's own parser (what
// `docker build` runs first) and checks what the image promises: a static
// binary built with the Go version of go.mod, on a runtime stage that does
// not run as root.
func TestDockerfile(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build (build, then a small runtime image)", len(stages))
	}

	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	build := stages[0]
	if want := "golang:" + string(m[1]); !strings.HasPrefix(build.BaseName, want) {
		t.Errorf("build stage FROM %s, want %s (go.mod's version)", build.BaseName, want)
	}
	var static bool
	for _, cmd := range build.Commands {
		if run, ok := cmd.(*instructions.RunCommand); ok && strings.Contains(strings.Join(run.CmdLine, " "), "CGO_ENABLED=0 go build") {
			static = true
		}
	}
	if !static {
		t.Error("the build stage does not build with CGO_ENABLED=0: the binary would need a libc the runtime image lacks")
	}

	final := stages[len(stages)-1]
	var user string
	var entrypoint []string
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entrypoint = c.CmdLine
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0:") || user == "0" {
		t.Errorf("runtime stage USER = %q, want a non-root user", user)
	}
	if len(entrypoint) == 0 || entrypoint[0] != "rmaledger" {
		t.Errorf("ENTRYPOINT = %v, want rmaledger", entrypoint)
	}
}
