package ledger

import "time"

// Location is the deployment's time zone (Config.Location), for readers that
// show the ledger's times to people, like the public status page.
func (s *Service) Location() *time.Location { return s.cfg.Location }
