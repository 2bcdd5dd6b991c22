package events_test

import (
	"os"
	"testing"

	"github.com/folioledger/folio/schema/schematest"
)

func TestMain(m *testing.M) { os.Exit(schematest.Main(m)) }
