package projections

// The events each model's cached values have folded: what they weigh in
// their cache's bound (see cacheEventsPerClaim).

func (e *claimEntry) eventsFolded() int  { return int(e.next) }
func (e *statusEntry) eventsFolded() int { return int(e.next) }
func (e *timerEntry) eventsFolded() int  { return int(e.next) }
func (e *compEntry) eventsFolded() int   { return int(e.next) }
