package api

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
	"gopkg.in/yaml.v3"

	"github.com/rmaledger/rmaledger/domain"
)

// TestOpenAPIMatchesRoutes checks the served OpenAPI document against the
// routes the server registers, both ways, and that it lists every action.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}

	e := newTestServer(t).echo
	param := regexp.MustCompile(`:([a-z_]+)`)
	registered := map[string]bool{}
	for _, r := range e.Router().Routes() {
		if r.Method == http.MethodOptions || r.Method == echo.RouteNotFound {
			continue
		}
		registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for route := range registered {
		if !documented[route] {
			t.Errorf("route %s is served but not in openapi.yaml", route)
		}
	}
	for route := range documented {
		if !registered[route] {
			t.Errorf("openapi.yaml documents %s, which is not served", route)
		}
	}

	// Every reference points at a defined component.
	var raw map[string]any
	if err := yaml.Unmarshal(openAPIDocument, &raw); err != nil {
		t.Fatal(err)
	}
	components := raw["components"].(map[string]any)
	for _, ref := range regexp.MustCompile(`\$ref: "#/components/([a-zA-Z]+)/([a-zA-Z]+)"`).FindAllStringSubmatch(string(openAPIDocument), -1) {
		section, _ := components[ref[1]].(map[string]any)
		if _, ok := section[ref[2]]; !ok {
			t.Errorf("dangling reference %s", ref[0])
		}
	}

	// The action path's enum must list exactly the domain's actions.
	var actions struct {
		Components struct {
			Parameters struct {
				Action struct {
					Schema struct {
						Enum []string `yaml:"enum"`
					} `yaml:"schema"`
				} `yaml:"Action"`
			} `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &actions); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, a := range domain.Actions() {
		want = append(want, string(a))
	}
	got := actions.Components.Parameters.Action.Schema.Enum
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("openapi action enum = %v, want %v", got, want)
	}
}
