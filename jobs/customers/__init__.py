"""Customer integration (issue #5): loyalty, CRM and marketing consents -> one standardised,
deduplicated customer base with history. Landed so far: the standardisation of each source's
values (`standardise`); the job itself (`run`) is not there yet, so `retailmax run customers`
still answers that it is not implemented."""
