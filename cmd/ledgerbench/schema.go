package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reportSchema is the JSON Schema of a report. CI validates the quick
// run's report with it (`ledgerbench validate`): the check fails on a
// malformed report (a stage or figure missing, a field of the wrong type,
// nothing measured), never on what the numbers are.
//
//go:embed report.schema.json
var reportSchema []byte

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(reportSchema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("report.schema.json")
})

// validateReport checks a report's JSON against the schema.
func validateReport(data []byte) error {
	schema, err := compiled()
	if err != nil {
		return fmt.Errorf("the report schema does not compile: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return schema.Validate(inst)
}

// validateCommand runs `ledgerbench validate FILE...`.
func validateCommand(files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return errors.New("usage: ledgerbench validate REPORT.json...")
	}
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			err = validateReport(data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		fmt.Fprintf(stdout, "%s: a well-formed %s report\n", f, SchemaID)
	}
	return errors.Join(errs...)
}
