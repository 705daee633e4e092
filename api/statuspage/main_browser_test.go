package statuspage_test

import (
	"os"
	"testing"

	"github.com/rmaledger/rmaledger/internal/browsertest"
)

// TestMain ends the Chromium that the browser tests share (browsertest.New) after the tests.
func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }
