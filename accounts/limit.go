package accounts

import (
	"time"

	"github.com/rmaledger/rmaledger/internal/ratelimit"
)

// Limit bounds failed sign-ins for one key (an account name or a client
// address): Burst failures at once, then one more every Every. A negative
// Burst turns the limit off. The counts are ratelimit.Keyed buckets.
type Limit = ratelimit.Limit

// Default limits: an account takes 5 wrong passwords, then one every
// minute; an address (an office behind one NAT) 20, then one every 6
// seconds.
var (
	DefaultAccountLimit = Limit{Burst: 5, Every: time.Minute}
	DefaultAddressLimit = Limit{Burst: 20, Every: 6 * time.Second}
)
